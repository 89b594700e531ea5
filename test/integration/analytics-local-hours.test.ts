/**
 * Issue 23, defects 3 and 4: hours are the zone's local hours, and every hour a user sees carries
 * its offset.
 * - 3: on the autumn change (Europe/Madrid, 2025-10-26) the two 02:00 hours are two rows of the daily
 *   report and two points of its charts, told apart by their offsets.
 * - 4: in a zone whose offset is not a whole hour (Asia/Kolkata +05:30, Asia/Kathmandu +05:45) the
 *   hourly buckets the read side asks for are the local hours the aggregation wrote (they start at
 *   :30 / :15 UTC): a day of 6 messages is 24 points summing to 6, in the series, the daily report's
 *   timeline and the dashboard's open hour.
 * The expected figures come from the event list itself (Intl, no SQL).
 */
import { runAggregation } from '../../lambdas/aggregate/aggregate';
import { aggregation } from '../../lambdas/aggregate/registry';
import { computeDashboardMetrics } from '../../lambdas/analytics-api/dashboard';
import { reportHtml } from '../../lambdas/analytics-api/report-html';
import { generateReport } from '../../lambdas/analytics-api/reports';
import { queryTimeSeries } from '../../lambdas/analytics-api/timeseries';
import { memoryLog } from '../../lambdas/shared/observability';
import type { SqlExecutor } from '../../lambdas/shared/sql/types';
import { DRIVERS, type TestDb, testDb } from '../support/db';

interface Ev {
  id: string;
  type: string;
  at: string;
  property: string;
  duration?: number;
}

async function insertEvents(db: SqlExecutor, events: readonly Ev[]): Promise<void> {
  await db.execute(
    `INSERT INTO analytics_events (id, event_type, occurred_at, property_id, channel, duration_ms)
     SELECT id, type, at, property, 'whatsapp', duration FROM jsonb_to_recordset($1::jsonb)
       AS r(id text, type text, at timestamptz, property text, duration integer)`,
    [{ sqlType: 'jsonb', value: events }],
  );
}

/** The local hour (`YYYY-MM-DD HH`) of an instant, with Intl. */
const hourIn = (zone: string) => {
  const f = new Intl.DateTimeFormat('en-CA', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
  });
  return (at: string | Date) => {
    const p = Object.fromEntries(f.formatToParts(new Date(at)).map((x) => [x.type, x.value]));
    return `${p.year}-${p.month}-${p.day} ${p.hour}`;
  };
};
const OFFSET = /[+-]\d{2}:\d{2}$/;
const sum = (xs: readonly unknown[]) => xs.reduce<number>((a, b) => a + Number(b), 0);

describe.each(DRIVERS)('local hours and their labels through the %s driver', (driver) => {
  let db: TestDb;
  beforeEach(async () => {
    db = await testDb(driver);
  });
  afterEach(() => db.close());
  const aggregate = (job: string, from: string, to: string, zone: string, now: Date) =>
    runAggregation({ sql: db.sql, log: memoryLog(), clock: { now: () => now } }, aggregation(job), { kind: 'range', from, to }, zone);

  it('defect 3: the repeated 02:00 hour of 2025-10-26 is two rows and two chart points, each labelled with its offset', async () => {
    const TZ = 'Europe/Madrid';
    const P = 'hotel-dst';
    const ev = (id: string, type: string, at: string, duration?: number): Ev => ({ id, type, at, property: P, duration });
    await insertEvents(db.direct, [
      ev('m1', 'message.received', '2025-10-26T00:10:00Z'), // 02:10 CEST, the first 02:00 hour
      ev('m2', 'message.received', '2025-10-26T01:10:00Z'), // 02:10 CET, the second
      ev('m3', 'message.received', '2025-10-26T01:20:00Z'),
      ev('r1', 'response.time_recorded', '2025-10-26T00:20:00Z', 1_000),
      ev('r2', 'response.time_recorded', '2025-10-26T01:20:00Z', 3_000),
      ev('r3', 'response.time_recorded', '2025-10-26T09:00:00Z', 2_000),
    ]);
    const now = new Date('2025-10-28T00:00:00Z');
    await aggregate('hourly_message_counts', '2025-10-26', '2025-10-27', TZ, now);
    await aggregate('hourly_response_times', '2025-10-26', '2025-10-27', TZ, now);
    const r = await generateReport(
      { sql: db.sql, timeZone: TZ, now },
      { type: 'daily', propertyId: P, dateRange: { start: '2025-10-26' } },
    );

    const detail = r.sections.responseTimes?.detail ?? [];
    expect(detail.map((d) => [d.period, d.p50_ms])).toEqual([
      ['2025-10-26T02:00:00+02:00', 1_000],
      ['2025-10-26T02:00:00+01:00', 3_000],
      ['2025-10-26T10:00:00+01:00', 2_000],
    ]);
    const timeline = r.sections.conversations?.timeline ?? [];
    expect(timeline).toHaveLength(25);
    expect(new Set(timeline.map((t) => t.period)).size).toBe(25);
    expect(timeline.filter((t) => String(t.period).startsWith('2025-10-26T02:00')).map((t) => [t.period, t.messages_inbound])).toEqual([
      ['2025-10-26T02:00:00+02:00', 1],
      ['2025-10-26T02:00:00+01:00', 2],
    ]);
    for (const row of [...detail, ...timeline]) expect(String(row.period)).toMatch(OFFSET);

    // the charts: one point per hour, the two 02:00 hours named apart
    const html = reportHtml(r);
    const chart = (name: string) =>
      html.slice(html.indexOf(`data-chart="${name}"`), html.indexOf('</svg>', html.indexOf(`data-chart="${name}"`)));
    const points = [...chart('response-times').matchAll(/<circle[^>]*><title>([^<]*)<\/title>/g)].map((m) => m[1]);
    expect(points.filter((t) => t?.includes('median'))).toEqual([
      '02:00 CEST · WhatsApp, median: 1.0 s',
      '02:00 CET · WhatsApp, median: 3.0 s',
      '10:00 CET · WhatsApp, median: 2.0 s',
    ]);
    const bars = [...chart('messages').matchAll(/<rect[^>]*><title>([^<]*)<\/title>/g)].map((m) => m[1]);
    expect(bars).toEqual(['02:00 CEST · Received: 1 message', '02:00 CET · Received: 2 messages']);
  });

  describe.each([
    ['Asia/Kolkata', 330],
    ['Asia/Kathmandu', 345],
  ])('defect 4: %s (UTC%+d min)', (TZ, offsetMinutes) => {
    const P = 'hotel-in';
    /** A local wall-clock time of TZ (no DST there) as an instant. */
    const local = (d: string, hm: string) => new Date(Date.parse(`${d}T${hm}:00Z`) - offsetMinutes * 60_000).toISOString();
    const day = ['00:05', '00:40', '09:31', '12:00', '23:29', '23:59'].map((hm, i) => ({
      id: `d${i}`,
      type: 'message.received',
      at: local('2025-10-21', hm),
      property: P,
    }));
    const outside = [
      { id: 'before', type: 'message.received', at: local('2025-10-20', '23:59'), property: P },
      { id: 'after', type: 'message.received', at: local('2025-10-22', '00:00'), property: P },
    ];

    it('a day of 6 messages: 24 local hours summing to 6 in the series and the daily report, each hour as the events say', async () => {
      await insertEvents(db.direct, [...day, ...outside]);
      const now = new Date('2025-10-25T00:00:00Z');
      await aggregate('hourly_message_counts', '2025-10-20', '2025-10-23', TZ, now);
      const limits = { timeZone: TZ, maxPoints: 2_000, maxRangeDays: 3_660 };
      const q = { metric: 'messages', startDate: '2025-10-21', endDate: '2025-10-22', propertyId: P };
      const hours = await queryTimeSeries({ sql: db.sql, limits }, { ...q, granularity: 'hour' });
      const points = hours.series[0]?.points ?? [];
      expect(points).toHaveLength(24);
      expect(sum(points.map((p) => p.value))).toBe(6);
      const perHour = new Map<string, number>();
      for (const e of day) perHour.set(hourIn(TZ)(e.at), (perHour.get(hourIn(TZ)(e.at)) ?? 0) + 1);
      for (const p of points) {
        expect(p.period).toMatch(OFFSET);
        expect(p.value).toBe(perHour.get(hourIn(TZ)(p.start)) ?? 0);
      }
      expect(points[0]?.start).toBe(`2025-10-21T00:00:00${TZ === 'Asia/Kolkata' ? '+05:30' : '+05:45'}`);
      const days = await queryTimeSeries({ sql: db.sql, limits }, { ...q, granularity: 'day' });
      expect(days.series[0]?.points.map((p) => p.value)).toEqual([6]);
      const r = await generateReport(
        { sql: db.sql, timeZone: TZ, now },
        { type: 'daily', propertyId: P, dateRange: { start: '2025-10-21' } },
      );
      const timeline = r.sections.conversations?.timeline ?? [];
      expect(timeline).toHaveLength(24);
      expect(sum(timeline.map((t) => t.messages_inbound))).toBe(6);
      expect(r.sections.summary?.totals?.[0]?.messages).toBe(6);
    });

    it('the dashboard’s open hour is the local hour: a message of the last closed hour is counted once', async () => {
      // now: 10 minutes into a local hour, so the last whole UTC hour began inside the closed local hour
      // before it (aggregated): a message there must be read from the aggregate only, not from raw events too
      const now = new Date(Date.parse(local('2025-10-21', '16:10')));
      const events = [
        { id: 'closed-hour', type: 'message.received', at: local('2025-10-21', '15:50'), property: P },
        { id: 'open-hour', type: 'message.received', at: local('2025-10-21', '16:05'), property: P },
        { id: 'morning', type: 'message.received', at: local('2025-10-21', '08:00'), property: P },
      ];
      await insertEvents(db.direct, events);
      await aggregate('hourly_message_counts', '2025-10-21', '2025-10-21T16', TZ, now);
      const m = await computeDashboardMetrics(
        {
          sql: db.sql,
          clock: { now: () => now },
          settings: { timeZone: TZ, activeConversationWindowHours: 24, staffStatusWindowHours: 24, pendingTaskWindowDays: 90 },
        },
        P,
      );
      expect(m.today.messagesReceived).toBe(events.length);
    });
  });
});
