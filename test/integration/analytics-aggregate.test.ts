import { type AggregateResult, PeriodNotClosedError, runAggregation } from '../../lambdas/aggregate/aggregate';
import { AGGREGATIONS, aggregation } from '../../lambdas/aggregate/registry';
import { ingest } from '../../lambdas/ingest/ingest';
import { memoryLog } from '../../lambdas/shared/observability';
import type { Sql, SqlExecutor } from '../../lambdas/shared/sql/types';
import { DRIVERS, type TestDb, testDb } from '../support/db';
import { reconcileTestRoles, roleSql } from '../support/roles';

const TZ = 'Europe/Madrid';
type Ev = {
  id: string;
  type: string;
  at: string;
  property?: string;
  channel?: string | null;
  conversation?: string;
  staff?: string;
  value?: number;
  duration?: number;
  metadata?: Record<string, unknown>;
};

async function insertEvents(db: SqlExecutor, events: Ev[]): Promise<void> {
  const rows = events.map((e) => ({
    id: e.id,
    event_type: e.type,
    occurred_at: e.at,
    property_id: e.property ?? 'hotel-a',
    channel: e.channel === undefined ? 'whatsapp' : e.channel,
    conversation_id: e.conversation ?? null,
    staff_id: e.staff ?? null,
    value: e.value ?? null,
    duration_ms: e.duration ?? null,
    metadata: e.metadata ?? {},
  }));
  await db.execute(
    `INSERT INTO analytics_events (id, event_type, occurred_at, property_id, channel, conversation_id, staff_id, value, duration_ms, metadata)
     SELECT id, event_type, occurred_at, property_id, channel, conversation_id, staff_id, value, duration_ms, metadata
     FROM jsonb_to_recordset($1::jsonb) AS r(id text, event_type text, occurred_at timestamptz, property_id text, channel text,
       conversation_id text, staff_id text, value double precision, duration_ms integer, metadata jsonb)`,
    [{ sqlType: 'jsonb', value: rows }],
  );
}

// Tuesday 2025-10-21 in Madrid (CEST, UTC+2): three conversations of hotel-a, one event of hotel-b.
const L = (hhmmss: string) => `2025-10-21T${hhmmss}+02:00`;
const FIXTURE: Ev[] = [
  // c1 (whatsapp): answered by the AI in 30 s, resolved after 30 min, never escalated
  { id: 'c1-start', type: 'conversation.started', at: L('09:00:00'), conversation: 'c1' },
  { id: 'c1-in', type: 'message.received', at: L('09:00:10'), conversation: 'c1' },
  { id: 'c1-ai', type: 'response.ai_generated', at: L('09:00:40'), conversation: 'c1' },
  { id: 'c1-rt', type: 'response.time_recorded', at: L('09:00:40'), conversation: 'c1', duration: 30_000 },
  { id: 'c1-out', type: 'message.sent', at: L('09:05:00'), conversation: 'c1' },
  { id: 'c1-intent', type: 'intent.classified', at: L('09:00:20'), conversation: 'c1', value: 0.9, metadata: { intent: 'booking' } },
  { id: 'c1-action', type: 'intent.action_taken', at: L('09:01:00'), conversation: 'c1', metadata: { intent: 'booking' } },
  { id: 'c1-done', type: 'conversation.resolved', at: L('09:30:00'), conversation: 'c1', duration: 1_800_000 },
  { id: 'c1-survey', type: 'satisfaction.survey_sent', at: L('09:31:00'), conversation: 'c1' },
  { id: 'c1-rating', type: 'satisfaction.rating_received', at: L('09:40:00'), conversation: 'c1', staff: 's1', value: 5 },
  // c2 (whatsapp): AI first (60 s), escalated (billing), staff s1 replies after 8 min, resolved after 60 min
  { id: 'c2-start', type: 'conversation.started', at: L('10:00:00'), conversation: 'c2' },
  { id: 'c2-in', type: 'message.received', at: L('10:01:00'), conversation: 'c2' },
  { id: 'c2-intent', type: 'intent.classified', at: L('10:01:10'), conversation: 'c2', value: 0.6, metadata: { intent: 'billing' } },
  { id: 'c2-ai', type: 'response.ai_generated', at: L('10:02:00'), conversation: 'c2' },
  { id: 'c2-rt1', type: 'response.time_recorded', at: L('10:02:00'), conversation: 'c2', duration: 60_000 },
  { id: 'c2-esc', type: 'conversation.escalated', at: L('10:03:00'), conversation: 'c2', metadata: { intent: 'billing' } },
  { id: 'c2-staff', type: 'response.staff_sent', at: L('10:10:00'), conversation: 'c2', staff: 's1' },
  { id: 'c2-rt2', type: 'response.time_recorded', at: L('10:10:00'), conversation: 'c2', staff: 's1', duration: 480_000 },
  { id: 'c2-done', type: 'conversation.resolved', at: L('11:00:00'), conversation: 'c2', duration: 3_600_000 },
  { id: 'c2-survey', type: 'satisfaction.survey_sent', at: L('11:01:00'), conversation: 'c2' },
  { id: 'c2-rating', type: 'satisfaction.rating_received', at: L('11:20:00'), conversation: 'c2', staff: 's1', value: 4 },
  // c3 (sms): staff s1 answers in 90 s; a task; a poor rating
  { id: 'c3-start', type: 'conversation.started', at: L('12:00:00'), conversation: 'c3', channel: 'sms' },
  {
    id: 'c3-intent',
    type: 'intent.classified',
    at: L('12:00:05'),
    conversation: 'c3',
    channel: 'sms',
    value: 0.7,
    metadata: { intent: 'booking' },
  },
  { id: 'c3-staff', type: 'response.staff_sent', at: L('12:01:30'), conversation: 'c3', channel: 'sms', staff: 's1' },
  { id: 'c3-rt', type: 'response.time_recorded', at: L('12:01:30'), conversation: 'c3', channel: 'sms', staff: 's1', duration: 90_000 },
  { id: 'c3-task', type: 'task.created', at: L('12:05:00'), conversation: 'c3', channel: 'sms' },
  { id: 'c3-task-done', type: 'task.completed', at: L('14:00:00'), conversation: 'c3', channel: 'sms', staff: 's1' },
  { id: 'c3-survey', type: 'satisfaction.survey_sent', at: L('14:01:00'), conversation: 'c3', channel: 'sms' },
  { id: 'c3-rating', type: 'satisfaction.rating_received', at: L('15:00:00'), conversation: 'c3', channel: 'sms', value: 2 },
  // hotel-b: one webchat message at 09:15 (same hour as c1's)
  { id: 'b-in', type: 'message.received', at: L('09:15:00'), property: 'hotel-b', channel: 'webchat' },
];

describe.each(DRIVERS)('analytics aggregation through the %s driver', (driver) => {
  let db: TestDb;
  let now = new Date('2025-11-05T12:00:00Z');
  // The jobs run as the database role they have in AWS (dlc_aggregate): every aggregation's own
  // statements are checked against the role registry's grants.
  let asRole: Sql & { close(): Promise<void> };
  const deps = () => ({ sql: asRole, log: memoryLog(), clock: { now: () => now } });
  const run = (job: string, mode: Parameters<typeof runAggregation>[2] = { kind: 'scheduled' }): Promise<AggregateResult> =>
    runAggregation(deps(), aggregation(job), mode, TZ);
  const rows = (sql: string) => db.direct.query(sql);

  beforeEach(async () => {
    db = await testDb(driver);
    await reconcileTestRoles(db);
    asRole = roleSql(db, 'dlc_aggregate', driver);
    now = new Date('2025-11-05T12:00:00Z');
  });
  afterEach(async () => {
    await asRole.close();
    await db.close();
  });

  describe('the seven tables against hand-computed figures', () => {
    beforeEach(async () => {
      await insertEvents(db.direct, FIXTURE);
    });

    it('hourly_message_counts: inbound/outbound per property, channel and local hour', async () => {
      const r = await run('hourly_message_counts', { kind: 'range', from: '2025-10-21', to: '2025-10-22' });
      expect(r.periods).toHaveLength(24);
      expect(
        await rows('SELECT period_start, property_id, channel, direction, count FROM agg_message_counts_hourly ORDER BY 1, 2, 3, 4'),
      ).toEqual([
        { period_start: '2025-10-21T07:00:00.000Z', property_id: 'hotel-a', channel: 'whatsapp', direction: 'inbound', count: 1 },
        { period_start: '2025-10-21T07:00:00.000Z', property_id: 'hotel-a', channel: 'whatsapp', direction: 'outbound', count: 1 },
        { period_start: '2025-10-21T07:00:00.000Z', property_id: 'hotel-b', channel: 'webchat', direction: 'inbound', count: 1 },
        { period_start: '2025-10-21T08:00:00.000Z', property_id: 'hotel-a', channel: 'whatsapp', direction: 'inbound', count: 1 },
      ]);
    });

    it('hourly_response_times: exact continuous percentiles per hour (never averaged)', async () => {
      await run('hourly_response_times', { kind: 'range', from: '2025-10-21', to: '2025-10-22' });
      const got = await rows(
        'SELECT period_start, channel, responses, avg_ms, p50_ms, p95_ms, p99_ms, max_ms FROM agg_response_times_hourly ORDER BY 1, 2',
      );
      const oneValue = (v: number) => ({ avg_ms: v, p50_ms: v, p95_ms: v, p99_ms: v, max_ms: v });
      expect(got).toEqual([
        { period_start: '2025-10-21T07:00:00.000Z', channel: 'whatsapp', responses: 1, ...oneValue(30_000) },
        // 60 000 and 480 000: p95 = 60 000 + 0.95 × 420 000, p99 = 60 000 + 0.99 × 420 000
        {
          period_start: '2025-10-21T08:00:00.000Z',
          channel: 'whatsapp',
          responses: 2,
          avg_ms: 270_000,
          p50_ms: 270_000,
          p95_ms: 459_000,
          p99_ms: 475_800,
          max_ms: 480_000,
        },
        { period_start: '2025-10-21T10:00:00.000Z', channel: 'sms', responses: 1, ...oneValue(90_000) },
      ]);
    });

    it('daily_conversation_metrics: counts, first response, resolution, AI handled vs escalated', async () => {
      await run('daily_conversation_metrics', { kind: 'period', start: '2025-10-21' });
      expect(await rows('SELECT * FROM agg_conversation_metrics_daily ORDER BY channel')).toEqual([
        expect.objectContaining({
          period_date: '2025-10-21',
          property_id: 'hotel-a',
          channel: 'sms',
          conversations_started: 1,
          conversations_resolved: 0,
          conversations_escalated: 0,
          avg_first_response_ms: 90_000,
          p50_first_response_ms: 90_000,
          p95_first_response_ms: 90_000,
          avg_resolution_minutes: null,
          p50_resolution_minutes: null,
          p95_resolution_minutes: null,
          ai_handled_count: 0,
          ai_escalated_count: 0,
        }),
        expect.objectContaining({
          channel: 'whatsapp',
          conversations_started: 2,
          conversations_resolved: 2,
          conversations_escalated: 1,
          // first responses 30 000 (c1) and 60 000 (c2; its staff reply of 480 000 is not a first response)
          avg_first_response_ms: 45_000,
          p50_first_response_ms: 45_000,
          p95_first_response_ms: 58_500,
          // resolutions 30 and 60 min: p95 = 30 + 0.95 × 30 = 58.5 → 59 (rounded half away from zero)
          avg_resolution_minutes: 45,
          p50_resolution_minutes: 45,
          p95_resolution_minutes: 59,
          ai_handled_count: 1,
          ai_escalated_count: 1,
        }),
      ]);
    });

    it('daily_staff_performance: conversations handled, tasks, response time, satisfaction per staff member', async () => {
      await run('daily_staff_performance', { kind: 'period', start: '2025-10-21' });
      expect(
        await rows(
          'SELECT period_date, property_id, staff_id, conversations_handled, tasks_completed, avg_response_time_ms, satisfaction_avg, satisfaction_count FROM agg_staff_performance_daily',
        ),
      ).toEqual([
        {
          period_date: '2025-10-21',
          property_id: 'hotel-a',
          staff_id: 's1',
          conversations_handled: 2, // c2 and c3
          tasks_completed: 1,
          avg_response_time_ms: 285_000, // (480 000 + 90 000) / 2
          satisfaction_avg: 4.5, // 5 and 4
          satisfaction_count: 2,
        },
      ]);
    });

    it('daily_intent_distribution: per intent', async () => {
      await run('daily_intent_distribution', { kind: 'period', start: '2025-10-21' });
      const got = await rows(
        'SELECT intent, count, avg_confidence, action_taken_count, escalated_count FROM agg_intent_distribution_daily ORDER BY intent',
      );
      expect(got).toEqual([
        { intent: 'billing', count: 1, avg_confidence: 0.6, action_taken_count: 0, escalated_count: 1 },
        { intent: 'booking', count: 2, avg_confidence: expect.closeTo(0.8, 10), action_taken_count: 1, escalated_count: 0 },
      ]);
    });

    it('weekly_satisfaction_trends: the Monday week, ratings and NPS (5 promoter, 4 passive, 1–3 detractor)', async () => {
      now = new Date('2025-10-27T01:00:00Z'); // Monday 02:00 in Madrid: the week of Monday 20 has just closed
      const r = await run('weekly_satisfaction_trends');
      expect(r.periods).toEqual(['2025-10-20']);
      expect(
        await rows(
          'SELECT period_start, channel, surveys_sent, responses_received, rating_1, rating_2, rating_3, rating_4, rating_5, avg_rating, nps_score FROM agg_satisfaction_weekly ORDER BY channel',
        ),
      ).toEqual([
        {
          period_start: '2025-10-20',
          channel: 'sms',
          surveys_sent: 1,
          responses_received: 1,
          rating_1: 0,
          rating_2: 1,
          rating_3: 0,
          rating_4: 0,
          rating_5: 0,
          avg_rating: 2,
          nps_score: -100,
        },
        {
          period_start: '2025-10-20',
          channel: 'whatsapp',
          surveys_sent: 2,
          responses_received: 2,
          rating_1: 0,
          rating_2: 0,
          rating_3: 0,
          rating_4: 1,
          rating_5: 1,
          avg_rating: 4.5,
          nps_score: 50,
        },
      ]);
    });

    it('monthly_summary: from the raw events of the month', async () => {
      const r = await run('monthly_summary');
      expect(r.periods).toEqual(['2025-10']);
      const [a] = await rows("SELECT * FROM agg_monthly_summary WHERE property_id = 'hotel-a'");
      expect(a).toMatchObject({
        period_month: '2025-10',
        total_conversations: 3,
        total_messages: 3,
        total_tasks: 1,
        ai_resolution_rate: 0.5, // c1 and c2 resolved, c2 escalated
        avg_response_time_minutes: 2.75, // (30 000 + 60 000 + 480 000 + 90 000) / 4 ms
        top_intents: [
          { intent: 'booking', count: 2 },
          { intent: 'billing', count: 1 },
        ],
        channel_breakdown: { whatsapp: 2, sms: 1 },
      });
      expect(a?.avg_satisfaction).toBeCloseTo(11 / 3, 10);
      const [b] = await rows(
        "SELECT total_conversations, total_messages, ai_resolution_rate, top_intents FROM agg_monthly_summary WHERE property_id = 'hotel-b'",
      );
      expect(b).toEqual({ total_conversations: 0, total_messages: 1, ai_resolution_rate: null, top_intents: [] });
    });

    it('a rerun and two concurrent runs leave identical rows; a bucket whose events disappeared is zeroed', async () => {
      const snapshot = async () => ({
        conv: await rows('SELECT * FROM agg_conversation_metrics_daily ORDER BY channel'),
        staff: await rows('SELECT * FROM agg_staff_performance_daily ORDER BY staff_id'),
      });
      await Promise.all([
        run('daily_conversation_metrics', { kind: 'period', start: '2025-10-21' }),
        run('daily_conversation_metrics', { kind: 'period', start: '2025-10-21' }),
        run('daily_staff_performance', { kind: 'period', start: '2025-10-21' }),
        run('daily_staff_performance', { kind: 'period', start: '2025-10-21' }),
      ]);
      const first = await snapshot();
      const again = await run('daily_conversation_metrics', { kind: 'period', start: '2025-10-21' });
      expect(again.rowsWritten).toBe(0); // nothing changed: not even computed_at
      expect(await snapshot()).toEqual(first);
      // The sms conversation's events disappear (e.g. removed by hand): its bucket is zeroed, not left stale.
      await db.direct.execute("DELETE FROM analytics_events WHERE conversation_id = 'c3'");
      const r = await run('daily_conversation_metrics', { kind: 'period', start: '2025-10-21' });
      expect(r.rowsZeroed).toBe(1);
      const [sms] = await rows(
        "SELECT conversations_started, avg_first_response_ms FROM agg_conversation_metrics_daily WHERE channel = 'sms'",
      );
      expect(sms).toEqual({ conversations_started: 0, avg_first_response_ms: null });
    });
  });

  it('refuses a period that has not closed, with a clear message', async () => {
    now = new Date('2025-10-21T10:00:00Z');
    await expect(run('daily_conversation_metrics', { kind: 'period', start: '2025-10-21' })).rejects.toThrow(PeriodNotClosedError);
    await expect(run('daily_conversation_metrics', { kind: 'period', start: '2025-10-21' })).rejects.toThrow(
      /period starting 2025-10-21T00:00:00\+02:00 has not closed \(it ends 2025-10-22T00:00:00\+02:00, now is 2025-10-21T12:00:00\+02:00\)/,
    );
    await expect(run('hourly_message_counts', { kind: 'period', start: '2025-10-21T12' })).rejects.toThrow(/has not closed/);
    await expect(run('weekly_satisfaction_trends', { kind: 'period', start: '2025-10-21' })).rejects.toThrow(/weeks start on Monday/);
  });

  describe('DST in Europe/Madrid', () => {
    /** One message per UTC hour over [fromUtc, toUtc) plus one conversation start each hour. */
    const hourly = (fromUtc: string, hours: number, prefix: string): Ev[] =>
      Array.from({ length: hours }, (_, i) => {
        const at = new Date(Date.parse(fromUtc) + i * 3_600_000 + 30 * 60_000).toISOString();
        return [
          { id: `${prefix}-m${i}`, type: 'message.received', at },
          { id: `${prefix}-c${i}`, type: 'conversation.started', at, conversation: `${prefix}-${i}` },
        ];
      }).flat();

    it('2025-03-30 has 23 hourly buckets and 2025-10-26 has 25; days equal the sum of their hours', async () => {
      // Local midnight to midnight, plus an hour either side that must not be counted.
      await insertEvents(db.direct, [
        ...hourly('2025-03-29T22:00:00Z', 25, 'spring'), // 23:00 on the 29th .. 00:00 on the 31st, local
        ...hourly('2025-10-25T21:00:00Z', 27, 'autumn'),
      ]);
      const spring = await run('hourly_message_counts', { kind: 'range', from: '2025-03-30', to: '2025-03-31' });
      const autumn = await run('hourly_message_counts', { kind: 'range', from: '2025-10-26', to: '2025-10-27' });
      expect(spring.periods).toHaveLength(23);
      expect(autumn.periods).toHaveLength(25);
      expect(autumn.periods.slice(1, 4)).toEqual(['2025-10-25T23:00:00.000Z', '2025-10-26T00:00:00.000Z', '2025-10-26T01:00:00.000Z']);
      const sumOfHours = async (from: string, to: string) =>
        (
          await rows(
            `SELECT sum(count)::int AS n, count(*)::int AS buckets FROM agg_message_counts_hourly WHERE period_start >= '${from}' AND period_start < '${to}'`,
          )
        )[0];
      expect(await sumOfHours('2025-03-29T23:00:00Z', '2025-03-30T22:00:00Z')).toEqual({ n: 23, buckets: 23 });
      expect(await sumOfHours('2025-10-25T22:00:00Z', '2025-10-26T23:00:00Z')).toEqual({ n: 25, buckets: 25 });
      await run('daily_conversation_metrics', { kind: 'range', from: '2025-03-29', to: '2025-04-01' });
      await run('daily_conversation_metrics', { kind: 'range', from: '2025-10-25', to: '2025-10-28' });
      const days = await rows('SELECT period_date, conversations_started FROM agg_conversation_metrics_daily ORDER BY 1');
      expect(days).toEqual([
        { period_date: '2025-03-29', conversations_started: 1 },
        { period_date: '2025-03-30', conversations_started: 23 },
        { period_date: '2025-03-31', conversations_started: 1 },
        { period_date: '2025-10-25', conversations_started: 1 },
        { period_date: '2025-10-26', conversations_started: 25 },
        { period_date: '2025-10-27', conversations_started: 1 },
      ]);
      // Nothing counted twice or lost: every event is in exactly one hour and one day.
      const [{ total }] = (await rows("SELECT count(*)::int AS total FROM analytics_events WHERE event_type = 'message.received'")) as [
        { total: number },
      ];
      const [{ hours }] = (await rows('SELECT sum(count)::int AS hours FROM agg_message_counts_hourly')) as [{ hours: number }];
      expect(hours).toBe(23 + 25); // the hours of the two days only
      expect(total).toBe(25 + 27);
    });

    it('a week spanning the October change is 169 hours, from Monday to Monday local', async () => {
      await insertEvents(db.direct, [
        { id: 'mon-first', type: 'satisfaction.survey_sent', at: '2025-10-19T22:00:00Z' }, // Mon 20 00:00 CEST
        { id: 'sun-last', type: 'satisfaction.survey_sent', at: '2025-10-26T22:59:59Z' }, // Sun 26 23:59:59 CET
        { id: 'next-mon', type: 'satisfaction.survey_sent', at: '2025-10-26T23:00:00Z' }, // Mon 27 00:00 CET
        { id: 'prev-sun', type: 'satisfaction.survey_sent', at: '2025-10-19T21:59:59Z' },
      ]);
      now = new Date('2025-10-27T01:00:00Z');
      const r = await run('weekly_satisfaction_trends');
      expect(r.periods).toEqual(['2025-10-20']);
      expect(await rows('SELECT period_start, surveys_sent FROM agg_satisfaction_weekly')).toEqual([
        { period_start: '2025-10-20', surveys_sent: 2 },
      ]);
    });
  });

  describe('late data', () => {
    it('a late event for a closed hour and a closed day is reflected by the next run, and only its buckets are recomputed', async () => {
      await insertEvents(db.direct, FIXTURE);
      // Scheduled runs on Wednesday 22 at 01:00 and 01:00:05 local: hour 00:00–01:00 and day 21 are closed.
      now = new Date('2025-10-21T23:00:05Z');
      const h1 = await run('hourly_message_counts');
      const d1 = await run('daily_conversation_metrics');
      expect(h1.periods).toEqual(['2025-10-21T22:00:00.000Z']);
      expect(d1.periods).toEqual(['2025-10-21']);
      const before = await rows("SELECT channel, computed_at FROM agg_conversation_metrics_daily WHERE property_id = 'hotel-a' ORDER BY 1");
      // Late events arrive through ingest for the closed day (hotel-b) and a closed hour (hotel-a, 09:00 local).
      const late = [
        {
          id: 'late-1',
          eventType: 'conversation.started',
          timestamp: L('18:00:00'),
          propertyId: 'hotel-b',
          channel: 'webchat',
          conversationId: 'b1',
        },
        { id: 'late-2', eventType: 'message.received', timestamp: L('09:59:00'), propertyId: 'hotel-a', channel: 'whatsapp' },
      ];
      const ing = await ingest({ sql: db.sql, clock: { now: () => now }, log: memoryLog() }, [
        { recordId: 'r1', body: JSON.stringify({ events: late }) },
      ]);
      expect(ing).toMatchObject({ accepted: 2, invalidations: 2 });
      expect(await rows('SELECT agg_table, property_id, period_start FROM agg_invalidations ORDER BY 1')).toEqual([
        { agg_table: 'agg_conversation_metrics_daily', property_id: 'hotel-b', period_start: '2025-10-20T22:00:00.000Z' },
        { agg_table: 'agg_message_counts_hourly', property_id: 'hotel-a', period_start: '2025-10-21T07:00:00.000Z' },
      ]);
      // The next runs: an hour and a day later.
      now = new Date('2025-10-22T23:00:05Z');
      const h2 = await run('hourly_message_counts');
      const d2 = await run('daily_conversation_metrics');
      expect(h2.invalidatedBuckets).toEqual([{ property_id: 'hotel-a', period: '2025-10-21T07:00:00.000Z' }]);
      expect(d2.invalidatedBuckets).toEqual([{ property_id: 'hotel-b', period: '2025-10-21' }]);
      expect(d2.periods).toEqual(['2025-10-22']);
      expect(await rows('SELECT count(*)::int AS n FROM agg_invalidations')).toEqual([{ n: 0 }]);
      const [inbound] = await rows(
        "SELECT count FROM agg_message_counts_hourly WHERE property_id = 'hotel-a' AND period_start = '2025-10-21T07:00:00Z' AND direction = 'inbound'",
      );
      expect(inbound).toEqual({ count: 2 });
      expect(await rows("SELECT conversations_started FROM agg_conversation_metrics_daily WHERE property_id = 'hotel-b'")).toEqual([
        { conversations_started: 1 },
      ]);
      // hotel-a's day rows were not recomputed (not invalidated): untouched, same computed_at.
      expect(
        await rows("SELECT channel, computed_at FROM agg_conversation_metrics_daily WHERE property_id = 'hotel-a' ORDER BY 1"),
      ).toEqual(before);
      // A third run has nothing late left.
      now = new Date('2025-10-23T23:00:05Z');
      expect((await run('daily_conversation_metrics')).invalidatedBuckets).toEqual([]);
    });

    it('a scheduled run after an outage catches up every missed period', async () => {
      await insertEvents(db.direct, FIXTURE);
      now = new Date('2025-10-20T23:00:05Z');
      await run('daily_staff_performance');
      now = new Date('2025-10-23T23:00:05Z');
      const r = await run('daily_staff_performance');
      expect(r.periods).toEqual(['2025-10-21', '2025-10-22', '2025-10-23']);
      expect(await rows('SELECT period_date, tasks_completed FROM agg_staff_performance_daily')).toEqual([
        { period_date: '2025-10-21', tasks_completed: 1 },
      ]);
    });
  });

  it('a run that failed between announcing its hours and computing them: the next run computes them (soak, seed 24)', async () => {
    await insertEvents(db.direct, FIXTURE);
    now = new Date('2025-10-20T23:00:05Z');
    await run('hourly_message_counts');
    // Eleven hours later: the run announces its periods (aggregated_through, committed first), then the
    // database goes away before the transaction that computes them.
    now = new Date('2025-10-21T10:00:05Z');
    const failing = Object.create(asRole) as Sql;
    failing.transaction = async () => {
      throw new Error('Connection terminated unexpectedly');
    };
    await expect(
      runAggregation({ ...deps(), sql: failing }, aggregation('hourly_message_counts'), { kind: 'scheduled' }, TZ),
    ).rejects.toThrow('Connection terminated');
    expect(await rows("SELECT aggregated_through FROM agg_watermarks WHERE agg_table = 'agg_message_counts_hourly'")).toEqual([
      { aggregated_through: '2025-10-21T10:00:00.000Z' },
    ]);
    // Act: the next scheduled run, an hour later.
    now = new Date('2025-10-21T11:00:05Z');
    const r = await run('hourly_message_counts');
    // Assess: every hour since the last computed one, and the counts equal the raw events'.
    expect(r.periods).toHaveLength(12);
    expect(r.periods[0]).toBe('2025-10-20T23:00:00.000Z');
    const [agg] = await rows(
      "SELECT COALESCE(sum(count), 0)::int AS n FROM agg_message_counts_hourly WHERE period_start >= '2025-10-20T23:00:00Z' AND period_start < '2025-10-21T11:00:00Z'",
    );
    const [raw] = await rows(
      "SELECT count(*)::int AS n FROM analytics_events WHERE event_type IN ('message.received', 'message.sent') AND occurred_at >= '2025-10-20T23:00:00Z' AND occurred_at < '2025-10-21T11:00:00Z'",
    );
    expect((raw as { n: number }).n).toBeGreaterThan(0);
    expect(agg).toEqual(raw);
  });

  it('token and cost rollups (seed 002) with prices from analytics_cost_config, refreshed incrementally', async () => {
    await db.direct.execute(`INSERT INTO conversations (id, conversation_key, source, platform, user_id, started_at) VALUES
      ('11111111-1111-4111-8111-111111111111', 'telegram:u-1', 'live', 'telegram', 'u-1', '2025-10-28T09:00:00Z')`);
    await db.direct.execute(`INSERT INTO messages (conversation_id, message_key, role, content, created_at, source, input_tokens, output_tokens, cached_tokens, model)
      VALUES ('11111111-1111-4111-8111-111111111111', 'm1', 'user', 'Hola', '2025-10-28T10:00:00Z', 'live', 0, 0, 0, NULL),
             ('11111111-1111-4111-8111-111111111111', 'm2', 'assistant', 'Claro', '2025-10-28T10:00:02Z', 'live', 1000, 500, 200, 'gpt-4o-mini'),
             ('11111111-1111-4111-8111-111111111111', 'm3', 'assistant', 'Otra', '2025-10-28T10:00:05Z', 'live', 100, 10, 0, 'mystery-model')`);
    now = new Date('2025-10-28T12:00:00Z');
    const r = await run('hourly_message_counts');
    expect(r.tokens).toMatchObject({ days: 1, userRows: 1, platformRows: 1 });
    // gpt-4o-mini: (1000 − 200) × 0.15 + 200 × 0.075 + 500 × 0.60 = 435 µ$; mystery-model has no price (counted as unpriced)
    const [u] = await rows('SELECT aggregate_key, total_tokens, message_count, estimated_cost_usd FROM analytics_user_daily_view');
    expect(u).toEqual({ aggregate_key: 'u-1', total_tokens: 1610, message_count: 3, estimated_cost_usd: 0.000435 });
    expect(await rows('SELECT unpriced_messages FROM analytics_token_user_daily')).toEqual([{ unpriced_messages: 1 }]);
    // Nothing new: no day recomputed (beyond the 5-minute overlap, which is empty here once time passes).
    await db.direct.execute(
      "UPDATE agg_watermarks SET aggregated_through = aggregated_through + interval '1 hour' WHERE agg_table = 'analytics_token_daily'",
    );
    expect((await run('hourly_message_counts')).tokens?.days).toBe(0);
    // A new message on another day: only that day is refreshed.
    await db.direct.execute(`INSERT INTO messages (conversation_id, message_key, role, content, created_at, source, input_tokens, output_tokens, model, inserted_at)
      VALUES ('11111111-1111-4111-8111-111111111111', 'm4', 'assistant', 'Más', '2025-10-29T08:00:00Z', 'live', 10, 10, 'gpt-4o', now() + interval '2 hours')`);
    const r3 = await run('hourly_message_counts');
    expect(r3.tokens?.days).toBe(1);
    const platforms = await rows(
      'SELECT aggregate_key, period_date, total_tokens, estimated_cost_usd FROM analytics_platform_daily_view ORDER BY period_date',
    );
    expect(platforms).toEqual([
      { aggregate_key: 'telegram', period_date: '2025-10-28', total_tokens: 1610, estimated_cost_usd: 0.000435 },
      { aggregate_key: 'telegram', period_date: '2025-10-29', total_tokens: 20, estimated_cost_usd: 0.000125 }, // 10 × 2.5 + 10 × 10
    ]);
  });

  it('the registry has the seven jobs of lib/config.ts, each with its own table', () => {
    expect(AGGREGATIONS.map((a) => a.name)).toEqual([
      'hourly_message_counts',
      'hourly_response_times',
      'daily_conversation_metrics',
      'daily_staff_performance',
      'daily_intent_distribution',
      'weekly_satisfaction_trends',
      'monthly_summary',
    ]);
    expect(new Set(AGGREGATIONS.map((a) => a.table)).size).toBe(7);
  });
});
