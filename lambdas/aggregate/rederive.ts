/**
 * A property's zone changed (lambdas/shared/properties.ts `setProperty`, from the CLI or the API):
 * the change left one row per aggregate table in `property_rederivations` (sql/025). Re-deriving a
 * table for the property recomputes its closed periods in the new zone from its first raw event after
 * the raw horizon up to now, and zeroes its rows keyed by the former zone's periods there that the new
 * zone does not produce (a `range` run with `sweepZone`); the row is then removed. Periods at or
 * before the raw horizon keep the former zone's figures (their raw events are in cold storage only;
 * restore them first to re-derive those). The CLI runs this at once for every table; each deployed
 * aggregation runs it for its table at its next scheduled run. A failure leaves the row for the next run.
 */
import type { Sql } from '../shared/sql/types';
import { type AggregateDeps, type AggregateResult, runAggregation, zonesToRun } from './aggregate';
import { lastClosed, NoWholePeriodError, periodContaining } from './periods';
import type { AggregationDefinition } from './registry';

export interface Rederivation {
  readonly property: string;
  readonly previousTimeZone: string;
  readonly timeZone: string;
  /** The range recomputed (absent: nothing closed after the raw horizon to recompute). */
  readonly from?: string;
  readonly to?: string;
  readonly result?: AggregateResult;
  /** Why it failed (the row stays; the next run tries again). */
  readonly error?: string;
}

/** The re-derivations waiting for `def`'s table (one property's only, when given). */
export async function pendingRederivations(
  sql: Sql,
  def: AggregationDefinition,
  property?: string,
): Promise<{ property_id: string; previous_zone: string }[]> {
  return sql.query<{ property_id: string; previous_zone: string }>(
    `SELECT property_id, previous_zone FROM property_rederivations
     WHERE agg_table = $1::text AND ($2::text IS NULL OR property_id = $2::text) ORDER BY requested_at, property_id`,
    [
      { sqlType: 'text', value: def.table },
      { sqlType: 'text', value: property ?? null },
    ],
  );
}

/**
 * The range to recompute: from the first period (the earlier-starting of both zones') holding a raw
 * event of the property, after the raw horizon, to the end of the last period closed in its zone.
 */
export async function rederiveRange(
  sql: Sql,
  def: AggregationDefinition,
  property: string,
  zone: string,
  previousZone: string,
  now: Date,
): Promise<{ from: Date; to: Date } | undefined> {
  const [r] = await sql.query<{ first: string | null; horizon: string | null }>(
    `SELECT (SELECT min(occurred_at) FROM analytics_events WHERE property_id = $1::text) AS first, raw_horizon('analytics_events') AS horizon`,
    [property],
  );
  if (!r?.first) return undefined;
  const horizon = r.horizon ? Date.parse(r.horizon) : Number.NEGATIVE_INFINITY;
  let from = Math.min(
    periodContaining(def.granularity, new Date(r.first), zone).start.getTime(),
    periodContaining(def.granularity, new Date(r.first), previousZone).start.getTime(),
  );
  if (from <= horizon) from = periodContaining(def.granularity, new Date(horizon + 1), zone).end.getTime();
  const to = lastClosed(def.granularity, now, zone).end.getTime();
  return from < to ? { from: new Date(from), to: new Date(to) } : undefined;
}

/** Carries out `def`'s pending re-derivations (one property's, when given), each on its own. */
export async function runRederivations(
  deps: AggregateDeps,
  def: AggregationDefinition,
  defaultZone: string,
  property?: string,
): Promise<Rederivation[]> {
  const pending = await pendingRederivations(deps.sql, def, property);
  if (pending.length === 0) return [];
  const { zoneOf } = await zonesToRun(deps.sql, defaultZone);
  const now = deps.clock.now();
  const out: Rederivation[] = [];
  for (const p of pending) {
    const zone = zoneOf(p.property_id);
    const base = { property: p.property_id, previousTimeZone: p.previous_zone, timeZone: zone };
    try {
      const range = await rederiveRange(deps.sql, def, p.property_id, zone, p.previous_zone, now);
      let result: AggregateResult | undefined;
      if (range)
        result = await runAggregation(
          deps,
          def,
          {
            kind: 'range',
            from: range.from.toISOString(),
            to: range.to.toISOString(),
            property: p.property_id,
            // back in a former zone (A → B → A): its periods are the ones recomputed, nothing to sweep
            ...(p.previous_zone !== zone ? { sweepZone: p.previous_zone } : {}),
          },
          defaultZone,
        ).catch((e: unknown) => {
          if (e instanceof NoWholePeriodError) return undefined; // no whole period of this granularity yet
          throw e;
        });
      await deps.sql.execute(
        'DELETE FROM property_rederivations WHERE property_id = $1::text AND agg_table = $2::text AND previous_zone = $3::text',
        [p.property_id, { sqlType: 'text', value: def.table }, p.previous_zone],
      );
      out.push({
        ...base,
        ...(range ? { from: range.from.toISOString(), to: range.to.toISOString() } : {}),
        ...(result ? { result } : {}),
      });
      deps.log.info(`${def.name}: re-derived property ${JSON.stringify(p.property_id)} in ${zone} (was ${p.previous_zone})`, {
        rowsWritten: result?.rowsWritten ?? 0,
        rowsZeroed: result?.rowsZeroed ?? 0,
      });
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      deps.log.error(`${def.name}: re-deriving property ${JSON.stringify(p.property_id)} failed (retried next run): ${error}`, {
        property: p.property_id,
      });
      out.push({ ...base, error });
    }
  }
  return out;
}
