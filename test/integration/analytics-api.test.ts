import { unzipSync } from 'fflate';
import { type ApiDeps, handleRequest } from '../../lambdas/analytics-api/api';
import { DashboardCache } from '../../lambdas/analytics-api/dashboard';
import { queryTimeSeries } from '../../lambdas/analytics-api/timeseries';
import { memoryLog } from '../../lambdas/shared/observability';
import { SqlError } from '../../lambdas/shared/sql/errors';
import type { Sql } from '../../lambdas/shared/sql/types';
import { buildFixture, insertFixture } from '../support/analytics-fixture';
import { countingSql, testClock } from '../support/counting-sql';
import { DRIVERS, type TestDb, testDb } from '../support/db';

const TZ = 'Europe/Madrid';
const limits = { timeZone: TZ, maxPoints: 2_000, maxRangeDays: 3_660 };
const settings = { timeZone: TZ, activeConversationWindowHours: 24, staffStatusWindowHours: 24, pendingTaskWindowDays: 90 };

/** Each hostile request, and what its 400 must say. */
const HOSTILE: [string, string, RegExp][] = [
  [
    'SQL in metric',
    '/timeseries?metric=messages%3B%20DROP%20TABLE%20analytics_events%3B--&granularity=day&from=2025-03-01&to=2025-03-08&property=hotel-1',
    /^unknown metric "messages; DROP TABLE analytics_events;--"; allowed: messages, messages_received/,
  ],
  [
    'SQL expression as metric',
    '/timeseries?metric=count)%20FROM%20agg_monthly_summary%3B%20DELETE%20FROM%20agg_monthly_summary%3B--&granularity=day&from=2025-03-01&to=2025-03-08&property=hotel-1',
    /^unknown metric "count\) FROM agg_monthly_summary; DELETE FROM agg_monthly_sum…"; allowed: /,
  ],
  [
    'SQL in dimensions',
    '/timeseries?metric=messages&granularity=day&from=2025-03-01&to=2025-03-08&property=hotel-1&dimensions=channel;DROP%20TABLE%20x',
    /^unknown dimension "channel;DROP TABLE x" for messages; allowed: channel, direction$/,
  ],
  [
    'a column the metric may not group by',
    '/timeseries?metric=messages&granularity=day&from=2025-03-01&to=2025-03-08&property=hotel-1&dimension=property_id',
    /^unknown dimension "property_id" for messages; allowed: channel, direction$/,
  ],
  [
    'unknown property',
    '/timeseries?metric=messages&granularity=day&from=2025-03-01&to=2025-03-08&property=nope',
    /^unknown property "nope": no events or aggregates for it$/,
  ],
  [
    'SQL in property',
    "/timeseries?metric=messages&granularity=day&from=2025-03-01&to=2025-03-08&property=hotel-1'%20OR%20'1'%3D'1",
    /is not a property id/,
  ],
  [
    'inverted range',
    '/timeseries?metric=messages&granularity=day&from=2025-04-01&to=2025-03-01&property=hotel-1',
    /^to "2025-03-01" must be after from "2025-04-01" \(from is inclusive, to exclusive\)$/,
  ],
  [
    '100-year range',
    '/timeseries?metric=monthly_messages&granularity=month&from=1925-01-01&to=2025-01-01&property=hotel-1',
    /must be a date|outside the dates supported \(1970-01-01 to 9999-12-31\)|the range is 36525 days; at most 3660/,
  ],
  [
    '100-year range (valid dates)',
    '/timeseries?metric=monthly_messages&granularity=month&from=1975-01-01&to=2075-01-01&property=hotel-1',
    /^the range is 36525 days; at most 3660$/,
  ],
  [
    'non-ISO date',
    '/timeseries?metric=messages&granularity=day&from=01%2F03%2F2025&to=2025-03-08&property=hotel-1',
    /^from must be a date YYYY-MM-DD, not "01\/03\/2025"$/,
  ],
  [
    'impossible date',
    '/timeseries?metric=messages&granularity=day&from=2025-02-30&to=2025-03-08&property=hotel-1',
    /^from "2025-02-30" is not a date: February 2025 has 28 days$/,
  ],
  [
    'SQL in a date',
    "/timeseries?metric=messages&granularity=day&from=2025-03-01'%3B%20DROP%20TABLE%20x%3B--&to=2025-03-08&property=hotel-1",
    /^from must be a date YYYY-MM-DD/,
  ],
  [
    'date-time without offset',
    '/timeseries?metric=messages&granularity=hour&from=2025-03-01T10%3A00&to=2025-03-02&property=hotel-1',
    /ISO-8601 date-time with an offset/,
  ],
  [
    'unknown granularity',
    '/timeseries?metric=messages&granularity=minute&from=2025-03-01&to=2025-03-08&property=hotel-1',
    /^unknown granularity "minute"; allowed: hour, day, week, month$/,
  ],
  [
    'percentile rolled up',
    '/timeseries?metric=response_time_p95_ms&granularity=day&from=2025-03-01&to=2025-03-08&property=hotel-1',
    /^metric response_time_p95_ms cannot be read by day \(a percentile does not roll up\); allowed: hour$/,
  ],
  [
    'too many points',
    '/timeseries?metric=messages&granularity=hour&from=2025-01-01&to=2025-06-01&property=hotel-1',
    /hour periods; at most 2000 points per series/,
  ],
  [
    '10,000 dimensions',
    `/timeseries?metric=messages&granularity=day&from=2025-03-01&to=2025-03-08&property=hotel-1&dimensions=${Array(10_000).fill('channel').join(',')}`,
    /^the query string is \d+ characters; at most 2048$/,
  ],
  [
    'unknown parameter',
    '/timeseries?metric=messages&granularity=day&from=2025-03-01&to=2025-03-08&property=hotel-1&order=1;DROP',
    /^unknown parameter "order"; allowed: metric, granularity/,
  ],
  [
    'repeated parameter',
    '/timeseries?metric=messages&metric=nps&granularity=day&from=2025-03-01&to=2025-03-08&property=hotel-1',
    /^parameter "metric" is given more than once$/,
  ],
  ['missing metric', '/timeseries?granularity=day&from=2025-03-01&to=2025-03-08&property=hotel-1', /^metric is required/],
  ['dashboard without property', '/dashboard', /^property is required$/],
  ['dashboard, NUL in property', '/dashboard?property=hotel-1%00', /is not a property id/],
  ['report format', '/reports?type=weekly&property=hotel-1&from=2025-03-24&format=pdf', /^unknown format "pdf"; allowed: json, csv, html$/],
  [
    'report type',
    '/reports?type=yearly&property=hotel-1&from=2025-01-01',
    /^unknown report type "yearly"; allowed: daily, weekly, monthly$/,
  ],
  [
    'report section',
    '/reports?type=weekly&property=hotel-1&from=2025-03-24&sections=summary,pg_sleep(10)',
    /^unknown section "pg_sleep\(10\)"/,
  ],
];

describe.each(DRIVERS)('the analytics API handler through the %s driver', (driver) => {
  let db: TestDb;
  let deps: ApiDeps & { sql: ReturnType<typeof countingSql> };
  const get = (pathAndQuery: string, method = 'GET') => {
    const [path, query = ''] = pathAndQuery.split(/\?(.*)/s);
    return handleRequest(deps, { method, path: path as string, query, requestId: 'req-1' });
  };
  const snapshot = async () =>
    db.direct.query(
      `SELECT c.relname, (xpath('/row/n/text()', query_to_xml('SELECT count(*) AS n FROM ' || quote_ident(c.relname), false, true, '')))[1]::text AS n
       FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = 'public' AND c.relkind IN ('r', 'v') ORDER BY 1`,
    );
  beforeAll(async () => {
    db = await testDb(driver);
    const opts = { hourFrom: '2025-03-24', hourTo: '2025-04-08', dayFrom: '2025-02-17', dayTo: '2025-04-14', timeZone: TZ };
    await insertFixture(db.direct, buildFixture('hotel-1', opts));
    const clock = testClock('2025-04-02T10:00:00Z');
    const sql = countingSql(db.sql);
    deps = { sql, clock, limits, log: memoryLog(), cache: new DashboardCache({ sql, clock, settings }, { ttlMs: 60_000, max: 100 }) };
  });
  afterAll(() => db.close());

  it('serves the dashboard, cached for 60 s (x-cache)', async () => {
    const a = await get('/dashboard?property=hotel-1');
    expect(a.statusCode).toBe(200);
    expect(a.headers['x-cache']).toBe('miss');
    expect(Object.keys(JSON.parse(a.body)).sort()).toEqual(['activeConversations', 'comparison', 'pendingTasks', 'staffOnline', 'today']);
    const b = await get('/dashboard?property=hotel-1');
    expect(b.headers['x-cache']).toBe('hit');
    expect(b.body).toBe(a.body);
  });

  it('serves a time series, by one dimension or several', async () => {
    const r = await get(
      '/timeseries?metric=messages&granularity=day&from=2025-03-24&to=2025-03-31&property=hotel-1&dimensions=channel,direction',
    );
    expect(r.statusCode).toBe(200);
    const body = JSON.parse(r.body);
    expect(body.query).toMatchObject({ metric: 'messages', granularity: 'day', dimensions: ['channel', 'direction'], timeZone: TZ });
    expect(body.series.length).toBe(6);
    for (const s of body.series) expect(s.points).toHaveLength(7);
  });

  it('serves reports as JSON, a CSV zip and HTML', async () => {
    const base = '/reports?type=weekly&property=hotel-1&from=2025-03-24&to=2025-03-31';
    const j = await get(`${base}&format=json`);
    expect(j.statusCode).toBe(200);
    expect(Object.keys(JSON.parse(j.body).sections)).toHaveLength(7);
    const c = await get(`${base}&format=csv`);
    expect(c.headers['content-type']).toBe('application/zip');
    expect(c.isBase64Encoded).toBe(true);
    expect(Object.keys(unzipSync(Buffer.from(c.body, 'base64')))).toContain('summary-totals.csv');
    const h = await get(`${base}&format=html&sections=top_intents,channel_breakdown`);
    expect(h.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(h.body).toContain('data-chart="intents"');
    expect(h.body).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it("sections are named as the report names them (camelCase, its JSON keys and CSV files); the seed's snake_case names are aliases (issue 22, item 10)", async () => {
    const base = '/reports?type=weekly&property=hotel-1&from=2025-03-24';
    for (const sections of ['responseTimes,topIntents', 'response_times,top_intents', 'responseTimes,top_intents,topIntents']) {
      const r = await get(`${base}&sections=${sections}`);
      expect({ sections, status: r.statusCode, keys: Object.keys(JSON.parse(r.body).sections ?? {}) }).toEqual({
        sections,
        status: 200,
        keys: ['responseTimes', 'topIntents'],
      });
    }
    const csv = await get(`${base}&format=csv&sections=staffPerformance`);
    expect(Object.keys(unzipSync(Buffer.from(csv.body, 'base64'))).every((f) => f.startsWith('staffPerformance-'))).toBe(true);
    const bad = await get(`${base}&sections=responsetimes`);
    expect({ status: bad.statusCode, error: JSON.parse(bad.body).error }).toEqual({
      status: 400,
      error:
        'unknown section "responsetimes"; allowed: summary, conversations, responseTimes, staffPerformance, satisfaction, topIntents, channelBreakdown',
    });
  });

  it('impossible dates, and periods or ranges past 9999-12-31: a 400 saying why, never a 500 nor a date moved (issue 23: defects 5, 6)', async () => {
    const cases: [string, RegExp][] = [
      ['/reports?type=daily&property=hotel-1&from=2025-02-30', /^from "2025-02-30" is not a date: February 2025 has 28 days$/],
      ['/reports?type=monthly&property=hotel-1&from=2025-09-31', /^from "2025-09-31" is not a date: September 2025 has 30 days$/],
      ['/timeseries?metric=messages&granularity=day&from=2025-02-30&to=2025-03-05&property=hotel-1', /February 2025 has 28 days/],
      [
        '/timeseries?metric=messages&granularity=hour&from=2025-02-30T10:00:00Z&to=2025-03-02T00:00:00Z&property=hotel-1',
        /^from "2025-02-30T10:00:00Z" is not a real date and time: February 2025 has 28 days$/,
      ],
      [
        '/timeseries?metric=messages&granularity=hour&from=2025-03-01T00:00:00Z&to=2025-03-01T24:00:00Z&property=hotel-1',
        /hours go from 00 to 23/,
      ],
      [
        '/reports?type=daily&property=hotel-1&from=9999-12-31',
        /^a daily report from 9999-12-31 would end after 9999-12-31, the last date supported$/,
      ],
      ['/reports?type=monthly&property=hotel-1&from=9999-12-01', /would end after 9999-12-31/],
      ['/reports?type=weekly&property=hotel-1&from=9999-12-27', /would end after 9999-12-31/],
      [
        '/timeseries?metric=monthly_messages&granularity=month&from=9999-11-01&to=9999-12-31&property=hotel-1',
        /^the range to 9999-12-31, widened to whole months, would end after 9999-12-31, the last date supported$/,
      ],
      ['/timeseries?metric=messages&granularity=week&from=9999-12-20&to=9999-12-31&property=hotel-1', /widened to whole weeks/],
      [
        '/timeseries?metric=messages&granularity=hour&from=9999-12-31T20:00:00Z&to=9999-12-31T23:30:00Z&property=hotel-1',
        /the range ends after 9999-12-31/,
      ],
      [
        '/timeseries?metric=messages&granularity=hour&from=9999-12-31T20:00:00Z&to=9999-12-31T23:30:00-05:00&property=hotel-1',
        /outside the dates supported/,
      ],
    ];
    for (const [url, message] of cases) {
      const r = await get(url);
      expect({ url, status: r.statusCode, error: JSON.parse(r.body).error }).toEqual({
        url,
        status: 400,
        error: expect.stringMatching(message),
      });
    }
    // the last period that ends by 9999-12-31 is served
    expect((await get('/timeseries?metric=messages&granularity=day&from=9999-12-01&to=9999-12-31&property=hotel-1')).statusCode).toBe(200);
    expect((await get('/reports?type=daily&property=hotel-1&from=9999-12-26')).statusCode).toBe(200);
    const lastWeek = await get('/reports?type=daily&property=hotel-1&from=9999-12-30'); // its ISO week (satisfaction) ends in 10000
    expect({ status: lastWeek.statusCode, error: JSON.parse(lastWeek.body).error }).toEqual({
      status: 400,
      error: expect.stringMatching(/the week of 9999-12-30 \(from 9999-12-27\) ends after 9999-12-31/),
    });
  });

  it('answers unknown routes and methods without touching the database', async () => {
    const before = deps.sql.statements.length;
    expect((await get('/admin?x=1')).statusCode).toBe(404);
    expect((await get('/dashboard?property=hotel-1', 'POST')).statusCode).toBe(405);
    expect(deps.sql.statements.length).toBe(before);
  });

  it('refuses the hostile corpus with 400s and clear messages; no request text reaches SQL; the database is untouched', async () => {
    const before = await snapshot();
    for (const [what, url, message] of HOSTILE) {
      const from = deps.sql.statements.length;
      const r = await get(url);
      expect({ what, status: r.statusCode }).toEqual({ what, status: 400 });
      const { error } = JSON.parse(r.body);
      expect({ what, error }).toEqual({ what, error: expect.stringMatching(message) });
      expect(error).not.toMatch(/\bat .*\.ts:\d+|SqlError|syntax error/);
      // whatever ran (the property check), no request text was part of the statement
      for (const s of deps.sql.statements.slice(from)) expect(s.text).not.toMatch(/DROP|DELETE|pg_sleep|'1'='1|order=/i);
    }
    expect(await snapshot()).toEqual(before);
    expect(before.find((r) => r.relname === 'analytics_events')).toBeDefined();
  });

  it('10,000 dimensions given directly to queryTimeSeries are refused by count', async () => {
    await expect(
      queryTimeSeries(
        { sql: db.sql, limits },
        {
          metric: 'messages',
          granularity: 'day',
          startDate: '2025-03-01',
          endDate: '2025-03-08',
          propertyId: 'hotel-1',
          dimensions: Array(10_000).fill('channel'),
        },
      ),
    ).rejects.toThrow('at most 4 dimensions, not 10000; messages allows: channel, direction');
  });

  it('a database failure is a 500 with the request id only: no SQL, no stack', async () => {
    const broken = {
      ...deps.sql,
      query: async () => {
        throw new SqlError('relation "agg_message_counts_hourly" does not exist', 'SELECT secret FROM agg_message_counts_hourly', '42P01');
      },
    } as unknown as Sql;
    const log = memoryLog();
    const r = await handleRequest(
      { ...deps, sql: broken, log, cache: new DashboardCache({ sql: broken, clock: deps.clock, settings }, { ttlMs: 1, max: 1 }) },
      {
        method: 'GET',
        path: '/timeseries',
        query: 'metric=messages&granularity=day&from=2025-03-01&to=2025-03-08&property=hotel-1',
        requestId: 'req-9',
      },
    );
    expect(r.statusCode).toBe(500);
    expect(JSON.parse(r.body)).toEqual({ error: 'internal error', requestId: 'req-9' });
    expect(log.lines.some((l) => l.level === 'error')).toBe(true);
  });
});
