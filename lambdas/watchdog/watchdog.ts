/**
 * The watchdog: every 15 minutes, from the run ledger only, each watched job's health — minutes
 * since its last success against its own limit (stale), and whether its last runs all failed or
 * reported errors (failing). It publishes two numbers, `StaleJobs` and `FailingJobs`, that two
 * alarms read; the stale one treats a missing value as breaching, so a watchdog that stops (or
 * fails) pages too. Each job's figures go to one log line (`Job health`), which the dashboard
 * reads, and to the result `npm run invoke -- watchdog --env <env>` prints.
 */
import { ConfigError } from '../../lib/config';
import type { RunLedgerReader, RunRecord } from '../shared/ledger/types';
import type { Log, MetricsSink } from '../shared/observability';
import type { Clock } from '../shared/runtime';
import type { Sql } from '../shared/sql/types';

export interface WatchedJob {
  readonly name: string;
  /** Stale when no run succeeded for longer than this (its cadence plus a margin). */
  readonly staleAfterMinutes: number;
}

/** Failing: this many latest runs are all unhealthy (seed 000: `errors > 0` consistently). */
export const FAILING_RUNS = 2;

export interface JobHealth {
  /** Since the last success; with none, since the oldest recorded attempt; null when the job never ran. */
  readonly minutesSinceSuccess: number | null;
  readonly staleAfterMinutes: number;
  readonly stale: boolean;
  readonly failing: boolean;
  /** The latest run's error, when it failed. */
  readonly lastError?: string;
}

export interface WatchdogResult {
  readonly minutesSinceSuccess: Record<string, number | null>;
  /** Jobs past their limit, and jobs whose last runs all failed or reported errors. */
  readonly stale: string[];
  readonly failing: string[];
  readonly jobs: Record<string, JobHealth>;
  readonly databaseBytes?: number;
}

/** `archive=90,retention=1560,…` (the function's WATCHED_JOBS): each job and its limit in minutes. */
export function parseWatchedJobs(value: string): WatchedJob[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const [name, minutes] = entry.split('=');
      const staleAfterMinutes = Number(minutes);
      if (!name || !Number.isInteger(staleAfterMinutes) || staleAfterMinutes < 1)
        throw new ConfigError(`WATCHED_JOBS: "${entry}" is not <job>=<minutes> (a positive whole number of minutes)`);
      return { name, staleAfterMinutes };
    });
}

export async function watch(
  deps: { ledger: RunLedgerReader; log: Log; metrics: MetricsSink; clock: Clock; sql?: Sql },
  jobs: readonly WatchedJob[],
  options: { measureDatabase: boolean },
): Promise<WatchdogResult> {
  const now = deps.clock.now().getTime();
  const health: Record<string, JobHealth> = {};
  for (const job of jobs) {
    const [success, latest] = await Promise.all([deps.ledger.lastSuccess(job.name), deps.ledger.history(job.name, FAILING_RUNS)]);
    let since: number | undefined;
    if (success) since = Date.parse(success.finishedAt);
    else {
      // Never succeeded: count from its oldest recorded attempt; with no record at all, stay silent
      // (a job that never ran since the environment was created has nothing to be late against).
      const history = await deps.ledger.history(job.name, 200);
      const oldest = history.at(-1);
      if (oldest) since = Date.parse(oldest.startedAt);
    }
    const minutes = since === undefined ? null : Math.max(0, Math.round((now - since) / 60_000));
    const failing = latest.length === FAILING_RUNS && latest.every(unhealthy);
    const lastError = latest[0]?.error;
    const h: JobHealth = {
      minutesSinceSuccess: minutes,
      staleAfterMinutes: job.staleAfterMinutes,
      stale: minutes !== null && minutes > job.staleAfterMinutes,
      failing,
      ...(lastError ? { lastError } : {}),
    };
    health[job.name] = h;
    deps.log.info('Job health', { job: job.name, ...h });
  }
  const names = Object.keys(health);
  const stale = names.filter((n) => health[n]?.stale);
  const failing = names.filter((n) => health[n]?.failing);
  deps.metrics.add('StaleJobs', stale.length);
  deps.metrics.add('FailingJobs', failing.length);
  let databaseBytes: number | undefined;
  if (options.measureDatabase && deps.sql) databaseBytes = await measureDatabaseSize(deps.sql, deps.metrics);
  const minutesSinceSuccess = Object.fromEntries(names.map((n) => [n, health[n]?.minutesSinceSuccess ?? null]));
  deps.log.info('Watchdog', { stale, failing, minutesSinceSuccess, databaseBytes });
  deps.metrics.flush();
  return { minutesSinceSuccess, stale, failing, jobs: health, ...(databaseBytes !== undefined ? { databaseBytes } : {}) };
}

const unhealthy = (r: RunRecord) => r.status === 'unhealthy';

/**
 * The database size (for the growth-anomaly alarm): the one statement the `database-size`
 * function runs, as the `dlc_watchdog` role (no table privilege at all).
 */
export async function measureDatabaseSize(sql: Sql, metrics: MetricsSink): Promise<number | undefined> {
  const [row] = await sql.query<{ bytes: number }>('SELECT pg_database_size(current_database())::bigint AS bytes');
  const bytes = row?.bytes;
  if (bytes !== undefined) metrics.add('DatabaseSizeBytes', bytes, 'Bytes');
  return bytes;
}
