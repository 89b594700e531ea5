import type { Command } from 'commander';
import { type AggregateMode, type AggregateResult, requestedZonePeriods, zonesToRun } from '../../lambdas/aggregate/aggregate';
import { assertRecomputable, readRawHorizon } from '../../lambdas/aggregate/horizon';
import { aggregateJob } from '../../lambdas/aggregate/job';
import { NoWholePeriodError, PeriodError } from '../../lambdas/aggregate/periods';
import { AGGREGATIONS, aggregation } from '../../lambdas/aggregate/registry';
import { FileRunLedger } from '../../lambdas/shared/ledger/file';
import { memoryLog, memoryMetrics } from '../../lambdas/shared/observability';
import { propertyIdProblem } from '../../lambdas/shared/property-id';
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
  /** Only this property's buckets (in its zone). */
  property?: string;
  /** With `property` and a range: zero its rows keyed by this former zone's periods (a zone change). */
  sweepZone?: string;
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
  if (o.property && !o.period && !o.from) throw new UsageError('--property goes with --period or --from/--to');
  if (o.property) {
    const problem = propertyIdProblem(o.property);
    if (problem) throw new UsageError(`--property ${problem}`);
  }
  const only = o.property ? { property: o.property } : {};
  const mode: AggregateMode = o.period
    ? { kind: 'period', start: o.period, ...only }
    : o.from && o.to
      ? { kind: 'range', from: o.from, to: o.to, ...only, ...(o.sweepZone ? { sweepZone: o.sweepZone } : {}) }
      : { kind: 'scheduled' };
  const out: AggregateRun[] = [];
  let jobs = names;
  if (mode.kind !== 'scheduled') {
    // Recompute history: every job's periods are checked (and against the raw horizon: never from
    // partial raw data) before any job runs, so a refused request writes nothing. With --all over a
    // range, a job whose granularity has no whole period in it (a range without a whole month) is
    // not run and said so; the others run (issue 23, defect 11). A range no job fits in is refused.
    const horizon = await readRawHorizon(sql);
    const { zones } = await zonesToRun(sql, timeZone, o.property);
    jobs = [];
    try {
      for (const job of names) {
        let plan: ReturnType<typeof requestedZonePeriods>;
        try {
          plan = requestedZonePeriods(aggregation(job), mode, zones);
        } catch (e) {
          if (!(o.all && e instanceof NoWholePeriodError)) throw e;
          out.push({ job, status: 'no-whole-period', reason: e.message });
          continue;
        }
        for (const z of plan) assertRecomputable(job, z.periods, horizon, z.timeZone);
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

/**
 * After a property's zone changed (`npm run properties -- set`, which recorded one re-derivation per
 * aggregate table): every aggregation re-derives the property now — the same code the deployed
 * aggregations run at their next scheduled run (lambdas/aggregate/rederive.ts): its closed periods in
 * the new zone over the raw events still in PostgreSQL (after the raw horizon), and its rows keyed by
 * the former zone's periods there zeroed. Periods at or before the raw horizon keep the figures of the
 * former zone (their raw events are in cold storage only: restore them first to re-derive those too).
 */
export async function rederiveProperty(
  sql: Sql,
  property: string,
  o: { now?: string; ledgerFile: string; timeZone?: string },
): Promise<AggregateRun[]> {
  const defaultZone = assertTimeZone(o.timeZone ?? getEnvironment(process.env.ENV_NAME ?? 'dev').aggregation.timeZone);
  const now = parseNow(o.now, defaultZone);
  const ledger = new FileRunLedger(o.ledgerFile);
  const out: AggregateRun[] = [];
  for (const def of AGGREGATIONS) {
    const r = await aggregateJob(
      { sql, log: memoryLog(), metrics: memoryMetrics(), ledger, clock: { now: () => now }, leaseMs: 20 * 60_000 },
      { job: def.name, mode: { kind: 'scheduled' }, timeZone: defaultZone, rederive: property },
    );
    if (r.status === 'skipped') out.push({ job: def.name, status: 'skipped', reason: r.reason });
    else if (r.outcome.rederived.some((x) => x.error))
      throw new Error(`${def.name}: ${r.outcome.rederived.flatMap((x) => (x.error ? [x.error] : [])).join('; ')}`);
    else if (r.outcome.rederived.some((x) => x.result)) out.push({ job: def.name, status: 'completed', result: r.outcome.result });
  }
  return out;
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
    .option('--property <id>', "with --period or --from/--to: only this property's buckets, in its zone")
    .option('--time-zone <zone>', 'override the configured aggregation time zone (IANA name; unregistered properties)')
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
              `${x.job} → ${x.table}: ${periods} (${x.zones.map((z) => (x.zones.length > 1 ? `${z.timeZone}: ${z.periods.length}` : z.timeZone)).join(', ')}) + ${x.invalidatedBuckets.length} late-data bucket(s); ` +
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
