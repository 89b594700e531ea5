/**
 * Analytics benchmarks (issue 14):
 * - ingest: the handler's insert path (parse, validate, one statement per chunk) in events/s, next to
 *   the ceiling measured in the same run: a bare INSERT … SELECT of the same JSON (no validation,
 *   no idempotency, no invalidation log).
 * - aggregate: N events over 30 days for 20 properties (generated inside PostgreSQL); one hourly run,
 *   the three daily jobs for one day, the monthly; a late-data rerun touching 1 % of the month's
 *   hourly buckets next to recomputing the whole month, and their ratio.
 */
import { runAggregation } from '../lambdas/aggregate/aggregate';
import { aggregation } from '../lambdas/aggregate/registry';
import { ingest } from '../lambdas/ingest/ingest';
import { memoryLog } from '../lambdas/shared/observability';
import { setProperty } from '../lambdas/shared/properties';
import { JsonText } from '../lambdas/shared/sql/bulk';
import type { PgSql } from '../lambdas/shared/sql/pg-driver';

const TZ = 'Europe/Madrid';
const TYPES = [
  'message.received',
  'message.sent',
  'conversation.started',
  'response.time_recorded',
  'intent.classified',
  'conversation.resolved',
];

export interface IngestBench {
  events: number;
  eventsPerRecord: number;
  seconds: number;
  eventsPerSecond: number;
  ceilingEventsPerSecond: number;
  shareOfCeiling: number;
}

export async function benchIngest(sql: PgSql, events: number, perRecord = 500): Promise<IngestBench> {
  const now = new Date('2025-10-21T12:00:00Z');
  const mk = (prefix: string, i: number) => ({
    id: `${prefix}-${i}`,
    eventType: TYPES[i % TYPES.length],
    timestamp: new Date(now.getTime() - (i % 86_400) * 1000).toISOString(),
    propertyId: `prop-${i % 20}`,
    channel: 'whatsapp',
    conversationId: `c-${Math.floor(i / 8)}`,
    durationMs: i % 60_000,
    metadata: { intent: 'booking' },
  });
  const records = (prefix: string) =>
    Array.from({ length: Math.ceil(events / perRecord) }, (_, r) => ({
      recordId: `r${r}`,
      body: JSON.stringify({ events: Array.from({ length: perRecord }, (_, j) => mk(prefix, r * perRecord + j)) }),
    }));
  // Warm-up, then the measured run (batches of 10 records, as the event source mapping delivers them).
  await ingest({ sql, clock: { now: () => now }, log: memoryLog() }, records('warm').slice(0, 4));
  const recs = records('e');
  const t0 = performance.now();
  for (let i = 0; i < recs.length; i += 10) {
    const r = await ingest({ sql, clock: { now: () => now }, log: memoryLog() }, recs.slice(i, i + 10));
    if (r.failedRecordIds.length > 0) throw new Error(r.errors[0]);
  }
  const seconds = (performance.now() - t0) / 1000;
  // Ceiling: the same rows, already validated and serialized, by a bare INSERT … SELECT.
  await sql.execute('CREATE TEMP TABLE IF NOT EXISTS ceiling_events (LIKE analytics_events INCLUDING DEFAULTS)');
  const rows = Array.from({ length: events }, (_, i) => {
    const e = mk('x', i);
    return JSON.stringify({
      id: e.id,
      event_type: e.eventType,
      occurred_at: e.timestamp,
      property_id: e.propertyId,
      channel: e.channel,
      conversation_id: e.conversationId,
      duration_ms: e.durationMs,
      metadata: e.metadata,
    });
  });
  const t1 = performance.now();
  for (let i = 0; i < rows.length; i += 5_000)
    await sql.execute(
      `INSERT INTO analytics_events (id, event_type, occurred_at, property_id, channel, conversation_id, duration_ms, metadata)
       SELECT id, event_type, occurred_at, property_id, channel, conversation_id, duration_ms, metadata
       FROM jsonb_to_recordset($1::jsonb) AS r(id text, event_type text, occurred_at timestamptz, property_id text, channel text, conversation_id text, duration_ms integer, metadata jsonb)`,
      [{ sqlType: 'jsonb', value: new JsonText(`[${rows.slice(i, i + 5_000).join(',')}]`) }],
    );
  const ceilingSeconds = (performance.now() - t1) / 1000;
  const eventsPerSecond = events / seconds;
  const ceilingEventsPerSecond = events / ceilingSeconds;
  return {
    events,
    eventsPerRecord: perRecord,
    seconds,
    eventsPerSecond,
    ceilingEventsPerSecond,
    shareOfCeiling: eventsPerSecond / ceilingEventsPerSecond,
  };
}

export interface AggregateBench {
  events: number;
  generateSeconds: number;
  hourlySeconds: number;
  dailyThreeSeconds: number;
  monthlySeconds: number;
  lateBuckets: number;
  lateRerunSeconds: number;
  wholeMonthSeconds: number;
  ratio: number;
  /** The same runs with the 20 properties registered over 8 zones (issue 23), measured in the same run. */
  multiZone: { zones: number; hourlySeconds: number; dailyThreeSeconds: number; monthlySeconds: number };
}

/** 8 zones of every shape for the 20 bench properties (prop-i → ZONES_8[i % 8]). */
export const ZONES_8 = [
  'Europe/Madrid',
  'America/Cancun',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Australia/Lord_Howe',
  'America/Santiago',
  'Pacific/Chatham',
  'America/New_York',
];

/** Registers prop-0 … prop-(n−1) over ZONES_8. */
export async function registerZones(sql: PgSql, properties: number): Promise<void> {
  for (let i = 0; i < properties; i++) await setProperty(sql, { propertyId: `prop-${i}`, timeZone: ZONES_8[i % ZONES_8.length] as string });
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, (performance.now() - t) / 1000];
}

export async function benchAggregate(sql: PgSql, events: number): Promise<AggregateBench> {
  // 30 days of September 2025 in Madrid, 20 properties, a realistic mix of the event types.
  const start = '2025-08-31T22:00:00Z';
  const say = (line: string) => console.log(`  aggregate bench: ${line}`);
  const [, generateSeconds] = await timed(async () => {
    const chunk = 1_000_000;
    for (let from = 0; from < events; from += chunk)
      await sql.execute(
        `INSERT INTO analytics_events (id, event_type, occurred_at, property_id, channel, conversation_id, staff_id, value, duration_ms, metadata)
         SELECT 'b' || g,
                t.type,
                $1::timestamptz + (g::double precision / $3::bigint) * interval '30 days',
                'prop-' || (g % 20),
                (ARRAY['whatsapp', 'sms', 'email', 'webchat'])[1 + (g / 7) % 4],
                'c' || (g / 12),
                CASE WHEN g % 3 = 0 THEN 's' || (g % 40) END,
                CASE WHEN t.type = 'satisfaction.rating_received' THEN 1 + g % 5 WHEN t.type = 'intent.classified' THEN (g % 100) / 100.0 END,
                CASE WHEN t.type IN ('response.time_recorded', 'conversation.resolved') THEN (g * 7919) % 900000 END,
                CASE WHEN t.type LIKE 'intent.%' THEN jsonb_build_object('intent', 'intent-' || (g % 15)) ELSE '{}'::jsonb END
         FROM generate_series($2::bigint, LEAST($2::bigint + ${chunk} - 1, $3::bigint)) g
         CROSS JOIN LATERAL (SELECT (ARRAY['message.received', 'message.sent', 'message.received', 'message.sent', 'conversation.started',
           'response.ai_generated', 'response.time_recorded', 'response.staff_sent', 'intent.classified', 'intent.action_taken',
           'conversation.resolved', 'conversation.escalated', 'task.created', 'task.completed', 'satisfaction.survey_sent',
           'satisfaction.rating_received'])[1 + (g % 16)] AS type) t`,
        [
          { sqlType: 'timestamptz', value: start },
          { sqlType: 'bigint', value: from + 1 },
          { sqlType: 'bigint', value: events },
        ],
      );
    await sql.execute('ANALYZE analytics_events');
  });
  say(`${events} events generated in ${generateSeconds.toFixed(0)} s`);
  const deps = (now: string) => ({ sql, log: memoryLog(), clock: { now: () => new Date(now) } });
  // The schedule's view at 01:00:05 on 1 October (Madrid): the last hour of September, the 30th, September.
  const at = '2025-09-30T23:00:05Z';
  await runAggregation(deps(at), aggregation('hourly_message_counts'), { kind: 'range', from: '2025-09-01', to: '2025-10-01' }, TZ); // history
  const [, hourlySeconds] = await timed(() => runAggregation(deps(at), aggregation('hourly_message_counts'), { kind: 'scheduled' }, TZ));
  say(`one hourly run ${hourlySeconds.toFixed(2)} s`);
  const [, dailyThreeSeconds] = await timed(async () => {
    for (const j of ['daily_conversation_metrics', 'daily_staff_performance', 'daily_intent_distribution'])
      await runAggregation(deps(at), aggregation(j), { kind: 'scheduled' }, TZ);
  });
  say(`three daily jobs ${dailyThreeSeconds.toFixed(2)} s`);
  const [, monthlySeconds] = await timed(() =>
    runAggregation(deps('2025-10-01T01:00:05Z'), aggregation('monthly_summary'), { kind: 'scheduled' }, TZ),
  );
  // Late data: 1 % of the month's (property, hour) buckets get a late event through ingest.
  const buckets = 20 * 720;
  const late = Math.round(buckets / 100);
  const lateEvents = Array.from({ length: late }, (_, i) => ({
    id: `late-${i}`,
    eventType: 'message.received',
    timestamp: new Date(Date.parse(start) + ((i * 7) % 720) * 3_600_000 + 1_800_000).toISOString(),
    propertyId: `prop-${i % 20}`,
    channel: 'whatsapp',
  }));
  const r = await ingest({ sql, clock: { now: () => new Date(at) }, log: memoryLog() }, [
    { recordId: 'late', body: JSON.stringify({ events: lateEvents }) },
  ]);
  // message.received is read by the hourly counts (one key per late bucket) and the monthly summary (one per property).
  if (r.invalidations !== late + 20) throw new Error(`expected ${late + 20} invalidations, got ${r.invalidations}`);
  const [rerun, lateRerunSeconds] = await timed(() =>
    runAggregation(deps(at), aggregation('hourly_message_counts'), { kind: 'scheduled' }, TZ),
  );
  if (rerun.invalidatedBuckets.length !== late)
    throw new Error(`the rerun recomputed ${rerun.invalidatedBuckets.length} late buckets, not ${late}`);
  const [, wholeMonthSeconds] = await timed(() =>
    runAggregation(deps(at), aggregation('hourly_message_counts'), { kind: 'range', from: '2025-09-01', to: '2025-10-01' }, TZ),
  );
  // The same schedule with the 20 properties over 8 zones: each run closes each zone's last period.
  await registerZones(sql, 20);
  const later = '2025-09-30T23:30:05Z'; // an hour has closed in the :30 and :45 zones too
  const [, multiHourly] = await timed(() => runAggregation(deps(later), aggregation('hourly_message_counts'), { kind: 'scheduled' }, TZ));
  const [, multiDaily] = await timed(async () => {
    for (const j of ['daily_conversation_metrics', 'daily_staff_performance', 'daily_intent_distribution'])
      await runAggregation(deps(later), aggregation(j), { kind: 'scheduled' }, TZ);
  });
  const [, multiMonthly] = await timed(() =>
    runAggregation(deps('2025-10-01T15:00:05Z'), aggregation('monthly_summary'), { kind: 'scheduled' }, TZ),
  );
  say(
    `8 zones: one hourly run ${multiHourly.toFixed(2)} s, three daily jobs ${multiDaily.toFixed(2)} s, monthly ${multiMonthly.toFixed(2)} s`,
  );
  return {
    multiZone: { zones: ZONES_8.length, hourlySeconds: multiHourly, dailyThreeSeconds: multiDaily, monthlySeconds: multiMonthly },
    events,
    generateSeconds,
    hourlySeconds,
    dailyThreeSeconds,
    monthlySeconds,
    lateBuckets: late,
    lateRerunSeconds,
    wholeMonthSeconds,
    ratio: wholeMonthSeconds / lateRerunSeconds,
  };
}
