import { computeDashboardMetrics, DashboardCache } from '../../lambdas/analytics-api/dashboard';
import type { SqlExecutor } from '../../lambdas/shared/sql/types';
import { countingSql, testClock } from '../support/counting-sql';
import { DRIVERS, type TestDb, testDb } from '../support/db';

const settings = { timeZone: 'Europe/Madrid', activeConversationWindowHours: 24, staffStatusWindowHours: 24, pendingTaskWindowDays: 90 };
// "now": 10:20 in Madrid on 2025-03-30, the spring-forward day (23 hours: it starts 2025-03-29T23:00Z, ends 2025-03-30T22:00Z)
const NOW = '2025-03-30T08:20:00Z';

interface Ev {
  type: string;
  at: string;
  property?: string;
  conversation?: string;
  staff?: string;
  task?: string;
  value?: number;
  duration?: number;
  metadata?: Record<string, unknown>;
}

let seq = 0;
async function insertEvents(sql: SqlExecutor, events: Ev[]): Promise<void> {
  const rows = events.map((e) => ({
    id: `e${++seq}`,
    event_type: e.type,
    occurred_at: e.at,
    property_id: e.property ?? 'p1',
    channel: 'whatsapp',
    conversation_id: e.conversation ?? null,
    staff_id: e.staff ?? null,
    task_id: e.task ?? null,
    value: e.value ?? null,
    duration_ms: e.duration ?? null,
    metadata: e.metadata ?? {},
  }));
  await sql.execute(
    `INSERT INTO analytics_events (id, event_type, occurred_at, property_id, channel, conversation_id, staff_id, task_id, value, duration_ms, metadata)
     SELECT id, event_type, occurred_at, property_id, channel, conversation_id, staff_id, task_id, value, duration_ms, metadata
     FROM jsonb_to_recordset($1::jsonb) AS r(id text, event_type text, occurred_at timestamptz, property_id text, channel text,
       conversation_id text, staff_id text, task_id text, value float8, duration_ms int, metadata jsonb)`,
    [{ sqlType: 'jsonb', value: rows }],
  );
}

const times = (n: number, e: Ev): Ev[] => Array.from({ length: n }, () => ({ ...e }));

async function seed(sql: SqlExecutor) {
  // hourly message aggregates: the hourly job has closed hours up to 06:00Z (08:00 local); 07:00Z and the open hour 08:00Z are not aggregated
  await sql.execute(`INSERT INTO agg_message_counts_hourly (period_start, property_id, channel, direction, count) VALUES
    ('2025-03-29T22:00Z', 'p1', 'whatsapp', 'inbound', 100),   -- 23:00 local on the 29th: yesterday
    ('2025-03-29T23:00Z', 'p1', 'whatsapp', 'inbound', 5),     -- 00:00 local: today
    ('2025-03-30T03:00Z', 'p1', 'email', 'inbound', 7),
    ('2025-03-30T03:00Z', 'p1', 'email', 'outbound', 4),
    ('2025-03-30T06:00Z', 'p1', 'whatsapp', 'inbound', 2),
    ('2025-03-30T06:00Z', 'p2', 'whatsapp', 'inbound', 50)`);
  // hourly response times: closed up to 07:00Z
  await sql.execute(`INSERT INTO agg_response_times_hourly (period_start, property_id, channel, responses, duration_sum_ms, avg_ms) VALUES
    ('2025-03-29T10:00Z', 'p1', 'whatsapp', 4, 12000, 3000),
    ('2025-03-30T00:00Z', 'p1', 'whatsapp', 2, 2000, 1000),
    ('2025-03-30T05:00Z', 'p1', 'email', 3, 6000, 2000),
    ('2025-03-30T07:00Z', 'p1', 'whatsapp', 1, 4000, 4000),
    ('2025-03-30T07:00Z', 'p2', 'whatsapp', 9, 81000, 9000)`);
  // the daily job has run for yesterday
  await sql.execute(`INSERT INTO agg_conversation_metrics_daily (period_date, property_id, channel, conversations_started) VALUES
    ('2025-03-29', 'p1', 'whatsapp', 2), ('2025-03-29', 'p1', 'email', 1), ('2025-03-29', 'p2', 'email', 40)`);
  await insertEvents(sql, [
    // raw messages: a closed, aggregated hour (ignored: the aggregate counts), the not-yet-aggregated hour, the open hour
    { type: 'message.received', at: '2025-03-30T05:00:00Z' },
    ...times(3, { type: 'message.received', at: '2025-03-30T07:30:00Z' }),
    ...times(2, { type: 'message.received', at: '2025-03-30T08:10:00Z' }),
    { type: 'message.sent', at: '2025-03-30T08:15:00Z' },
    { type: 'message.received', at: '2025-03-30T08:21:00Z' }, // after "now": today so far excludes it
    ...times(5, { type: 'message.received', at: '2025-03-30T08:10:00Z', property: 'p2' }),
    // raw response times: an aggregated hour (ignored) and the open hour
    { type: 'response.time_recorded', at: '2025-03-30T06:00:00Z', duration: 99_999 },
    { type: 'response.time_recorded', at: '2025-03-30T08:05:00Z', duration: 500 },
    { type: 'response.time_recorded', at: '2025-03-30T08:06:00Z', duration: 1500 },
    { type: 'response.time_recorded', at: '2025-03-30T08:06:00Z', duration: 77_777, property: 'p2' },
    // conversations
    { type: 'conversation.started', at: '2025-03-28T20:00:00Z', conversation: 'c7' }, // outside the 24 h window, never resolved
    { type: 'conversation.started', at: '2025-03-29T12:00:00Z', conversation: 'c5' },
    { type: 'conversation.started', at: '2025-03-29T13:00:00Z', conversation: 'c6' },
    { type: 'conversation.resolved', at: '2025-03-29T14:00:00Z', conversation: 'c6' },
    { type: 'conversation.started', at: '2025-03-29T22:30:00Z', conversation: 'c0' }, // 23:30 local: yesterday
    { type: 'conversation.started', at: '2025-03-29T23:30:00Z', conversation: 'c1' }, // 00:30 local: today
    { type: 'conversation.resolved', at: '2025-03-30T01:00:00Z', conversation: 'c0' },
    { type: 'conversation.started', at: '2025-03-30T02:00:00Z', conversation: 'c2' },
    { type: 'conversation.resolved', at: '2025-03-30T03:00:00Z', conversation: 'c1' },
    { type: 'conversation.closed', at: '2025-03-30T04:00:00Z', conversation: 'c2' },
    { type: 'conversation.started', at: '2025-03-30T05:00:00Z', conversation: 'c3' },
    { type: 'conversation.escalated', at: '2025-03-30T05:30:00Z', conversation: 'c3' },
    { type: 'conversation.started', at: '2025-03-30T06:00:00Z', conversation: 'c8' },
    { type: 'conversation.resolved', at: '2025-03-30T06:10:00Z', conversation: 'c8' },
    { type: 'conversation.started', at: '2025-03-30T07:00:00Z', conversation: 'c8' }, // re-opened after its resolution
    { type: 'conversation.started', at: '2025-03-30T08:05:00Z', conversation: 'c4' },
    ...times(6, { type: 'conversation.started', at: '2025-03-30T08:05:00Z', conversation: 'x', property: 'p2' }),
    // staff
    { type: 'staff.login', at: '2025-03-30T06:00:00Z', staff: 's1' },
    { type: 'staff.login', at: '2025-03-30T05:00:00Z', staff: 's2' },
    { type: 'staff.logout', at: '2025-03-30T07:00:00Z', staff: 's2' },
    { type: 'staff.status_changed', at: '2025-03-30T07:30:00Z', staff: 's3', metadata: { status: 'available' } },
    { type: 'staff.login', at: '2025-03-30T06:00:00Z', staff: 's4' },
    { type: 'staff.status_changed', at: '2025-03-30T07:00:00Z', staff: 's4', metadata: { status: 'away' } },
    { type: 'staff.login', at: '2025-03-28T06:00:00Z', staff: 's5' }, // a login 50 h old: stale
    { type: 'staff.status_changed', at: '2025-03-30T07:45:00Z', staff: 's6', metadata: { status: 'Busy' } },
    { type: 'staff.login', at: '2025-03-30T07:45:00Z', staff: 's9', property: 'p2' },
    // tasks
    { type: 'task.created', at: '2025-03-25T10:00:00Z', task: 't1' },
    { type: 'task.created', at: '2025-03-29T10:00:00Z', task: 't2' },
    { type: 'task.completed', at: '2025-03-30T01:00:00Z', task: 't2' },
    { type: 'task.created', at: '2025-03-30T02:00:00Z', task: 't3' },
    { type: 'task.created', at: '2024-11-01T10:00:00Z', task: 't4' }, // older than the 90-day window
    { type: 'task.completed', at: '2025-03-30T02:00:00Z', task: 't5' }, // completed, never created
    { type: 'task.created', at: '2025-03-30T02:00:00Z', task: 't9', property: 'p2' },
    // ratings: today 5, 4 (4.5); yesterday 3, 4, 5 (4.0)
    { type: 'satisfaction.rating_received', at: '2025-03-30T02:00:00Z', value: 5 },
    { type: 'satisfaction.rating_received', at: '2025-03-30T03:00:00Z', value: 4 },
    { type: 'satisfaction.rating_received', at: '2025-03-29T09:00:00Z', value: 3 },
    { type: 'satisfaction.rating_received', at: '2025-03-29T10:00:00Z', value: 4 },
    { type: 'satisfaction.rating_received', at: '2025-03-29T22:30:00Z', value: 5 }, // 23:30 local: yesterday
    { type: 'satisfaction.rating_received', at: '2025-03-30T02:00:00Z', value: 1, property: 'p2' },
  ]);
}

describe.each(DRIVERS)('dashboard metrics through the %s driver', (driver) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await testDb(driver);
    await seed(db.direct);
  });
  afterAll(() => db.close());

  it('matches the hand-computed figures: closed hours from aggregates, the rest from raw events, on a 23-hour day', async () => {
    const clock = testClock(NOW);
    const m = await computeDashboardMetrics({ sql: db.sql, clock, settings }, 'p1');
    expect(m).toEqual({
      today: {
        conversationsActive: 4, // c5, c3, c4 and the re-opened c8
        conversationsResolved: 3, // c0 (started yesterday), c1, c8; c2 was closed, not resolved
        messagesReceived: 5 + 7 + 2 + 3 + 2, // aggregated hours from 00:00 local + the 07:00Z hour (not aggregated yet) + the open hour
        messagesSent: 4 + 1,
        avgResponseTimeMs: (2 * 1000 + 3 * 2000 + 1 * 4000 + 500 + 1500) / 8,
        escalationRate: 1 / 6, // started events today: c1, c2, c3, c8 twice, c4
      },
      comparison: {
        conversationsChange: ((6 - 3) / 3) * 100, // yesterday from its daily aggregate (2 + 1)
        responseTimeChange: ((1750 - 3000) / 3000) * 100,
        satisfactionChange: ((4.5 - 4) / 4) * 100,
      },
      activeConversations: 4,
      staffOnline: 3, // s1 (login), s3 (available), s6 (Busy)
      pendingTasks: 2, // t1, t3
    });
  });

  it('counts the open hour as it fills, and hours the aggregation then closes are not counted twice', async () => {
    const clock = testClock(NOW);
    const deps = { sql: db.sql, clock, settings };
    const before = (await computeDashboardMetrics(deps, 'p1')).today.messagesReceived;
    await insertEvents(db.direct, [{ type: 'message.received', at: '2025-03-30T08:19:00Z' }]);
    expect((await computeDashboardMetrics(deps, 'p1')).today.messagesReceived).toBe(before + 1);
    // the hourly job closes 07:00Z (3 messages): the figure is unchanged, now read from the aggregate
    await db.direct.execute(
      `INSERT INTO agg_message_counts_hourly (period_start, property_id, channel, direction, count) VALUES ('2025-03-30T07:00Z', 'p1', 'whatsapp', 'inbound', 3)`,
    );
    expect((await computeDashboardMetrics(deps, 'p1')).today.messagesReceived).toBe(before + 1);
    await db.direct.execute(`DELETE FROM analytics_events WHERE occurred_at = '2025-03-30T08:19:00Z'`);
    await db.direct.execute(`DELETE FROM agg_message_counts_hourly WHERE period_start = '2025-03-30T07:00Z'`);
  });

  it('yesterday comes from the raw events while its daily aggregate is not there yet', async () => {
    const clock = testClock('2025-03-29T23:30:00Z'); // 00:30 local on the 30th, before the 01:00 daily job
    await db.direct.execute(`UPDATE agg_conversation_metrics_daily SET period_date = '2020-01-01' WHERE period_date = '2025-03-29'`);
    try {
      const m = await computeDashboardMetrics({ sql: db.sql, clock, settings }, 'p1');
      expect(m.today.conversationsActive).toBeGreaterThan(0);
      // today so far: c1 started at 23:30Z; yesterday (raw): c5, c6, c0
      expect(m.comparison.conversationsChange).toBeCloseTo(((1 - 3) / 3) * 100, 9);
    } finally {
      await db.direct.execute(`UPDATE agg_conversation_metrics_daily SET period_date = '2025-03-29' WHERE period_date = '2020-01-01'`);
    }
  });

  it('caches per container for 60 s: a second call within 60 s does not query the database; after 60 s it does', async () => {
    const clock = testClock(NOW);
    const sql = countingSql(db.sql);
    const cache = new DashboardCache({ sql, clock, settings }, { ttlMs: 60_000, max: 100 });
    const first = await cache.lookup('p1');
    expect(first.cached).toBe(false);
    const queries = sql.statements.length;
    expect(queries).toBeGreaterThan(0);
    clock.advance(59_000);
    const second = await cache.lookup('p1');
    expect(second).toEqual({ metrics: first.metrics, cached: true });
    expect(sql.statements.length).toBe(queries);
    clock.advance(2_000); // 61 s after the first call
    const third = await cache.lookup('p1');
    expect(third.cached).toBe(false);
    expect(sql.statements.length).toBe(2 * queries);
    // another property is another entry
    await cache.lookup('p2');
    expect(sql.statements.length).toBe(3 * queries);
  });

  it('refuses an unknown or malformed property', async () => {
    const cache = new DashboardCache({ sql: db.sql, clock: testClock(NOW), settings }, { ttlMs: 60_000, max: 100 });
    await expect(cache.lookup('nope')).rejects.toThrow('unknown property "nope"');
    await expect(cache.lookup("p1' OR 1=1 --")).rejects.toThrow(/is not a property id/);
  });
});
