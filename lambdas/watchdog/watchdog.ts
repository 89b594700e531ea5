/**
 * The watchdog: publishes, per job, the minutes since its last successful run (so jobs with
 * daily, weekly or monthly cadences can page when stale: CloudWatch alarms cannot look back
 * more than a day), and on request the database size (for the growth-anomaly alarm).
 */
import type { RunLedgerReader } from '../shared/ledger/types';
import type { Log, MetricsSink } from '../shared/observability';
import type { Clock } from '../shared/runtime';
import type { Sql } from '../shared/sql/types';

export interface WatchedJob {
  readonly name: string;
}

export interface WatchdogResult {
  readonly minutesSinceSuccess: Record<string, number | null>;
  readonly databaseBytes?: number;
}

export async function watch(
  deps: { ledger: RunLedgerReader; log: Log; metrics: MetricsSink; clock: Clock; sql?: Sql },
  jobs: readonly WatchedJob[],
  options: { measureDatabase: boolean },
): Promise<WatchdogResult> {
  const now = deps.clock.now().getTime();
  const minutesSinceSuccess: Record<string, number | null> = {};
  for (const job of jobs) {
    const success = await deps.ledger.lastSuccess(job.name);
    let since: number | undefined;
    if (success) since = Date.parse(success.finishedAt);
    else {
      // Never succeeded: count from its oldest recorded attempt; with no record at all, stay silent
      // (a job that never ran pages through its Lambda and DLQ alarms, not through staleness).
      const history = await deps.ledger.history(job.name, 200);
      const oldest = history.at(-1);
      if (oldest) since = Date.parse(oldest.startedAt);
    }
    const minutes = since === undefined ? null : Math.max(0, Math.round((now - since) / 60_000));
    minutesSinceSuccess[job.name] = minutes;
    if (minutes !== null) deps.metrics.add(`MinutesSinceLastSuccess_${job.name}`, minutes, 'None');
  }
  let databaseBytes: number | undefined;
  if (options.measureDatabase && deps.sql) databaseBytes = await measureDatabaseSize(deps.sql, deps.metrics);
  deps.log.info('Watchdog', { minutesSinceSuccess, databaseBytes });
  deps.metrics.flush();
  return { minutesSinceSuccess, databaseBytes };
}

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
