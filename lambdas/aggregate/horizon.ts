/**
 * The raw horizon of analytics_events (issue 26.10; docs/decisions.md "Late events and the raw horizon").
 *
 * Retention exports raw events older than 90 days to cold storage; the aggregates live a year or
 * more. The horizon is the time of the newest raw event retention has exported (`raw_horizon()`,
 * sql/015: the latest `range_end` in archive_manifest). Raw events at or before it may be in cold
 * storage only, so:
 * - an aggregate bucket is recomputed from PostgreSQL only if its period starts AFTER the horizon
 *   (`recomputable`); older buckets stay as they are (the registry's SQL enforces it in the same
 *   snapshot as it reads the raw rows; the runner counts and logs them; an explicit recompute of
 *   such a period is refused with `BeyondHorizonError`);
 * - ingest refuses a late event whose periods are not all recomputable (`lateThreshold`): it would
 *   never be counted, so it goes to analytics_events_rejected with the reason, like any refused event.
 */
import type { SqlExecutor } from '../shared/sql/types';
import { formatInZone } from '../shared/time';
import { nextPeriod, type Period, PeriodError, periodContaining } from './periods';

/** The raw table the aggregations read. */
export const RAW_TABLE = 'analytics_events';

/** Refused: recomputing this period would read raw events that are already in cold storage. */
export class BeyondHorizonError extends PeriodError {}

const toDate = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string));

/** The horizon (null: nothing exported yet). One indexed query. */
export async function readRawHorizon(sql: SqlExecutor): Promise<Date | null> {
  const [r] = await sql.query<{ horizon: string | null }>('SELECT raw_horizon($1::text) AS horizon', [
    { sqlType: 'text', value: RAW_TABLE },
  ]);
  return toDate(r?.horizon);
}

/**
 * The raw horizon's lock, for the whole transaction (an advisory lock): ingest's insert statement holds
 * it shared while it writes a chunk it judged against the horizon (sql/029 takes it, with this key);
 * retention holds it alone from its last look at what
 * the aggregations still need to the commit of an object of raw events (lambdas/retention/
 * aggregation-hold.ts). So the horizon never moves between ingest's look and its insert, and no
 * late-data invalidation commits between retention's look and its delete. Held for a chunk or a
 * commit, never for a run.
 */
export async function lockRawHorizon(tx: SqlExecutor, mode: 'shared' | 'exclusive'): Promise<void> {
  await tx.query(`SELECT ${mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock'}(hashtext($1::text))`, [
    { sqlType: 'text', value: `raw_horizon:${RAW_TABLE}` },
  ]);
}

/** The horizon and the zones the aggregations run in (their watermarks), for ingest: read per pass, and again under the lock per chunk. */
export async function readIngestHorizon(sql: SqlExecutor): Promise<{ horizon: Date | null; zones: string[] }> {
  const [r] = await sql.query<{ horizon: string | null; zones: string | null }>(
    `SELECT raw_horizon($1::text) AS horizon, (SELECT string_agg(DISTINCT time_zone, ',') FROM agg_watermarks) AS zones`,
    [{ sqlType: 'text', value: RAW_TABLE }],
  );
  return { horizon: toDate(r?.horizon), zones: r?.zones ? r.zones.split(',') : [] };
}

/** Whether a bucket starting at `start` can be recomputed from the raw rows in PostgreSQL. */
export const recomputable = (start: Date, horizon: Date | null): boolean => horizon === null || start.getTime() > horizon.getTime();

const HOUR = 3_600_000;

/**
 * The first instant from which every aggregate period of an event (its hour, day, ISO week and
 * month) starts after the horizon, in each of `zones`: an event before it falls in a period whose
 * raw events are (partly) in cold storage. Hours and days nest in months; weeks do not, so it is
 * the later of the ends of the month and of the week that contain the horizon. With no zone known
 * (no aggregation has run yet), the widest bound over every zone (offsets −12 h … +14 h).
 */
export function lateThreshold(horizon: Date, zones: readonly string[]): Date {
  const endOf = (at: Date, zone: string) =>
    Math.max(periodContaining('monthly', at, zone).end.getTime(), periodContaining('weekly', at, zone).end.getTime());
  if (zones.length === 0) return new Date(endOf(new Date(horizon.getTime() + 14 * HOUR), 'UTC') + 12 * HOUR);
  return new Date(Math.max(...zones.map((z) => endOf(horizon, z))));
}

/** The reason a late event is refused (kept in analytics_events_rejected). */
export function lateReason(horizon: Date, threshold: Date): string {
  return (
    `late: raw events of its period are already in cold storage (raw horizon ${horizon.toISOString()}), ` +
    `so its aggregates can no longer be recomputed and it would never be counted; ` +
    `events from ${threshold.toISOString()} on are accepted`
  );
}

/** The first period of `p`'s granularity that can be recomputed. */
export function firstRecomputable(p: Period, horizon: Date, timeZone: string): Period {
  let q = periodContaining(p.granularity, horizon, timeZone);
  while (!recomputable(q.start, horizon)) q = nextPeriod(q, timeZone);
  return q;
}

/** Refuses an explicit recompute (`--period`, `--from/--to`) that reaches a period at or before the horizon. */
export function assertRecomputable(job: string, periods: readonly Period[], horizon: Date | null, timeZone: string): void {
  if (horizon === null) return;
  const first = periods[0];
  if (!first || recomputable(first.start, horizon)) return;
  const next = firstRecomputable(first, horizon, timeZone);
  const from = next.granularity === 'hourly' ? next.label : next.key;
  throw new BeyondHorizonError(
    `${job}: the ${first.granularity} period starting ${first.label} cannot be recomputed: raw analytics events up to ` +
      `${formatInZone(horizon, timeZone)} (the raw horizon) are in cold storage only, and recomputing from what is left ` +
      `would lower its figures; its aggregate stays as it is. The first ${first.granularity} period that can be recomputed ` +
      `starts ${next.label} (--from ${from}).`,
  );
}
