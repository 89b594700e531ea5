/**
 * The ingest path shared by the Lambda (SQS records) and `npm run ingest` (lines of a file):
 * parse, validate, then per chunk ONE statement that inserts the valid events idempotently (by id),
 * logs the late-data invalidations of already-aggregated periods, and keeps the rejected events.
 * The same statement updates the dashboard's per-entity state (a trigger on analytics_events,
 * sql/010_dashboard_state.sql: it sees only the rows inserted, so a redelivery changes nothing).
 *
 * A chunk is all-or-nothing (one statement): when the database fails, exactly the records of the
 * chunk in hand fail (SQS retries them, then its DLQ keeps them); chunks already
 * written stay written.
 *
 * Late beyond the raw horizon (lambdas/aggregate/horizon.ts): an event whose hour, day, ISO week or
 * month (in the aggregation zones) starts at or before the newest raw event retention exported
 * would never be counted (those buckets are not recomputed from partial raw data): it is rejected
 * with that reason, kept and counted (`late`), never dropped. The horizon is read once per pass and
 * checked again under its lock when each chunk is written (`ingestPass`): a chunk judged against a
 * horizon retention has since moved is judged again.
 */
import { createHash } from 'node:crypto';
import { lateReason, lateThreshold, readIngestHorizon } from '../aggregate/horizon';
import type { Log, MetricsSink } from '../shared/observability';
import type { Clock } from '../shared/runtime';
import { JsonText } from '../shared/sql/bulk';
import { BULK_PARAM_BUDGET_BYTES, type SqlExecutor } from '../shared/sql/types';
import { DEFAULT_RULES, rawEventId, type ValidationRules, validateEvent } from './event';

/** One unit of delivery: an SQS message (many events, the collector's `{"events": [...]}`) or a file line. */
export interface IngestRecord {
  readonly recordId: string;
  readonly body: string;
}

export interface IngestDeps {
  readonly sql: SqlExecutor;
  readonly clock: Clock;
  readonly log: Log;
  readonly metrics?: MetricsSink;
  readonly rules?: ValidationRules;
  /** Written to analytics_events_rejected.source. @default 'sqs' */
  readonly source?: string;
  /** Where record ids are unique (a file's path for `line N` ids); SQS message ids need none. @default '' */
  readonly recordScope?: string;
  /** Events per statement. @default 5000 */
  readonly chunkEvents?: number;
  /**
   * The aggregation zone (lib/config.ts): late events are judged by its periods, and by those of
   * every zone an aggregation has run in (agg_watermarks). None known: the widest bound of any zone.
   */
  readonly timeZone?: string;
}

export interface Rejection {
  readonly recordId: string;
  readonly eventId: string | null;
  readonly reason: string;
}

export interface IngestResult {
  /** Events inserted now. */
  accepted: number;
  /** Valid events already present (a redelivery): not inserted again. */
  duplicates: number;
  rejected: number;
  /**
   * Valid events refused as late beyond the raw horizon (their periods' raw events are already in
   * cold storage): counted in `rejected` (or `rejectedDuplicates` on a redelivery) too.
   */
  late: number;
  /** Rejected events of a redelivered record, already kept by an earlier delivery: not kept again. */
  rejectedDuplicates: number;
  /** Late-data invalidation rows written (new (table, property, period) keys). */
  invalidations: number;
  /** Records whose chunk the database refused: to be retried by SQS. */
  failedRecordIds: string[];
  /** The first rejection reasons (at most 20), for people. */
  firstRejections: Rejection[];
  /** The database errors that failed records. */
  errors: string[];
}

interface RejectedRow {
  /** Digest of (source, record id, position in the record, raw text): the same on every redelivery. */
  dedup_key: string;
  event_id: string | null;
  raw: string;
  reason: string;
  source: string;
  /** The record it came from (for the first rejections; not stored). */
  record_id: string;
}

const INSERT = `
WITH hz AS (
  -- the raw horizon's lock, shared, and the horizon still the one the events were judged against (sql/029)
  SELECT ingest_horizon_holds($3::timestamptz, $4::jsonb) AS holds
), input AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(
    id text, event_type text, occurred_at timestamptz, property_id text, channel text, guest_id text, staff_id text,
    conversation_id text, task_id text, value double precision, duration_ms integer, metadata jsonb)
  WHERE (SELECT holds FROM hz)
), ins AS (
  INSERT INTO analytics_events (id, event_type, occurred_at, property_id, channel, guest_id, staff_id, conversation_id,
                                task_id, value, duration_ms, metadata)
  SELECT id, event_type, occurred_at, property_id, channel, guest_id, staff_id, conversation_id, task_id, value, duration_ms,
         COALESCE(metadata, '{}'::jsonb)
  FROM input
  ON CONFLICT (id) DO NOTHING
  RETURNING event_type, occurred_at, property_id
), w AS (
  SELECT agg_table, unit, time_zone, event_types, aggregated_through, covers_unregistered FROM agg_watermarks FOR SHARE
), inv AS (
  -- judged by the watermark of the event's property's zone (sql/021): its registered zone, or the
  -- deployment's for an unregistered property; the row names an instant inside the period to recompute
  INSERT INTO agg_invalidations (agg_table, property_id, period_start)
  SELECT DISTINCT w.agg_table, ins.property_id, agg_period_probe(w.unit, ins.occurred_at, w.time_zone)
  FROM ins LEFT JOIN properties p ON p.property_id = ins.property_id
  JOIN w ON ins.occurred_at < w.aggregated_through AND ins.event_type = ANY (w.event_types)
        AND (w.time_zone = p.time_zone OR (p.property_id IS NULL AND w.covers_unregistered))
  ON CONFLICT DO NOTHING
  RETURNING 1
), rej AS (
  INSERT INTO analytics_events_rejected (dedup_key, event_id, raw, reason, source)
  SELECT dedup_key, event_id, raw, reason, source
  FROM jsonb_to_recordset($2::jsonb) AS r(dedup_key text, event_id text, raw text, reason text, source text)
  ON CONFLICT (dedup_key) DO NOTHING
  RETURNING 1
)
SELECT (SELECT count(*) FROM input)::int AS valid, (SELECT count(*) FROM ins)::int AS inserted,
       (SELECT count(*) FROM inv)::int AS invalidated, (SELECT count(*) FROM rej)::int AS rejected`;

/** A rejected event's identity across redeliveries of its record (see sql/012). */
export const dedupKey = (source: string, recordId: string, position: number, raw: string) =>
  createHash('sha256')
    .update(JSON.stringify([source, recordId, position, raw]))
    .digest('hex');

/** PostgreSQL text cannot hold NUL: keep the raw text readable and storable. */
const storable = (s: string) => s.replaceAll('\u0000', '\\u0000');

/** The events of one record: `{"events": [...]}`, a JSON array, or one event object. */
export function eventsOf(body: string): { events: unknown[] } | { error: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (e) {
    return { error: `message body is not JSON: ${(e as Error).message}` };
  }
  if (Array.isArray(parsed)) return { events: parsed };
  if (parsed && typeof parsed === 'object' && 'events' in parsed) {
    const events = (parsed as { events: unknown }).events;
    if (!Array.isArray(events)) return { error: '"events" must be an array' };
    return { events };
  }
  return { events: [parsed] };
}

/** A pass's horizon no longer holds when its chunk is written: the chunk's records are judged again. */
class HorizonMoved extends Error {}

/** How many times a record is judged against a horizon that moved before its chunk was written. */
const HORIZON_PASSES = 3;

interface Horizon {
  /** What the late rule compares with, as read: the raw horizon and the aggregation zones. */
  readonly horizon: Date | null;
  readonly zones: string[];
  readonly late?: { readonly from: number; readonly reason: string };
}

async function readHorizon(sql: SqlExecutor, timeZone: string | undefined): Promise<Horizon> {
  const { horizon, zones } = await readIngestHorizon(sql);
  if (!horizon) return { horizon, zones };
  const from = lateThreshold(horizon, [...new Set([...zones, ...(timeZone ? [timeZone] : [])])]);
  return { horizon, zones, late: { from: from.getTime(), reason: lateReason(horizon, from) } };
}

export async function ingest(deps: IngestDeps, records: readonly IngestRecord[]): Promise<IngestResult> {
  const result: IngestResult = {
    accepted: 0,
    duplicates: 0,
    rejected: 0,
    late: 0,
    rejectedDuplicates: 0,
    invalidations: 0,
    failedRecordIds: [],
    firstRejections: [],
    errors: [],
  };
  let pending = records;
  for (let pass = 1; pending.length > 0; pass++) {
    // The raw horizon, once per pass: events before `late.from` fall in periods already (partly) in cold storage.
    let horizon: Horizon;
    try {
      horizon = await readHorizon(deps.sql, deps.timeZone);
    } catch (err) {
      const message = (err as Error).message;
      deps.log.error('Ingest: the raw horizon could not be read; every record fails and will be retried', { error: message });
      result.failedRecordIds.push(...pending.map((r) => r.recordId));
      result.errors.push(message);
      break;
    }
    const moved = await ingestPass(deps, pending, horizon, result, pass === HORIZON_PASSES);
    if (moved.length > 0)
      deps.log.info('Ingest: retention moved the raw horizon while these records were judged; judging them again', {
        records: moved.length,
        pass,
      });
    pending = moved;
  }
  if (deps.metrics) {
    deps.metrics.add('EventsAccepted', result.accepted);
    deps.metrics.add('EventsDuplicate', result.duplicates);
    deps.metrics.add('EventsRejected', result.rejected);
    deps.metrics.add('EventsLateBeyondHorizon', result.late);
    deps.metrics.add('LateDataInvalidations', result.invalidations);
    deps.metrics.add('RecordsFailed', result.failedRecordIds.length);
  }
  if (result.rejected > 0)
    deps.log.warn('Ingest: events rejected (kept in analytics_events_rejected)', { rejected: result.rejected, late: result.late });
  return result;
}

/**
 * One pass over `records` against `horizon`: validated, then written a chunk at a time. Each chunk's
 * statement takes the raw horizon's lock shared (retention takes it alone to commit an object of raw
 * events, lambdas/retention/aggregation-hold.ts) and checks the horizon again under it (sql/029): if
 * retention moved it since the pass read it, the chunk is not written and its records are returned, to
 * be judged again (on the `last` pass they fail instead, and SQS retries them). So no event is accepted
 * against a horizon that no longer holds, and no late-data invalidation is committed that retention's
 * last look before its delete could miss.
 */
async function ingestPass(
  deps: IngestDeps,
  records: readonly IngestRecord[],
  horizon: Horizon,
  result: IngestResult,
  last: boolean,
): Promise<IngestRecord[]> {
  const rules = deps.rules ?? DEFAULT_RULES;
  const source = deps.source ?? 'sqs';
  const now = deps.clock.now();
  const maxEvents = deps.chunkEvents ?? 5_000;
  const { late } = horizon;
  const moved: IngestRecord[] = [];
  // Chunks of whole records: a record is never split across statements.
  type Chunk = { records: IngestRecord[]; valid: string[]; rejected: RejectedRow[]; late: number; bytes: number };
  const empty = (): Chunk => ({ records: [], valid: [], rejected: [], late: 0, bytes: 0 });
  let chunk = empty();
  const flush = async () => {
    if (chunk.records.length === 0) return;
    const c = chunk;
    chunk = empty();
    try {
      const r = await writeChunk(deps.sql, c.valid, c.rejected, horizon);
      result.accepted += r.inserted;
      result.duplicates += r.valid - r.inserted;
      result.rejected += r.rejected;
      result.late += c.late;
      result.rejectedDuplicates += c.rejected.length - r.rejected;
      result.invalidations += r.invalidated;
      for (const x of c.rejected)
        if (result.firstRejections.length < 20)
          result.firstRejections.push({ recordId: x.record_id, eventId: x.event_id, reason: x.reason });
    } catch (err) {
      if (err instanceof HorizonMoved && !last) {
        moved.push(...c.records);
        return;
      }
      const message = (err as Error).message;
      deps.log.error('Ingest: the database refused a chunk; its records fail and will be retried', {
        records: c.records.length,
        error: message,
      });
      result.failedRecordIds.push(...c.records.map((r) => r.recordId));
      result.errors.push(message);
    }
  };
  for (const rec of records) {
    const valid: string[] = [];
    const rejected: RejectedRow[] = [];
    let lateHere = 0;
    const parsed = eventsOf(rec.body);
    const reject = (position: number, eventId: string | null, raw: string, reason: string) =>
      rejected.push({
        dedup_key: dedupKey(source, `${deps.recordScope ?? ''}${rec.recordId}`, position, raw),
        event_id: eventId,
        raw,
        reason: storable(reason),
        source,
        record_id: rec.recordId,
      });
    if ('error' in parsed) reject(-1, null, storable(rec.body), parsed.error);
    else
      parsed.events.forEach((ev, position) => {
        const v = validateEvent(ev, now, rules);
        if (!v.ok) reject(position, rawEventId(ev), storable(JSON.stringify(ev) ?? String(ev)), v.reason);
        else if (late && Date.parse(v.row.occurred_at) < late.from) {
          lateHere++;
          reject(position, v.row.id, storable(JSON.stringify(ev)), late.reason);
        } else valid.push(v.json);
      });
    const bytes = valid.reduce((n, s) => n + s.length + 1, 0) + rejected.reduce((n, r) => n + r.raw.length + r.reason.length + 140, 0);
    if (chunk.records.length > 0 && (chunk.valid.length + valid.length > maxEvents || chunk.bytes + bytes > BULK_PARAM_BUDGET_BYTES))
      await flush();
    chunk.records.push(rec);
    chunk.valid.push(...valid);
    chunk.rejected.push(...rejected);
    chunk.late += lateHere;
    chunk.bytes += bytes;
  }
  await flush();
  return moved;
}

/**
 * One chunk, in one statement that first takes the raw horizon's lock shared and checks the horizon is
 * still the one the chunk was judged against (sql/029: HorizonMoved if not, and nothing is written).
 */
async function writeChunk(sql: SqlExecutor, valid: readonly string[], rejected: readonly RejectedRow[], judged: Horizon) {
  try {
    const [r] = await sql.query<{ valid: number; inserted: number; invalidated: number; rejected: number }>(INSERT, [
      { sqlType: 'jsonb', value: new JsonText(`[${valid.join(',')}]`) },
      { sqlType: 'jsonb', value: new JsonText(JSON.stringify(rejected.map(({ record_id: _, ...row }) => row))) },
      { sqlType: 'timestamptz', value: judged.horizon },
      { sqlType: 'jsonb', value: judged.zones },
    ]);
    if (!r) throw new Error('the insert returned no row');
    return r;
  } catch (err) {
    if (/raw horizon moved/.test((err as Error).message)) throw new HorizonMoved((err as Error).message);
    throw err;
  }
}
