#!/usr/bin/env -S npx tsx
/**
 * Operator CLI. Local commands run the same job functions as the Lambdas, against
 * DATABASE_URL / REDIS_URL (see README "Operate").
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { BackfillRequest, BackfillResult } from '../lambdas/backfill/backfill';
import { searchMessages } from '../lambdas/backfill/search';
import { loadMigrations, migrate } from '../lambdas/shared/migrate';
import { PgSql } from '../lambdas/shared/sql/pg-driver';
import { ENVIRONMENT_NAMES } from '../lib/config';
import { archiveLocally } from '../local/archive-run';
import { leadsInScope, localStep, runBackfillToEnd } from '../local/backfill-run';
import { demo } from '../local/demo';
import { invokeJob } from '../local/invoke';

const MIGRATIONS_DIR = join(__dirname, '..', 'sql');

type Command = (argv: string[]) => Promise<number>;

function requireEnv(name: string): string {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} is not set. Example: ${name}=postgres://user:pass@localhost:5432/db npm run migrate`);
    process.exit(2);
  }
  return v;
}

const commands: Record<string, { help: string; run: Command }> = {
  migrate: {
    help: 'apply pending migrations in sql/ to DATABASE_URL',
    run: async () => {
      const sql = new PgSql({ connectionString: requireEnv('DATABASE_URL') });
      try {
        const res = await migrate(sql, loadMigrations(MIGRATIONS_DIR), (m) => console.log(m));
        console.log(`${res.applied.length} applied, ${res.alreadyApplied.length} already applied`);
        return 0;
      } finally {
        await sql.close();
      }
    },
  },
  archive: {
    help: 'one archival run against DATABASE_URL and REDIS_URL [--cutoff-hours 23] [--batch-size 200] [--health-file .local/archiver_health.json]',
    run: async (argv) => {
      const { values } = parseArgs({
        args: argv,
        options: {
          'cutoff-hours': { type: 'string' },
          'batch-size': { type: 'string' },
          'health-file': { type: 'string', default: '.local/archiver_health.json' },
          'ledger-file': { type: 'string', default: '.local/run-ledger.json' },
        },
      });
      const overrides: Record<string, number> = {};
      for (const [flag, key] of [
        ['cutoff-hours', 'cutoffHours'],
        ['batch-size', 'batchSize'],
      ] as const) {
        const v = values[flag];
        if (v === undefined) continue;
        const n = Number(v);
        if (!Number.isFinite(n) || n <= 0) throw new Error(`--${flag} must be a positive number, not "${v}"`);
        overrides[key] = n;
      }
      const sql = new PgSql({ connectionString: requireEnv('DATABASE_URL') });
      try {
        const { result, health } = await archiveLocally({
          sql,
          redisUrl: requireEnv('REDIS_URL'),
          ledgerFile: values['ledger-file'],
          healthFile: values['health-file'],
          overrides,
        });
        if (result.status === 'skipped') {
          console.log(`Skipped: ${result.reason}`);
          return 0;
        }
        console.log(JSON.stringify({ ...health, counters: result.run.counters }, null, 2));
        return result.run.status === 'healthy' ? 0 : 1;
      } finally {
        await sql.close();
      }
    },
  },
  backfill: {
    help: 'backfill conversations/messages from audits: [--dry-run|--rollback] [--verbose] [--lead ID] [--from ISO] [--to ISO] [--limit N] [--env E to run the deployed Lambda]',
    run: async (argv) => {
      const { values } = parseArgs({
        args: argv,
        options: {
          'dry-run': { type: 'boolean', default: false },
          rollback: { type: 'boolean', default: false },
          verbose: { type: 'boolean', default: false },
          lead: { type: 'string' },
          from: { type: 'string' },
          to: { type: 'string' },
          limit: { type: 'string' },
          'batch-size': { type: 'string' },
          env: { type: 'string' },
          region: { type: 'string' },
          'ledger-file': { type: 'string', default: '.local/run-ledger.json' },
        },
      });
      if (values['dry-run'] && values.rollback) throw new Error('Choose --dry-run or --rollback, not both');
      const mode = values.rollback ? 'rollback' : values['dry-run'] ? 'dry-run' : 'apply';
      const int = (name: string, v: string | undefined) => {
        if (v === undefined) return undefined;
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not "${v}"`);
        return n;
      };
      const filters = { leadId: values.lead, from: values.from, to: values.to, limit: int('limit', values.limit) };
      const options = { mode, verbose: values.verbose, filters, batchSize: int('batch-size', values['batch-size']) } as const;
      if (values.env) {
        const client = new LambdaClient({ region: values.region });
        const step = async (req: BackfillRequest) => {
          const [r] = await invokeJob({
            client,
            env: values.env as string,
            job: 'backfill',
            payload: req as never,
            loop: false,
            print: () => {},
          });
          return r as BackfillResult;
        };
        await runBackfillToEnd(step, options, undefined);
        return 0;
      }
      const sql = new PgSql({ connectionString: requireEnv('DATABASE_URL') });
      try {
        const total = mode === 'rollback' ? undefined : await leadsInScope(sql, filters);
        const r = await runBackfillToEnd(localStep(sql, values['ledger-file'], values.verbose), options, total);
        return r.totals.errors > 0 ? 1 : 0;
      } finally {
        await sql.close();
      }
    },
  },
  search: {
    help: 'full-text search over messages: search "query" [--conversation ID] [--customer ID] [--from ISO] [--to ISO] [--limit 20]',
    run: async (argv) => {
      const { values, positionals } = parseArgs({
        args: argv,
        allowPositionals: true,
        options: {
          conversation: { type: 'string' },
          customer: { type: 'string' },
          from: { type: 'string' },
          to: { type: 'string' },
          limit: { type: 'string', default: '20' },
        },
      });
      const sql = new PgSql({ connectionString: requireEnv('DATABASE_URL') });
      try {
        const t0 = performance.now();
        const hits = await searchMessages(sql, {
          text: positionals.join(' '),
          conversationId: values.conversation,
          customerId: values.customer,
          from: values.from,
          to: values.to,
          limit: Number(values.limit),
        });
        console.log(`${hits.length} result(s) in ${(performance.now() - t0).toFixed(1)} ms\n`);
        for (const h of hits) {
          console.log(`${h.rank.toFixed(3)}  ${h.createdAt}  ${h.conversationId}${h.customerId ? ` (${h.customerId})` : ''}  ${h.role}`);
          console.log(`       ${h.snippet.replace(/\s+/g, ' ')}\n`);
        }
        return 0;
      } finally {
        await sql.close();
      }
    },
  },
  invoke: {
    help: 'invoke a deployed job: invoke <job> --env <dev|staging|prod> [--payload JSON] [--loop] [--region R]',
    run: async (argv) => {
      const { values, positionals } = parseArgs({
        args: argv,
        allowPositionals: true,
        options: {
          env: { type: 'string' },
          payload: { type: 'string', default: '{}' },
          loop: { type: 'boolean', default: false },
          region: { type: 'string' },
        },
      });
      const job = positionals[0];
      if (!job) throw new Error('Which job? e.g. invoke archive --env dev');
      if (!values.env || !(ENVIRONMENT_NAMES as readonly string[]).includes(values.env)) {
        throw new Error(`--env must be one of ${ENVIRONMENT_NAMES.join(', ')}`);
      }
      let payload: Record<string, unknown>;
      try {
        payload = JSON.parse(values.payload);
      } catch (e) {
        throw new Error(`--payload is not valid JSON: ${(e as Error).message}`);
      }
      await invokeJob({
        client: new LambdaClient({ region: values.region }),
        env: values.env,
        job,
        payload,
        loop: values.loop,
        print: (l) => console.log(l),
      });
      return 0;
    },
  },
  demo: {
    help: 'the archival on embedded defaults: private PostgreSQL and Redis, sample checkpoints, one run (npm start)',
    run: () => demo(),
  },
};

async function main(): Promise<number> {
  const [name, ...rest] = process.argv.slice(2);
  const cmd = name ? commands[name] : undefined;
  if (!cmd) {
    if (name && name !== 'help' && name !== '--help') console.error(`Unknown command "${name}".\n`);
    console.log('Usage: npx tsx bin/cli.ts <command> [options]\n');
    for (const [n, c] of Object.entries(commands)) console.log(`  ${n.padEnd(10)} ${c.help}`);
    return name && name !== 'help' && name !== '--help' ? 2 : 0;
  }
  return cmd.run(rest);
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
