/**
 * The one runner of every aggregation in the registry.
 *
 * A run recomputes a set of buckets in one transaction that holds the aggregation's advisory lock
 * (concurrent runs serialize and write the same rows):
 * - scheduled (no period given): the newly closed period(s) since the watermark (missed runs are
 *   caught up) plus exactly the (property, period) buckets in the invalidation log, claimed here;
 * - `period`: one closed period; `range`: every closed period in [from, to). A period that has not
 *   closed is refused. The invalidations of those periods are claimed (the recompute covers them).
 * Before recomputing newly closed periods, the watermark is advanced in its own transaction, so an
 * event ingested from then on for those periods is logged as late data (ingest locks the watermark rows FOR SHARE).
 *
 * Never from partial raw data (lambdas/aggregate/horizon.ts): a bucket whose period starts at or
 * before the raw horizon (raw events up to it may be in cold storage only) is left as it is — not
 * recomputed, not zeroed —, counted (`buckets_beyond_horizon`) and logged; an explicit `period` or
 * `range` that reaches one is refused (BeyondHorizonError) before anything is written.
 */
import type { Log } from '../shared/observability';
import { registeredZones, zonesOf } from '../shared/properties';
import type { Clock } from '../shared/runtime';
import type { Sql, SqlExecutor } from '../shared/sql/types';
import { formatInZone } from '../shared/time';
import { assertRecomputable, readRawHorizon } from './horizon';
import {
  lastClosed,
  NoWholePeriodError,
  nextPeriod,
  type Period,
  PeriodError,
  parseLocal,
  parsePeriod,
  periodContaining,
  periodsWithin,
  UNIT,
} from './periods';
import type { AggregationDefinition } from './registry';
import { refreshTokenRollups, type TokenRefresh } from './tokens';

export type AggregateMode =
  /**
   * What a schedule does: in each zone, the periods closed since its watermark. `graceMinutes`: a
   * period closes that long after it ends in its zone. `onlyNew`: a zone where nothing has closed
   * since its watermark is left alone (the deployed daily, weekly and monthly jobs run every hour);
   * without it, its last closed period is recomputed.
   */
  | { kind: 'scheduled'; graceMinutes?: number; onlyNew?: boolean }
  /** One closed period; `property`: that property's only (in its zone). */
  | { kind: 'period'; start: string; property?: string }
  /**
   * Every closed period in [from, to); `property`: that property's only. `sweepZone` (a property's
   * zone change): the property's rows keyed by that zone's periods in the range, which the new
   * zone's periods do not produce, are zeroed.
   */
  | { kind: 'range'; from: string; to: string; property?: string; sweepZone?: string };

export interface AggregateDeps {
  readonly sql: Sql;
  readonly log: Log;
  readonly clock: Clock;
}

export interface AggregateResult {
  readonly job: string;
  readonly table: string;
  /** The deployment's zone (unregistered properties). */
  readonly timeZone: string;
  /** Whole periods recomputed (every property of their zone), their keys in order, each once. */
  readonly periods: string[];
  /** The same per zone: each property's periods are its zone's (sql/021 `properties`). */
  readonly zones: { timeZone: string; periods: string[] }[];
  /** (property, period) buckets recomputed from the invalidation log. */
  readonly invalidatedBuckets: { property_id: string; period: string }[];
  /**
   * Buckets left as they are because their period starts at or before the raw horizon (their raw
   * events are partly in cold storage): property null = the whole period.
   */
  readonly bucketsBeyondHorizon: { property_id: string | null; period: string }[];
  /** The raw horizon the run saw (null: no raw event exported yet). */
  readonly rawHorizon: string | null;
  /** Rows the aggregation produced, rows it changed (inserted or updated), rows it zeroed. */
  readonly rowsComputed: number;
  readonly rowsWritten: number;
  readonly rowsZeroed: number;
  readonly tokens?: TokenRefresh;
}

/** Refused: the period has not closed yet (its end is after now). */
export class PeriodNotClosedError extends PeriodError {}

/** Catch-up bound for a scheduled run after an outage (older periods: `--from/--to`). */
const MAX_CATCH_UP = 1_000;

interface Bucket {
  /** null: every property whose zone is `time_zone` (registered there, or unregistered when it is `default_zone`). */
  property_id: string | null;
  period_start: string;
  period_end: string;
  period_key: string;
  /** The zone the period is in (figures defined per local day within a longer period need it). */
  time_zone: string;
  /** The deployment's zone: the zone of every unregistered property. */
  default_zone: string;
}

/** The periods of one zone a run recomputes. */
export interface ZonePeriods {
  readonly timeZone: string;
  readonly periods: Period[];
}

function closedOnly(def: AggregationDefinition, periods: Period[], now: Date, timeZone: string): void {
  for (const p of periods)
    if (p.end > now)
      throw new PeriodNotClosedError(
        `${def.name}: the ${def.granularity} period starting ${p.label} has not closed (it ends ${formatInZone(p.end, timeZone)}, ` +
          `now is ${formatInZone(now, timeZone)}); only closed periods are aggregated`,
      );
}

/** The periods an explicit request names in one zone (`period`: one; `range`: every whole period in [from, to)). */
export function requestedPeriods(
  def: AggregationDefinition,
  mode: Exclude<AggregateMode, { kind: 'scheduled' }>,
  timeZone: string,
): Period[] {
  const g = def.granularity;
  if (mode.kind === 'period') return [parsePeriod(g, mode.start, timeZone)];
  const from = parseLocal(mode.from, timeZone);
  const to = parseLocal(mode.to, timeZone);
  if (!(from < to)) throw new PeriodError(`--from ${mode.from} must be before --to ${mode.to}`);
  const periods = periodsWithin(g, from, to, timeZone);
  if (periods.length === 0) throw new NoWholePeriodError(`no whole ${g} period lies in [${mode.from}, ${mode.to}) in ${timeZone}`);
  return periods;
}

/**
 * The zones a run closes periods in: the deployment's and every registered property's (only the
 * property's, when the request names one). A local date or hour in a request means that local
 * period in each zone.
 */
export async function zonesToRun(sql: SqlExecutor, defaultZone: string, property?: string) {
  const registered = await registeredZones(sql);
  const zoneOf = (p: string) => registered.get(p) ?? defaultZone;
  return { registered, zoneOf, zones: property ? [zoneOf(property)] : zonesOf(registered, defaultZone) };
}

/** The periods of an explicit request in every zone it runs in. */
export function requestedZonePeriods(
  def: AggregationDefinition,
  mode: Exclude<AggregateMode, { kind: 'scheduled' }>,
  zones: readonly string[],
): ZonePeriods[] {
  return zones.map((timeZone) => ({ timeZone, periods: requestedPeriods(def, mode, timeZone) }));
}

export async function runAggregation(
  deps: AggregateDeps,
  def: AggregationDefinition,
  mode: AggregateMode,
  defaultZone: string,
): Promise<AggregateResult> {
  const now = deps.clock.now();
  const g = def.granularity;
  const property = mode.kind === 'scheduled' ? undefined : mode.property;
  const { zoneOf, zones } = await zonesToRun(deps.sql, defaultZone, property);
  let plan: ZonePeriods[];
  if (mode.kind !== 'scheduled') plan = requestedZonePeriods(def, mode, zones);
  else {
    // One schedule, per-zone closing: each zone's periods close when they have ended in that zone.
    const marks = await deps.sql.query<{ through: string; time_zone: string }>(
      // computed_through: what earlier runs computed (sql/027), not only announced — a run that failed between
      // announcing its periods and computing them leaves them to this one
      'SELECT COALESCE(computed_through, aggregated_through) AS through, time_zone FROM agg_watermarks WHERE agg_table = $1::text',
      [{ sqlType: 'text', value: def.table }],
    );
    const closeAt = new Date(now.getTime() - (mode.graceMinutes ?? 0) * 60_000);
    plan = zones.map((timeZone) => {
      const last = lastClosed(g, closeAt, timeZone);
      const w = marks.find((m) => m.time_zone === timeZone);
      let periods = [last];
      if (mode.onlyNew && w && Date.parse(w.through) >= last.end.getTime()) periods = [];
      else if (w && Date.parse(w.through) < last.end.getTime()) {
        periods = [];
        for (let p = periodContaining(g, new Date(w.through), timeZone); p.start < last.end; p = nextPeriod(p, timeZone)) periods.push(p);
        if (periods.length > MAX_CATCH_UP) {
          deps.log.warn(
            `${def.name}: ${periods.length} periods to catch up in ${timeZone}; recomputing the latest ${MAX_CATCH_UP} (use --from/--to for older ones)`,
          );
          periods = periods.slice(-MAX_CATCH_UP);
        }
      }
      return { timeZone, periods };
    });
    plan = plan.filter((z) => z.periods.length > 0);
  }
  for (const z of plan) closedOnly(def, z.periods, now, z.timeZone);
  if (mode.kind !== 'scheduled') {
    const horizon = await readRawHorizon(deps.sql);
    for (const z of plan) assertRecomputable(def.name, z.periods, horizon, z.timeZone);
  }
  const all = plan.flatMap((z) => z.periods);
  const first = all.reduce<Period | undefined>((a, p) => (a === undefined || p.start < a.start ? p : a), undefined);
  const lastEnd = new Date(Math.max(...all.map((p) => p.end.getTime())));

  if (mode.kind === 'scheduled' && plan.length > 0) {
    // Its own transaction, committed first: waits for in-flight ingests (they hold the rows FOR SHARE).
    await deps.sql.execute(
      `WITH marks AS (
         SELECT * FROM jsonb_to_recordset($4::jsonb) AS m(time_zone text, through timestamptz, since timestamptz)
       ), up AS (
         INSERT INTO agg_watermarks (agg_table, unit, time_zone, event_types, aggregated_through, covers_unregistered, computed_through)
         SELECT $1::text, $2::text, m.time_zone, ARRAY(SELECT jsonb_array_elements_text($3::jsonb)), m.through, m.time_zone = $5::text, m.since
         FROM marks m
         ON CONFLICT (agg_table, time_zone) DO UPDATE SET unit = EXCLUDED.unit, event_types = EXCLUDED.event_types,
           aggregated_through = GREATEST(agg_watermarks.aggregated_through, EXCLUDED.aggregated_through),
           covers_unregistered = EXCLUDED.covers_unregistered, updated_at = now()
         RETURNING 1
       )
       UPDATE agg_watermarks SET covers_unregistered = false, updated_at = now()
       WHERE agg_table = $1::text AND covers_unregistered AND time_zone <> $5::text`,
      [
        { sqlType: 'text', value: def.table },
        { sqlType: 'text', value: UNIT[g] },
        { sqlType: 'jsonb', value: def.eventTypes },
        {
          sqlType: 'jsonb',
          value: plan.map((z) => ({
            time_zone: z.timeZone,
            through: (z.periods.at(-1) as Period).end.toISOString(),
            since: (z.periods[0] as Period).start.toISOString(),
          })),
        },
        { sqlType: 'text', value: defaultZone },
      ],
    );
  }

  return deps.sql.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1::text))', [{ sqlType: 'text', value: `aggregate:${def.table}` }]);
    const claimed =
      mode.kind === 'scheduled'
        ? await tx.query<{ property_id: string; period_start: string }>(
            'DELETE FROM agg_invalidations WHERE agg_table = $1::text RETURNING property_id, period_start',
            [{ sqlType: 'text', value: def.table }],
          )
        : await tx.query<{ property_id: string; period_start: string }>(
            `DELETE FROM agg_invalidations WHERE agg_table = $1::text AND period_start >= $2::timestamptz AND period_start < $3::timestamptz
               AND ($4::text IS NULL OR property_id = $4::text)
             RETURNING property_id, period_start`,
            [
              { sqlType: 'text', value: def.table },
              { sqlType: 'timestamptz', value: (first as Period).start },
              { sqlType: 'timestamptz', value: lastEnd },
              { sqlType: 'text', value: property ?? null },
            ],
          );
    const bucket = (p: Period, prop: string | null, timeZone: string): Bucket => ({
      property_id: prop,
      period_start: p.start.toISOString(),
      period_end: p.end.toISOString(),
      period_key: p.key,
      time_zone: timeZone,
      default_zone: defaultZone,
    });
    const whole = new Set(plan.flatMap((z) => z.periods.map((p) => `${z.timeZone}\u0000${p.key}`)));
    const buckets = plan.flatMap((z) => z.periods.map((p) => bucket(p, property ?? null, z.timeZone)));
    if (mode.kind === 'range' && mode.sweepZone && property) {
      // the property's rows keyed by its former zone's periods: zeroed unless this run writes the same key
      // (an empty window: no event is read for them)
      // over the whole requested range: the former zone's periods there need not line up with the new zone's
      const sweepFrom = Math.min((first as Period).start.getTime(), parseLocal(mode.from, mode.sweepZone).getTime());
      const sweepTo = Math.max(lastEnd.getTime(), parseLocal(mode.to, mode.sweepZone).getTime());
      for (const p of periodsWithin(g, new Date(sweepFrom), new Date(sweepTo), mode.sweepZone))
        if (p.end <= now) buckets.push({ ...bucket(p, property, mode.sweepZone), period_end: p.start.toISOString() });
    }
    const invalidated: { property_id: string; period: string }[] = [];
    const seen = new Set<string>();
    for (const c of claimed) {
      const zone = zoneOf(c.property_id);
      const p = periodContaining(g, new Date(c.period_start), zone);
      const id = `${c.property_id}\u0000${p.key}`;
      if (whole.has(`${zone}\u0000${p.key}`) || seen.has(id) || p.end > now) continue;
      seen.add(id);
      buckets.push(bucket(p, c.property_id, zone));
      invalidated.push({ property_id: c.property_id, period: p.key });
    }
    const [r] = await tx.query<{
      computed: number;
      written: number;
      zeroed: number;
      horizon: string | null;
      beyond: { property_id: string | null; period: string }[];
    }>(def.sql, [{ sqlType: 'jsonb', value: buckets }]);
    const beyond = r?.beyond ?? [];
    const idOf = (x: { property_id: string | null; period: string }) => JSON.stringify([x.property_id, x.period]);
    const skipped = new Set(beyond.map(idOf));
    const kept = (x: { property_id: string | null; period: string }) => !skipped.has(idOf(x));
    const recomputed = invalidated.filter(kept);
    recomputed.sort((a, b) => (a.period + a.property_id).localeCompare(b.period + b.property_id));
    const tokens = def.refreshesTokenRollups && mode.kind === 'scheduled' ? await refreshTokenRollups(tx) : undefined;
    if (mode.kind === 'scheduled' && plan.length > 0)
      // computed, in the transaction that wrote the buckets: the next run plans from here (sql/027)
      await tx.execute(
        `UPDATE agg_watermarks w SET computed_through = GREATEST(w.computed_through, m.through)
           FROM jsonb_to_recordset($2::jsonb) AS m(time_zone text, through timestamptz)
          WHERE w.agg_table = $1::text AND w.time_zone = m.time_zone`,
        [
          { sqlType: 'text', value: def.table },
          {
            sqlType: 'jsonb',
            value: plan.map((z) => ({ time_zone: z.timeZone, through: (z.periods.at(-1) as Period).end.toISOString() })),
          },
        ],
      );
    const zonesOut = plan.map((z) => ({
      timeZone: z.timeZone,
      periods: z.periods.map((p) => p.key).filter((period) => kept({ property_id: property ?? null, period })),
    }));
    const result: AggregateResult = {
      job: def.name,
      table: def.table,
      timeZone: defaultZone,
      periods: [...new Set(zonesOut.flatMap((z) => z.periods))],
      zones: zonesOut,
      invalidatedBuckets: recomputed,
      bucketsBeyondHorizon: beyond,
      rawHorizon: r?.horizon ?? null,
      rowsComputed: r?.computed ?? 0,
      rowsWritten: r?.written ?? 0,
      rowsZeroed: r?.zeroed ?? 0,
      ...(tokens ? { tokens } : {}),
    };
    deps.log.info(
      `${def.name}: ${all.length} period(s) in ${plan.length} zone(s)${first ? ` from ${first.label}` : ''}, ${invalidated.length} late-data bucket(s)`,
      { rowsWritten: result.rowsWritten, rowsZeroed: result.rowsZeroed },
    );
    if (beyond.length > 0)
      deps.log.warn(
        `${def.name}: ${beyond.length} bucket(s) left as they are: their periods start at or before the raw horizon ` +
          `${result.rawHorizon} (raw events up to it are in cold storage only; recomputing would lower good figures)`,
        { bucketsBeyondHorizon: beyond.slice(0, 20) },
      );
    return result;
  });
}

/** The ledger counters of a run. */
export function countersOf(r: AggregateResult): Record<string, number> {
  return {
    periods_aggregated: r.periods.length,
    late_buckets_recomputed: r.invalidatedBuckets.length,
    buckets_beyond_horizon: r.bucketsBeyondHorizon.length,
    rows_computed: r.rowsComputed,
    rows_written: r.rowsWritten,
    rows_zeroed: r.rowsZeroed,
    ...(r.tokens ? { token_days_refreshed: r.tokens.days } : {}),
  };
}
