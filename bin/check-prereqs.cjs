#!/usr/bin/env node
// Runs before `npm start` and `npm test` (npm's prestart/pretest): says in one line what is missing
// and exits non-zero before anything starts. Plain CommonJS, so even an old Node can say it is too old.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const purpose = process.argv[2] || 'start';
const problems = [];

const major = Number(process.versions.node.split('.')[0]);
if (major < 20) problems.push(`Node ${process.versions.node} is too old: Node 20 or newer is needed (https://nodejs.org)`);

const onPath = (cmd) =>
  (process.env.PATH || '')
    .split(path.delimiter)
    .filter(Boolean)
    .some((dir) => {
      try {
        fs.accessSync(path.join(dir, cmd), fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });

// Tests and the demo start their own Redis unless REDIS_URL points at one.
if (!process.env.REDIS_URL && !onPath('redis-server'))
  problems.push('redis-server is not on PATH: install it with `sudo apt-get install redis-server` (or set REDIS_URL to a running server)');
if (purpose === 'test' && !process.env.CHROMIUM_PATH && !fs.existsSync('/usr/bin/chromium') && !onPath('chromium'))
  problems.push(
    'chromium is missing (report tests render HTML in it): install it with `sudo apt-get install chromium` (or set CHROMIUM_PATH)',
  );
if (!fs.existsSync(path.join(__dirname, '..', 'node_modules', '.package-lock.json')))
  problems.push('dependencies are not installed: run `npm ci` first');

if (problems.length > 0) {
  for (const p of problems) console.error(`Missing prerequisite: ${p}`);
  process.exit(1);
}
