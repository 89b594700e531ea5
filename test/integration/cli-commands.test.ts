/**
 * Every CLI command as an operator runs it: a child process (`tsx bin/cli.ts <command>`) from a
 * scratch folder, against real services (PostgreSQL 17, redis-server, s3rver), in its default
 * human mode and with `--json`; each asserts the exit code (0 ok, 1 failure, 2 bad usage) and the
 * first line of output. The test that would have caught `npm run backfill` overflowing its stack
 * (issue 22, defect 1); the failures of defect 6 that need a service are here too.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { buildProgram } from '../../bin/cli';
import { HOUR_MS, putWithAge, seedValue } from '../../local/fixtures';
import { freePort, type Running, startRedis, startS3 } from '../../local/services';
import { buildFixture, insertFixture } from '../support/analytics-fixture';
import { cutProxy } from '../support/cut-proxy';
import { type TestDb, testDb } from '../support/db';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const CLI = join(ROOT, 'bin', 'cli.ts');
/** The operator's folder: the commands' default files (.local/run-ledger.json, …) land here. */
const cwd = mkdtempSync(join(tmpdir(), 'dlc-cli-'));

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const L1 = '00000000-0000-4000-8000-000000000001';
const L2 = '00000000-0000-4000-8000-000000000002';

describe('every CLI command, as an operator runs it, against real services', () => {
  let db: TestDb;
  let redis: Running;
  let s3: Running;
  let env: NodeJS.ProcessEnv;
  const seen = new Set<string>();

  /** `dlc <args>` in a child process; resolves when it exits (a command that never exits fails the test by timeout). */
  function dlc(args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
    seen.add(args[0] as string);
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [TSX, CLI, ...args], { cwd, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });
  }
  const first = (text: string) => text.split('\n')[0] ?? '';
  /** Human mode: the exit code and the first line on stdout. */
  const human = (r: Run, code: number, line: string | RegExp) => {
    expect({ code: r.code, first: first(r.stdout), stderr: r.code === code ? '' : r.stderr }).toEqual({
      code,
      first: typeof line === 'string' ? line : expect.stringMatching(line),
      stderr: '',
    });
  };
  /** `--json`: exit 0 and nothing but one JSON document on stdout. */
  const json = (r: Run): unknown => {
    expect({ code: r.code, first: first(r.stdout)[0], stderr: r.code === 0 ? '' : r.stderr }).toEqual({
      code: 0,
      first: expect.stringMatching(/^[[{]$/),
      stderr: '',
    });
    return JSON.parse(r.stdout);
  };
  /** Bad usage or a failure: the exit code and the first line on stderr, and nothing on stdout. */
  const refused = (r: Run, code: number, line: string | RegExp) => {
    expect({ code: r.code, first: first(r.stderr), stdout: r.stdout }).toEqual({
      code,
      first: typeof line === 'string' ? line : expect.stringMatching(line),
      stdout: '',
    });
    expect(r.stderr).not.toMatch(/^\s+at |\[ioredis\]|in statement/m);
  };

  beforeAll(async () => {
    db = await testDb('pg', { migrate: false });
    redis = await startRedis({ forceLocal: true });
    s3 = await startS3(['cold']);
    env = {
      ...process.env,
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      COLD_BUCKET: 'cold',
      S3_ENDPOINT: s3.url,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json'),
      NODE_NO_WARNINGS: '1',
    };
    delete env.ENV_NAME;
  });
  afterAll(async () => {
    await db?.close();
    await redis?.stop();
    await s3?.stop();
  });

  it('migrate', async () => {
    human(await dlc(['migrate']), 0, 'applied 001_core.sql');
    expect(json(await dlc(['migrate', '--json']))).toMatchObject({ applied: [] });
    // the rest of the suite's data
    await db.direct.execute(`INSERT INTO leads (id, customer_id, channel, stage, created_at) VALUES
      ('${L1}', 'cust-1', 'web', 'new', '2025-01-01T10:00:00Z'), ('${L2}', 'cust-2', 'web', 'new', '2025-01-02T10:00:00Z')`);
    await db.direct.execute(`INSERT INTO audits (id, lead_id, actor, action, payload, created_at) VALUES
      ('aaaaaaaa-0000-4000-8000-000000000001', '${L1}', 'customer', 'message_received', '{"text":"Hola, quiero una cita para mañana"}', '2025-01-01T10:01:00Z'),
      ('aaaaaaaa-0000-4000-8000-000000000002', '${L1}', 'agent', 'message_sent', '{"message":"Claro, ¿a qué hora?"}', '2025-01-01T10:02:00Z'),
      ('aaaaaaaa-0000-4000-8000-000000000003', '${L2}', 'customer', 'message_received', '{"text":"-spam is a word here"}', '2025-01-02T10:01:00Z')`);
    await insertFixture(
      db.direct,
      buildFixture('hotel-1', {
        hourFrom: '2025-03-24',
        hourTo: '2025-04-01',
        dayFrom: '2025-03-17',
        dayTo: '2025-04-07',
        timeZone: 'Europe/Madrid',
      }),
    );
  });

  it('archive', async () => {
    const client = new Redis(redis.url);
    try {
      for (const i of [1, 2]) {
        const ts = Math.floor((Date.now() - 23.5 * HOUR_MS) / 1000);
        await putWithAge(
          client,
          `langgraph:checkpoint:cli-${i}:${ts}`,
          seedValue({
            conversationId: `cli-${i}`,
            customerId: `cust-${i}`,
            messages: [{ role: 'user', content: 'hola', timestamp: ts }],
            ts,
          }),
          23.5 * HOUR_MS,
        );
      }
    } finally {
      client.disconnect();
    }
    // batches of one: "Found N expired" is still said once per run; the log, then a summary in words (was: a JSON document)
    const r = await dlc(['archive', '--batch-size', '1']);
    human(r, 0, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d INFO {2}Starting conversation archival run at /);
    expect(r.stdout.match(/Found \d+ expired checkpoints to archive/g)).toEqual(['Found 2 expired checkpoints to archive']);
    expect(r.stdout).toMatch(/^Archived 2 of 2 expired checkpoints: 2 messages written, 0 updated \(run healthy, [\d.]+ s, 0 errors\)\.$/m);
    expect(r.stdout).not.toContain('{');
    expect(json(await dlc(['archive', '--json']))).toMatchObject({ status: 'healthy' });
  });

  it('archive with PostgreSQL gone mid-run: one line saying so, exit 1, recorded as failed (was: 5 s of retries, two errors per conversation, "Completed")', async () => {
    const client = new Redis(redis.url);
    const keys = [1, 2, 3].map((i) => `langgraph:checkpoint:cli-down-${i}:1`);
    try {
      for (const [i, key] of keys.entries())
        await putWithAge(
          client,
          key,
          seedValue({
            conversationId: `cli-down-${i}`,
            messages: [{ role: 'user', content: 'hola' }],
            ts: Math.floor(Date.now() / 1000) - 84_600,
          }),
          23.5 * HOUR_MS,
        );
      for (const mode of [[], ['--json']]) {
        // the database answers the CLI's first check, and goes away at the first transaction (the first batch's write)
        const proxy = await cutProxy(db.url);
        const ledgerFile = join(cwd, `.local/down-ledger${mode.join('')}.json`);
        const healthFile = join(cwd, `.local/down-health${mode.join('')}.json`);
        const started = Date.now();
        const r = await dlc(['archive', '--batch-size', '1', '--ledger-file', ledgerFile, '--health-file', healthFile, ...mode], {
          DATABASE_URL: proxy.url,
        });
        await proxy.close();
        expect(proxy.cut).toBe(true);
        expect(r.code).toBe(1);
        expect(Date.now() - started).toBeLessThan(5_000 + 10_000); // no 5 s retry (a CLI start is a few seconds here)
        // human mode: stderr is that one line; --json: the log (all on stderr) has that one ERROR line and no WARN
        const said = r.stderr
          .trim()
          .split('\n')
          .filter((l) => !mode.length || / (ERROR|WARN) /.test(l));
        expect(said).toEqual([
          expect.stringMatching(
            /^\S+ ERROR archive run failed: Database unreachable \(.+\): the run stopped at once \(0 checkpoint\(s\) archived before\); the unarchived checkpoints stay in Redis for the next run$/,
          ),
        ]);
        expect(r.stdout).not.toMatch(/Completed|Archived|Failed to archive|Could not quarantine/);
        if (mode.length)
          expect(JSON.parse(r.stdout)).toMatchObject({
            status: 'unhealthy',
            errors: 1,
            error: expect.stringMatching(/^Database unreachable/),
          });
        const ledger = JSON.parse(readFileSync(ledgerFile, 'utf8'));
        expect(JSON.stringify(ledger)).toMatch(/"status":"unhealthy"/);
        expect(JSON.parse(readFileSync(healthFile, 'utf8'))).toMatchObject({ status: 'unhealthy', errors: 1, work_remaining: true });
      }
      expect((await client.keys('langgraph:checkpoint:cli-down-*')).sort()).toEqual(keys);
    } finally {
      await client.del(...keys);
      client.disconnect();
    }
  });

  it('archive with Redis unreachable: one line naming REDIS_URL, exit 1 (was: ioredis stack traces)', async () => {
    const r = await dlc(['archive'], { REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    refused(r, 1, /^Cannot reach Redis at REDIS_URL \(127\.0\.0\.1:\d+\): connect ECONNREFUSED/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('backfill: dry run, apply and rollback in human mode (was: Maximum call stack size exceeded) and with --json', async () => {
    const banner = '🚀 Backfill of conversations and messages from the audit log';
    for (const mode of [['--dry-run'], [], ['--rollback'], []]) {
      const r = await dlc(['backfill', ...mode]);
      human(r, 0, banner);
      expect(r.stdout).toMatch(/(DRY RUN|ROLLBACK|BACKFILL) COMPLETE/);
    }
    expect(json(await dlc(['backfill', '--dry-run', '--json']))).toMatchObject({ mode: 'dry-run', totals: { errors: 0 } });
    expect(json(await dlc(['backfill', '--json']))).toMatchObject({ mode: 'apply', totals: { messagesSkipped: 3 } });
  });

  it('backfill --lead of a lead that does not exist: said, exit 2 (was: exit 0 silently)', async () => {
    refused(
      await dlc(['backfill', '--lead', '0b6f3c1e-5d2a-4c1b-9e8f-1a2b3c4d5e6f']),
      2,
      '--lead 0b6f3c1e-5d2a-4c1b-9e8f-1a2b3c4d5e6f: no such lead in the database (leads.id)',
    );
    human(await dlc(['backfill', '--lead', L1, '--dry-run']), 0, '🚀 Backfill of conversations and messages from the audit log');
  });

  it('search, including a text that starts with "-" (after --, or as --query)', async () => {
    human(await dlc(['search', 'cita']), 0, /^1 result\(s\) in [\d.]+ ms$/);
    expect(json(await dlc(['search', 'cita', '--json']))).toEqual([expect.objectContaining({ role: 'user' })]);
    human(await dlc(['search', '--', '-spam', 'word']), 0, /^0 result\(s\) in /);
    human(await dlc(['search', '--query', '-spam word']), 0, /^0 result\(s\) in /);
    refused(await dlc(['search', '-spam']), 2, "error: unknown option '-spam'");
  });

  it('ingest and aggregate', async () => {
    const file = join(cwd, 'events.jsonl');
    const line = (id: string, ts: string) =>
      `{"id":"${id}","eventType":"message.received","timestamp":"${ts}","propertyId":"hotel-2","channel":"sms"}`;
    writeFileSync(file, [line('e1', '2025-10-26T00:30:00Z'), line('e2', '2025-10-26T01:30:00Z'), '{"id":"bad"}'].join('\n'));
    const now = ['--now', '2025-10-27T00:00:05Z'];
    human(await dlc(['ingest', file, ...now]), 0, /^2 accepted, 0 duplicate, 1 rejected/);
    expect(json(await dlc(['ingest', file, ...now, '--json']))).toMatchObject({ accepted: 0, duplicates: 2, lines: 3 });
    const job = ['--job', 'hourly_message_counts', '--period', '2025-10-26T02', ...now];
    human(await dlc(['aggregate', ...job]), 0, /^hourly_message_counts\b/);
    expect(json(await dlc(['aggregate', ...job, '--json']))).toEqual([
      expect.objectContaining({ job: 'hourly_message_counts', status: 'completed' }),
    ]);
  });

  it('properties: set (register, rename, change the zone) and list', async () => {
    human(
      await dlc(['properties', 'set', '--property', 'hotel-cli', '--time-zone', 'Asia/Kolkata', '--name', 'Hotel CLI']),
      0,
      'Registered hotel-cli (Hotel CLI): time zone Asia/Kolkata',
    );
    expect(json(await dlc(['properties', 'set', '--property', 'hotel-cli', '--time-zone', 'America/Cancun', '--json']))).toMatchObject({
      created: false,
      previousTimeZone: 'Asia/Kolkata',
      property: { propertyId: 'hotel-cli', displayName: 'Hotel CLI', timeZone: 'America/Cancun' },
    });
    refused(
      await dlc(['properties', 'set', '--property', 'hotel-cli', '--time-zone', 'Mars/Olympus']),
      2,
      /Unknown time zone "Mars\/Olympus"/,
    );
    refused(await dlc(['properties', 'set', '--property', 'Hotel Sol', '--time-zone', 'UTC']), 2, /"Hotel Sol" is not a property id/);
    human(await dlc(['properties', 'list']), 0, /^hotel-cli\s+America\/Cancun\s+Hotel CLI$/);
    expect(json(await dlc(['properties', 'list', '--json']))).toMatchObject({
      properties: [expect.objectContaining({ propertyId: 'hotel-cli', timeZone: 'America/Cancun' })],
    });
  });

  it('metrics and timeseries', async () => {
    human(await dlc(['metrics', '--property', 'hotel-1']), 0, 'Dashboard for hotel-1');
    expect(json(await dlc(['metrics', '--property', 'hotel-1', '--json']))).toHaveProperty('today');
    const q = ['--metric', 'messages', '--granularity', 'day', '--from', '2025-03-24', '--to', '2025-03-31', '--property', 'hotel-1'];
    // formatted and right-aligned (was: raw floats in ragged columns); the API's name --dimensions
    const r = await dlc(['timeseries', ...q, '--dimensions', 'channel']);
    human(r, 0, 'messages by day: messages received and sent');
    expect(r.stdout).toMatch(/^channel=email\n {2}2025-03-24 {2}164$/m);
    expect(json(await dlc(['timeseries', ...q, '--json']))).toHaveProperty('series');
    const hours = await dlc([
      'timeseries',
      ...q.slice(0, 2),
      '--granularity',
      'hour',
      '--from',
      '2025-03-30',
      '--to',
      '2025-03-31',
      '--property',
      'hotel-1',
    ]);
    expect(hours.stdout.split('\n').slice(3, 6)).toEqual([
      '  2025-03-30 00:00 +01:00  15',
      '  2025-03-30 01:00 +01:00  22',
      '  2025-03-30 03:00 +02:00  31',
    ]);
    // nothing in the range: said in words (was: a header alone)
    const none = await dlc(['timeseries', ...q.slice(0, 4), '--from', '2024-03-24', '--to', '2024-03-31', '--property', 'hotel-1']);
    human(none, 0, 'messages by day: messages received and sent');
    expect(none.stdout).toContain('No data for messages of hotel-1 between 2024-03-24 and 2024-03-31 (Europe/Madrid)');
    // errors name the flags typed (was: startDate/endDate)
    refused(
      await dlc(['timeseries', ...q.slice(0, 4), '--from', '2025-03-31', '--to', '2025-03-24', '--property', 'hotel-1']),
      2,
      /^400: --to "2025-03-24" must be after --from "2025-03-31"/,
    );
  });

  it('report: JSON on stdout, a file with --out, a CSV zip only with --out (was: exit 0 after an error)', async () => {
    const q = ['report', '--type', 'weekly', '--property', 'hotel-1', '--from', '2025-03-24'];
    human(await dlc(q), 0, '{');
    const html = join(cwd, 'report.html');
    human(await dlc([...q, '--format', 'html', '--out', html]), 0, /^Wrote \S+report\.html \(\d+ bytes\)$/);
    expect(json(await dlc([...q, '--format', 'csv', '--out', join(cwd, 'report.zip'), '--json']))).toMatchObject({ format: 'csv' });
    refused(await dlc([...q, '--format', 'csv']), 2, '--format csv writes a zip of CSV files: give --out FILE.zip');
  });

  it('retention and restore (human mode: the output starts with the table)', async () => {
    human(await dlc(['retention', '--table', 'messages']), 0, /^messages\b/);
    human(await dlc(['restore', '--table', 'messages', '--from', '2025-01-01', '--to', '2025-02-01']), 0, /^messages\b/);
  });

  it('subject: find, export, erase (dry run, then for good), verify; bad usage names the option', async () => {
    const who = ['--phone', '+34 611 222 333'];
    human(await dlc(['subject', 'find', ...who]), 0, /^Found \d+ identifier\(s\) for this subject\.$/);
    expect(json(await dlc(['subject', 'find', ...who, '--json']))).toHaveProperty('postgres');
    const zip = join(cwd, 'subject.zip');
    human(await dlc(['subject', 'export', ...who, '--out', zip]), 0, /^Wrote \S+subject\.zip \(\d+ bytes\)$/);
    human(await dlc(['subject', 'erase', ...who, '--dry-run']), 0, 'Dry run: nothing changed. An erasure would remove:');
    const erased = await dlc(['subject', 'erase', ...who]);
    human(erased, 0, /^Erased \(request erasure-[0-9a-f]{24}\)$/);
    const request = /erasure-[0-9a-f]{24}/.exec(erased.stdout)?.[0] as string;
    human(await dlc(['subject', 'verify', request]), 0, `Verified: nothing of ${request} remains.`);
    expect(json(await dlc(['subject', 'verify', request, '--json']))).toMatchObject({ ok: true });
    refused(await dlc(['subject', 'find']), 2, /^Name the subject: --customer, --phone/);
    refused(await dlc(['subject', 'find', '--phone', '611']), 2, /option '--phone <e164>' argument '611' is invalid/);
  });

  it('soak: bad usage names the option (a run is test/integration/soak.test.ts)', async () => {
    refused(await dlc(['soak', '--seconds', '0']), 2, /option '--seconds <n>' argument '0' is invalid/);
  });

  it('invoke (AWS only): bad usage without --env', async () => {
    refused(await dlc(['invoke', 'archive']), 2, "error: required option '--env <env>' not specified");
  });

  it('DATABASE_URL of a server that is down: one line naming DATABASE_URL, exit 1, no password', async () => {
    const r = await dlc(['migrate'], { DATABASE_URL: `postgres://dlc:s3cret@127.0.0.1:${await freePort()}/dlc` });
    refused(r, 1, /^Cannot connect to PostgreSQL at DATABASE_URL \(127\.0\.0\.1:\d+\/dlc\): connect ECONNREFUSED/);
    expect(r.stderr).not.toContain('s3cret');
  });

  it('demo (npm start): its ERROR lines and "unhealthy" are announced as the point, in the line before', async () => {
    const r = await dlc(['demo']);
    human(r, 0, 'Starting a private PostgreSQL 17 and Redis…');
    const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
    const before = (re: RegExp) => lines[lines.findIndex((l) => re.test(l)) - 1];
    expect(before(/INFO {2}Starting conversation archival run/)).toMatch(
      /^The 2 malformed checkpoints are there on purpose: expect an ERROR line for each below/,
    );
    const health = lines.findIndex((l) => l.startsWith('Health record (seed 000)'));
    expect(lines[health]).toMatch(/^Health record \(seed 000\): "unhealthy" with 2 errors — the 2 malformed checkpoints above, on purpose/);
    expect(lines.slice(health + 1, health + 4)).toContain('  "status": "unhealthy",');
    expect(r.stderr.split('\n').filter((l) => / ERROR /.test(l))).toEqual([
      expect.stringMatching(/ ERROR Malformed checkpoint /),
      expect.stringMatching(/ ERROR Malformed checkpoint /),
    ]);
  });

  it('covered every registered command', () => {
    expect([...seen].sort()).toEqual(
      buildProgram()
        .commands.map((c) => c.name())
        .sort(),
    );
  });
});
