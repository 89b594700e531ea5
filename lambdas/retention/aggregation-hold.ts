/**
 * Retention waits for the aggregations (issue 24's soak, L; sql/028; docs/decisions.md "Retention waits
 * for the aggregations").
 *
 * The aggregations recompute a bucket only while its raw events are all in PostgreSQL (after the raw
 * horizon, lambdas/aggregate/horizon.ts). So retention exports the raw table they read only up to the
 * earliest instant one of them still needs: the first period an aggregation has not computed yet (in
 * a zone it still runs), the first period of a pending late-data invalidation, or the first event of a
 * property whose zone changed and whose aggregates are still to be re-derived. A job that is behind (failing,
 * disabled, run after retention) holds the raw events back rather than losing their counts; the table's
 * report says so, naming the aggregation.
 */
import type { RetentionPolicy } from '../../lib/config';
import { lockRawHorizon, RAW_TABLE } from '../aggregate/horizon';
import { AGGREGATIONS } from '../aggregate/registry';
import type { SqlExecutor } from '../shared/sql/types';

export interface AggregationHold {
  /** The policy's own cutoff, which the run did not reach. */
  readonly policyCutoff: string;
  /** Who needs the raw events from the run's cutoff on. */
  readonly by: string;
}

type NeededRow = { agg_table: string; time_zone: string | null; property_id: string | null; needed_from: string; kind: string };

/** The earliest instant an aggregation still needs raw events from (sql/028), or none. */
async function neededFrom(sql: SqlExecutor): Promise<NeededRow | undefined> {
  const [r] = await sql.query<NeededRow>(
    // truncated to the millisecond: never later than the instant itself
    `SELECT agg_table, time_zone, property_id, kind,
            to_char(needed_from AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS needed_from
       FROM raw_needed_from(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)))`,
    [{ sqlType: 'jsonb', value: AGGREGATIONS.map((a) => a.table) }],
  );
  return r;
}

/** Who needs the raw events from `r.needed_from` on, for people. */
function describe(r: NeededRow): string {
  const job = AGGREGATIONS.find((a) => a.table === r.agg_table)?.name ?? r.agg_table;
  const at = new Date(r.needed_from).toISOString();
  return r.kind === 'invalidated'
    ? `${job} has late events to recount from ${at} (agg_invalidations)`
    : r.kind === 'rederivation'
      ? `${job} has to re-derive ${r.property_id} in its new zone, from its first event at ${at} (property_rederivations)`
      : `${job} has computed only up to ${at}${r.time_zone ? ` in ${r.time_zone}` : ''}`;
}

/** The cutoff to export to (the policy's, or earlier when an aggregation still needs the rows), and why. */
export async function holdForAggregations(
  sql: SqlExecutor,
  policy: RetentionPolicy,
  cutoff: string,
): Promise<{ cutoff: string; hold?: AggregationHold }> {
  if (policy.table !== RAW_TABLE || policy.timeKind !== 'timestamptz') return { cutoff };
  const r = await neededFrom(sql);
  if (!r) return { cutoff };
  const needed = new Date(r.needed_from);
  if (needed.getTime() >= Date.parse(cutoff)) return { cutoff };
  return { cutoff: needed.toISOString(), hold: { policyCutoff: cutoff, by: describe(r) } };
}

/**
 * In the transaction that deletes an object's raw events, after the delete and before the manifest row
 * that moves the horizon: takes the raw horizon's lock alone (waiting for the ingest chunks in flight, lambdas/aggregate/horizon.ts) and looks again.
 * A late event committed since the run's first look can have made an aggregation need these rows
 * (a pending invalidation of a period they fall in): then this says why, and the commit deletes
 * nothing (RowsChanged: the object is discarded, the rows stay for the next run, after the
 * aggregation has recounted). `lastRowTime` is the object's last row's time, as exported (text).
 */
export async function heldAtCommit(tx: SqlExecutor, policy: RetentionPolicy, lastRowTime: string): Promise<string | undefined> {
  if (policy.table !== RAW_TABLE || policy.timeKind !== 'timestamptz') return undefined;
  await lockRawHorizon(tx, 'exclusive');
  const r = await neededFrom(tx);
  if (!r) return undefined;
  const [c] = await tx.query<{ reaches: boolean }>('SELECT $1::text::timestamptz >= $2::text::timestamptz AS reaches', [
    { sqlType: 'text', value: lastRowTime },
    { sqlType: 'text', value: r.needed_from },
  ]);
  return c?.reaches ? `since these rows were exported, ${describe(r)}: nothing deleted, rolled back` : undefined;
}
