import { hostname } from 'node:os';
import type { Command } from 'commander';
import { applyRetention, runRetention, selectPolicies } from '../../lambdas/retention/retention';
import { FileRunLedger } from '../../lambdas/shared/ledger/file';
import { memoryLog, memoryMetrics } from '../../lambdas/shared/observability';
import { deadline } from '../../lambdas/shared/runtime';
import { getEnvironment } from '../../lib/config';
import { coldStoreConfigFromEnv, coldStoreFromEnv, parseDays, printReport, progressBar } from '../retention-run';
import { fail, output, UsageError, withDatabase } from './common';

interface Options {
  dryRun?: boolean;
  table?: string[];
  days?: Record<string, number>;
  ledgerFile: string;
  json?: boolean;
  threads: number;
}

function parseThreads(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`--threads: "${value}" is not a whole number from 1 to 64`);
  return n;
}

export function register(program: Command): void {
  program
    .command('retention')
    .description('export expired rows to cold storage (DATABASE_URL, S3_ENDPOINT, COLD_BUCKET), verify, record, delete')
    .option('--dry-run', 'print per table the days, rows and estimated bytes that would go; write nothing')
    .option('--table <table>', 'only this table (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--days <list>', 'override days per table for this run, e.g. messages=30,analytics_events=7', parseDays)
    .option(
      '--threads <n>',
      'export this many days at once, each on its own thread and connection (a machine with cores to spare)',
      parseThreads,
      1,
    )
    .option('--ledger-file <path>', 'local run ledger (the lease lock)', '.local/run-ledger.json')
    .option('--json', 'machine-readable output (the log goes to stderr)')
    .action((o: Options) =>
      withDatabase(async (sql) => {
        const settings = getEnvironment(process.env.ENV_NAME ?? 'dev').retention;
        const store = coldStoreFromEnv();
        const log = memoryLog(o.json ? (l) => process.stderr.write(`${l.level} ${l.message}\n`) : undefined);
        // Progress on a terminal (stderr) in human mode; --json keeps stderr for the log.
        const bar = o.json ? { start: () => undefined, update: () => undefined, done: () => undefined } : progressBar();
        const input = { dryRun: o.dryRun, tables: o.table, days: o.days };
        let tables: string[];
        try {
          tables = selectPolicies(settings.policies, input).map((p) => p.table);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        const threads =
          o.threads > 1
            ? {
                threads: o.threads,
                // As withDatabase connects this thread: DATABASE_URL (TLS, if any, set in the URL).
                sql: { driver: 'pg' as const, url: process.env.DATABASE_URL ?? '', ssl: false },
                store: coldStoreConfigFromEnv(),
              }
            : undefined;
        const deps = { sql, store, log, deadline: deadline(undefined), onProgress: bar.update, threads };
        bar.start(tables);
        if (o.dryRun) {
          const outcome = await applyRetention({ ...deps, runId: 'dry-run' }, settings, input).finally(bar.done);
          output(o.json, outcome, () => printReport(outcome.tables, true));
          return;
        }
        const result = await runRetention(
          // The file ledger records the run; the database lease (2 min, renewed every 40 s) keeps out every other entry point.
          {
            ...deps,
            ledger: new FileRunLedger(o.ledgerFile),
            metrics: memoryMetrics(),
            leaseMs: 10 * 60_000,
            holder: `cli pid ${process.pid} on ${hostname()}`,
          },
          settings,
          input,
        ).finally(bar.done);
        if (result.status === 'skipped') {
          output(o.json, { status: 'skipped', reason: result.reason }, () => console.log(`Skipped: ${result.reason}`));
          return;
        }
        output(o.json, { run: result.run, tables: result.outcome.tables }, () => printReport(result.outcome.tables, false));
        if (result.run.status !== 'healthy') fail();
      }),
    );
}
