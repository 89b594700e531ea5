import type { Command } from 'commander';
import { type AggregateMode, type AggregateResult, requestedPeriods } from '../../lambdas/aggregate/aggregate';
import { assertRecomputable, readRawHorizon } from '../../lambdas/aggregate/horizon';
import { aggregateJob } from '../../lambdas/aggregate/job';
import { NoWholePeriodError, PeriodError } from '../../lambdas/aggregate/periods';
import { AGGREGATIONS, aggregation } from '../../lambdas/aggregate/registry';
import { FileRunLedger } from '../../lambdas/shared/ledger/file';
import { memoryLog, memoryMetrics } from '../../lambdas/shared/observability';
import type { Sql } from '../../lambdas/shared/sql/types';
import { assertTimeZone } from '../../lambdas/shared/time';
import { getEnvironment } from '../../lib/config';
import { fail, output, UsageError, withDatabase } from './common';
import { parseNow } from './ingest';

export interface AggregateOptions {
  job?: string;
  all?: boolean;
  period?: string;
  from?: string;
  to?: string;
  timeZone?: string;
  now?: string;
  ledgerFile: string;
  json?: boolean;
}

export type AggregateRun =
  | { job: string; status: 'completed'; result: AggregateResult }
  | { job: string; status: 'skipped'; reason: string }
  /** `--all` over a range: this job's periods do not fit in it (e.g. no whole month); the others ran. */
  | { job: string; status: 'no-whole-period'; reason: string };

/** The jobs asked for, each in runExclusive with the local ledger. */
export async function aggregateLocally(sql: Sql, o: AggregateOptions): Promise<AggregateRun[]> {
  if (!o.job === !o.all) throw new UsageError(`Give --job NAME or --all (jobs: ${AGGREGATIONS.map((a) => a.name).join(', ')})`);
  if (o.period && (o.from || o.to)) throw new UsageError('Give --period or --from/--to, not both');
  if (!o.from !== !o.to) throw new UsageError('--from and --to go together');
  const names = o.all ? AGGREGATIONS.map((a) => a.name) : [o.job as string];
  for (const n of names)
    if (!AGGREGATIONS.some((a) => a.name === n))
      throw new UsageError(`Unknown job "${n}": expected one of ${AGGREGATIONS.map((a) => a.name).join(', ')}`);
  let timeZone: string;
  try {
    timeZone = assertTimeZone(o.timeZone ?? getEnvironment(process.env.ENV_NAME ?? 'dev').aggregation.timeZone);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const now = parseNow(o.now, timeZone); // a time without offset: in the aggregation's zone, never the machine's
  const mode: AggregateMode = o.period
    ? { kind: 'period', start: o.period }
    : o.from && o.to
      ? { kind: 'range', from: o.from, to: o.to }
      : { kind: 'scheduled' };
  const out: AggregateRun[] = [];
  let jobs = names;
  if (mode.kind !== 'scheduled') {
    // Recompute history: every job's periods are checked (and against the raw horizon: never from
    // partial raw data) before any job runs, so a refused request writes nothing. With --all over a
    // range, a job whose granularity has no whole period in it (a range without a whole month) is
    // not run and said so; the others run (issue 23, defect 11). A range no job fits in is refused.
    const horizon = await readRawHorizon(sql);
    jobs = [];
    try {
      for (const job of names) {
        let periods: ReturnType<typeof requestedPeriods>;
        try {
          periods = requestedPeriods(aggregation(job), mode, timeZone);
        } catch (e) {
          if (!(o.all && e instanceof NoWholePeriodError)) throw e;
          out.push({ job, status: 'no-whole-period', reason: e.message });
          continue;
        }
        assertRecomputable(job, periods, horizon, timeZone);
        jobs.push(job);
      }
      if (jobs.length === 0) throw new PeriodError(`no job has a whole period in [${o.from}, ${o.to}) in ${timeZone}`);
    } catch (e) {
      if (e instanceof PeriodError) throw new UsageError(e.message);
      throw e;
    }
  }
  const ledger = new FileRunLedger(o.ledgerFile);
  for (const job of jobs) {
    try {
      const r = await aggregateJob(
        { sql, log: memoryLog(), metrics: memoryMetrics(), ledger, clock: { now: () => now }, leaseMs: 20 * 60_000 },
        { job, mode, timeZone },
      );
      out.push(
        r.status === 'completed' ? { job, status: 'completed', result: r.outcome.result } : { job, status: 'skipped', reason: r.reason },
      );
    } catch (e) {
      if (e instanceof PeriodError) throw new UsageError(e.message);
      throw e;
    }
  }
  return out.sort((a, b) => names.indexOf(a.job) - names.indexOf(b.job));
}

export function register(program: Command): void {
  program
    .command('aggregate')
    .description(
      'run analytics aggregations on DATABASE_URL: what the schedule would do now, one closed period, or every closed period in a range',
    )
    .option('--job <name>', `one aggregation: ${AGGREGATIONS.map((a) => a.name).join(', ')}`)
    .option('--all', 'the seven aggregations')
    .option('--period <start>', 'one closed period, by its first local hour/day/Monday/month: 2025-10-26T02, 2025-10-26, 2025-10')
    .option('--from <a>', 'every closed period in [A, B) (local date/time or ISO instant)')
    .option('--to <b>', 'end of the range (exclusive)')
    .option('--time-zone <zone>', 'override the configured aggregation time zone (IANA name)')
    .option('--now <iso>', 'the clock deciding which periods are closed (default: now); without an offset, a time in the aggregation zone')
    .option('--ledger-file <path>', 'local run ledger', '.local/run-ledger.json')
    .option('--json', 'machine-readable output')
    .action((o: AggregateOptions) =>
      withDatabase(async (sql) => {
        const runs = await aggregateLocally(sql, o);
        output(o.json, runs, () => {
          for (const r of runs) {
            if (r.status === 'skipped') {
              console.log(`${r.job}: skipped (${r.reason})`);
              continue;
            }
            if (r.status === 'no-whole-period') {
              console.log(`${r.job}: not run, ${r.reason}`);
              continue;
            }
            const x = r.result;
            const periods =
              x.periods.length === 1
                ? x.periods[0]
                : x.periods.length === 0
                  ? 'no whole period'
                  : `${x.periods.length} periods ${x.periods[0]} … ${x.periods.at(-1)}`;
            console.log(
              `${x.job} → ${x.table}: ${periods} (${x.timeZone}) + ${x.invalidatedBuckets.length} late-data bucket(s); ` +
                `rows: ${x.rowsComputed} computed, ${x.rowsWritten} written, ${x.rowsZeroed} zeroed` +
                (x.bucketsBeyondHorizon.length > 0
                  ? `; ${x.bucketsBeyondHorizon.length} bucket(s) left as they are (they start at or before the raw horizon ${x.rawHorizon}: raw events in cold storage)`
                  : '') +
                (x.tokens
                  ? `; token rollups: ${x.tokens.days} day(s), ${x.tokens.userRows} user rows, ${x.tokens.platformRows} platform rows`
                  : ''),
            );
          }
        });
        if (runs.some((r) => r.status === 'skipped')) fail();
      }),
    );
}
