import { type Command, Option } from 'commander';
import type { BackfillRequest, BackfillResult } from '../../lambdas/backfill/backfill';
import { p, type Sql } from '../../lambdas/shared/sql/types';
import { ENVIRONMENT_NAMES } from '../../lib/config';
import { leadsInScope, localStep, runBackfillToEnd } from '../backfill-run';
import { invokeJob } from '../invoke';
import { fail, isoTime, lambdaClient, positiveInt, UsageError, uuid, withDatabase } from './common';

interface Options {
  dryRun?: boolean;
  rollback?: boolean;
  verbose?: boolean;
  lead?: string;
  from?: string;
  to?: string;
  limit?: number;
  batchSize?: number;
  env?: string;
  region?: string;
  ledgerFile: string;
  json?: boolean;
}

/** Usage checked before anything is printed or run: each message names its option. */
function checkUsage(o: Options): void {
  if (o.dryRun && o.rollback) throw new UsageError('Choose --dry-run or --rollback, not both');
  if (o.from && o.to && Date.parse(o.from) >= Date.parse(o.to))
    throw new UsageError(`--from ${o.from} is not before --to ${o.to}: the range [--from, --to) is empty`);
}

/** `--lead` of a lead that is not in the database: bad usage, said before the run (which would do nothing). */
async function checkLeadExists(sql: Sql, lead: string | undefined): Promise<void> {
  if (lead === undefined) return;
  const [row] = await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM leads WHERE id = $1::uuid', [p.uuid(lead)]);
  if ((row?.n ?? 0) === 0) throw new UsageError(`--lead ${lead}: no such lead in the database (leads.id)`);
}

export function register(program: Command): void {
  program
    .command('backfill')
    .description('rebuild conversations and messages from the audit log (seed 003), locally or on the deployed Lambda')
    .option('--dry-run', 'run the statements in a transaction that is rolled back: statistics, nothing kept')
    .option('--rollback', 'remove exactly what the backfill created')
    .option('--verbose', 'per-lead counts')
    .option('--lead <id>', 'only this lead (its UUID)', uuid)
    .option('--from <iso>', 'audits at or after this time (2025-01-31 or 2025-01-31T10:00:00Z)', isoTime)
    .option('--to <iso>', 'audits before this time', isoTime)
    .option('--limit <n>', 'at most this many leads', positiveInt)
    .option('--batch-size <n>', 'leads per batch', positiveInt)
    .addOption(new Option('--env <env>', 'invoke the deployed Lambda of this environment').choices(ENVIRONMENT_NAMES))
    .option('--region <region>', 'AWS region (with --env; default AWS_REGION)')
    .option('--ledger-file <path>', 'local run ledger', '.local/run-ledger.json')
    .option('--json', 'machine-readable output: the final statistics')
    .action(async (o: Options) => {
      checkUsage(o);
      const mode = o.rollback ? 'rollback' : o.dryRun ? 'dry-run' : 'apply';
      const filters = { leadId: o.lead, from: o.from, to: o.to, limit: o.limit };
      const options = { mode, verbose: o.verbose ?? false, filters, batchSize: o.batchSize, json: o.json ?? false } as const;
      if (o.env) {
        const client = await lambdaClient(o);
        const step = async (req: BackfillRequest) => {
          const [r] = await invokeJob({
            client,
            env: o.env as string,
            job: 'backfill',
            payload: req as never,
            loop: false,
            print: () => {},
          });
          return r as BackfillResult;
        };
        await runBackfillToEnd(step, options, undefined);
        return;
      }
      await withDatabase(async (sql) => {
        await checkLeadExists(sql, o.lead);
        const total = mode === 'rollback' ? undefined : await leadsInScope(sql, filters);
        const r = await runBackfillToEnd(localStep(sql, o.ledgerFile, options.verbose), options, total);
        if (r.totals.errors > 0) fail();
      });
    });
}
