import { allowedGranularities, type Granularity, METRICS, type MetricDefinition } from '../../lambdas/analytics-api/metrics';
import { monthStart, weekStart } from '../../lambdas/analytics-api/periods';
import { queryTimeSeries, type TimeSeriesResult } from '../../lambdas/analytics-api/timeseries';
import { localDate } from '../../lambdas/shared/time';
import { type AnalyticsFixture, buildFixture, insertFixture } from '../support/analytics-fixture';
import { DRIVERS, type TestDb, testDb } from '../support/db';

const TZ = 'Europe/Madrid';
const limits = { timeZone: TZ, maxPoints: 2_000, maxRangeDays: 3_660 };

/** One raw observation: where it falls, its dimensions, and what it adds (a count, raw samples, or a value). */
interface Obs {
  at: string;
  grain: Granularity;
  dims: Record<string, string>;
  sum?: number;
  samples?: number[];
  value?: number | null;
}

const ones = (hit: number, total: number) => [...Array(hit).fill(1), ...Array(Math.max(0, total - hit)).fill(0)] as number[];
const expand = (r: number[], score: (i: number) => number) => r.flatMap((n, i) => Array(n).fill(score(i + 1)) as number[]);

/** The raw observations behind each metric, straight from the fixture (no SQL). */
function observations(f: AnalyticsFixture, name: string): Obs[] {
  const h = (at: string, dims: Record<string, string>, o: Partial<Obs>): Obs => ({ at, grain: 'hour', dims, ...o });
  const d = (at: string, dims: Record<string, string>, o: Partial<Obs>): Obs => ({ at, grain: 'day', dims, ...o });
  switch (name) {
    case 'messages':
      return f.messages.map((r) => h(r.period_start, { channel: r.channel, direction: r.direction }, { sum: r.count }));
    case 'messages_received':
      return f.messages.map((r) => h(r.period_start, { channel: r.channel }, { sum: r.direction === 'inbound' ? r.count : 0 }));
    case 'messages_sent':
      return f.messages.map((r) => h(r.period_start, { channel: r.channel }, { sum: r.direction === 'outbound' ? r.count : 0 }));
    case 'responses':
      return f.responses.map((r) => h(r.period_start, { channel: r.channel }, { sum: r.samples.length }));
    case 'response_time_avg_ms':
      return f.responses.map((r) => h(r.period_start, { channel: r.channel }, { samples: r.samples }));
    case 'response_time_p50_ms':
    case 'response_time_p95_ms':
    case 'response_time_p99_ms': {
      const k = name.includes('p50') ? 'p50' : name.includes('p95') ? 'p95' : 'p99';
      return f.responses.map((r) => h(r.period_start, { channel: r.channel }, { value: r[k] }));
    }
    case 'conversations_started':
    case 'conversations_resolved':
    case 'conversations_escalated': {
      const k = name.replace('conversations_', '') as 'started' | 'resolved' | 'escalated';
      return f.conversations.map((r) => d(r.period_date, { channel: r.channel }, { sum: r[k] }));
    }
    case 'ai_handled':
    case 'ai_escalated':
      return f.conversations.map((r) => d(r.period_date, { channel: r.channel }, { sum: r[name] }));
    case 'escalation_rate':
      return f.conversations.map((r) => d(r.period_date, { channel: r.channel }, { samples: ones(r.escalated, r.started) }));
    case 'first_response_avg_ms':
      return f.conversations.map((r) => d(r.period_date, { channel: r.channel }, { samples: r.firstResponse }));
    case 'first_response_p50_ms':
      return f.conversations.map((r) => d(r.period_date, { channel: r.channel }, { value: r.p50_first }));
    case 'first_response_p95_ms':
      return f.conversations.map((r) => d(r.period_date, { channel: r.channel }, { value: r.p95_first }));
    case 'resolution_avg_minutes':
      return f.conversations.map((r) => d(r.period_date, { channel: r.channel }, { samples: r.resolution }));
    case 'resolution_p95_minutes':
      return f.conversations.map((r) => d(r.period_date, { channel: r.channel }, { value: r.p95_resolution }));
    case 'staff_conversations_handled':
      return f.staff.map((r) => d(r.period_date, { staff_id: r.staff_id }, { sum: r.handled }));
    case 'staff_tasks_completed':
      return f.staff.map((r) => d(r.period_date, { staff_id: r.staff_id }, { sum: r.tasks }));
    case 'staff_response_time_avg_ms':
      return f.staff.map((r) => d(r.period_date, { staff_id: r.staff_id }, { samples: r.responseTimes }));
    case 'staff_satisfaction_avg':
      return f.staff.map((r) => d(r.period_date, { staff_id: r.staff_id }, { samples: r.ratings }));
    case 'intents':
      return f.intents.map((r) => d(r.period_date, { intent: r.intent }, { sum: r.confidences.length + r.unscored }));
    case 'intent_confidence_avg':
      return f.intents.map((r) => d(r.period_date, { intent: r.intent }, { samples: r.confidences }));
    case 'intent_actions_taken':
      return f.intents.map((r) => d(r.period_date, { intent: r.intent }, { sum: r.actions }));
    case 'intent_escalations':
      return f.intents.map((r) => d(r.period_date, { intent: r.intent }, { sum: r.escalated }));
    case 'surveys_sent':
      return f.satisfaction.map((r) => ({ at: r.period_start, grain: 'week', dims: { channel: r.channel }, sum: r.sent }));
    case 'survey_responses':
      return f.satisfaction.map((r) => ({
        at: r.period_start,
        grain: 'week',
        dims: { channel: r.channel },
        sum: r.ratings.reduce((a, b) => a + b),
      }));
    case 'rating_avg':
      return f.satisfaction.map((r) => ({
        at: r.period_start,
        grain: 'week',
        dims: { channel: r.channel },
        samples: expand(r.ratings, (i) => i),
      }));
    case 'nps':
      return f.satisfaction.map((r) => ({
        at: r.period_start,
        grain: 'week',
        dims: { channel: r.channel },
        samples: expand(r.ratings, (i) => (i === 5 ? 100 : i === 4 ? 0 : -100)),
      }));
    case 'monthly_conversations':
      return f.monthly.map((r) => ({ at: `${r.period_month}-01`, grain: 'month', dims: {}, sum: r.conversations }));
    case 'monthly_messages':
      return f.monthly.map((r) => ({ at: `${r.period_month}-01`, grain: 'month', dims: {}, sum: r.messages }));
    case 'monthly_tasks':
      return f.monthly.map((r) => ({ at: `${r.period_month}-01`, grain: 'month', dims: {}, sum: r.tasks }));
    case 'ai_resolution_rate':
      return f.monthly.map((r) => ({
        at: `${r.period_month}-01`,
        grain: 'month',
        dims: {},
        value: r.conversations ? r.aiResolved / r.conversations : null,
      }));
    case 'monthly_satisfaction_avg':
      return f.monthly.map((r) => ({ at: `${r.period_month}-01`, grain: 'month', dims: {}, value: r.satisfaction }));
    case 'monthly_response_time_minutes':
      return f.monthly.map((r) => ({ at: `${r.period_month}-01`, grain: 'month', dims: {}, value: r.responseMinutes }));
  }
  throw new Error(`no fixture mapping for metric ${name}: add one`);
}

/** The bucket of an observation at a granularity, computed with Intl (not SQL). */
function bucketOf(o: Obs, g: Granularity): string {
  const date = o.grain === 'hour' ? localDate(new Date(o.at), TZ) : o.at;
  if (g === 'hour') return new Date(o.at).toISOString();
  if (g === 'day') return date;
  if (g === 'week') return weekStart(date);
  return monthStart(date);
}

/** Expected series: key "dims json" → bucket → value. */
function expected(f: AnalyticsFixture, metric: MetricDefinition, g: Granularity, dims: readonly string[]) {
  const out = new Map<string, Map<string, { sum: number; samples: number[]; value: number | null; rows: number }>>();
  for (const o of observations(f, metric.name)) {
    const dk = JSON.stringify(dims.map((d) => o.dims[d]));
    const b = bucketOf(o, g);
    const series = out.get(dk) ?? new Map();
    out.set(dk, series);
    const cell = series.get(b) ?? { sum: 0, samples: [], value: null, rows: 0 };
    series.set(b, cell);
    cell.sum += o.sum ?? 0;
    cell.samples.push(...(o.samples ?? []));
    if (o.value !== undefined) cell.value = o.value;
    cell.rows++;
  }
  return out;
}

const RANGES: Record<Granularity, Record<Granularity, [string, string]>> = {
  hour: {
    hour: ['2025-03-29', '2025-04-01'],
    day: ['2025-03-24', '2025-04-08'],
    week: ['2025-03-24', '2025-04-07'],
    month: ['2025-03-01', '2025-05-01'],
  },
  day: { hour: ['', ''], day: ['2025-02-17', '2025-04-14'], week: ['2025-02-17', '2025-04-14'], month: ['2025-02-01', '2025-05-01'] },
  week: { hour: ['', ''], day: ['', ''], week: ['2025-02-17', '2025-04-14'], month: ['', ''] },
  month: { hour: ['', ''], day: ['', ''], week: ['', ''], month: ['2025-02-01', '2025-05-01'] },
};

function check(result: TimeSeriesResult, f: AnalyticsFixture, metric: MetricDefinition, g: Granularity) {
  const dims = result.query.dimensions;
  const exp = expected(f, metric, g, dims);
  const keyOf = (p: { period: string; start: string }) => (g === 'hour' ? new Date(p.start).toISOString() : p.period);
  // every expected series is present, and no other
  expect(result.series.map((s) => JSON.stringify(dims.map((d) => s.dimensions[d]))).sort()).toEqual(
    dims.length === 0 ? [JSON.stringify([])] : [...exp.keys()].sort(),
  );
  let nonEmpty = 0;
  for (const s of result.series) {
    const cells = exp.get(JSON.stringify(dims.map((d) => s.dimensions[d]))) ?? new Map();
    for (const p of s.points) {
      const cell = cells.get(keyOf(p));
      let want: number | null;
      if (metric.rollup.kind === 'sum') want = cell?.sum ?? 0;
      else if (metric.rollup.kind === 'weighted-mean' || metric.rollup.kind === 'ratio')
        want = cell && cell.samples.length > 0 ? cell.samples.reduce((a: number, b: number) => a + b, 0) / cell.samples.length : null;
      else want = cell ? cell.value : null;
      if (want === null) expect(p.value).toBeNull();
      else {
        expect(p.value).not.toBeNull();
        expect(p.value as number).toBeCloseTo(want, 6);
        nonEmpty++;
      }
    }
  }
  expect(nonEmpty).toBeGreaterThan(0);
}

describe.each(DRIVERS)('time series over the metric registry through the %s driver', (driver) => {
  let db: TestDb;
  let fixture: AnalyticsFixture;
  beforeAll(async () => {
    db = await testDb(driver);
    const opts = { hourFrom: '2025-03-24', hourTo: '2025-04-08', dayFrom: '2025-02-17', dayTo: '2025-04-14', timeZone: TZ };
    fixture = buildFixture('hotel-1', opts);
    await insertFixture(db.direct, fixture);
    await insertFixture(db.direct, buildFixture('hotel-2', { ...opts, seed: 7 })); // another property: must never leak in
  });
  afterAll(() => db.close());

  const cases = METRICS.flatMap((metric) => allowedGranularities(metric).map((g) => [metric.name, g] as const));
  it.each(cases)('%s by %s equals the raw values rolled up (sum; weighted mean = raw mean; percentiles as stored)', async (name, g) => {
    const metric = METRICS.find((m) => m.name === name) as MetricDefinition;
    const [from, to] = RANGES[metric.source.grain][g];
    const result = await queryTimeSeries(
      { sql: db.sql, limits },
      { metric: name, granularity: g, startDate: from, endDate: to, propertyId: 'hotel-1' },
    );
    check(result, fixture, metric, g);
    // continuous: one point per period of the range
    for (const s of result.series) expect(s.points.length).toBe(result.metadata.periods);
  });

  it.each(METRICS.filter((m) => m.dimensions.length > 0).map((m) => [m.name, m.dimensions] as const))(
    '%s grouped by %j: one series per dimension value, each rolled up correctly',
    async (name, dims) => {
      const metric = METRICS.find((m) => m.name === name) as MetricDefinition;
      const g = allowedGranularities(metric).at(-1) as Granularity;
      const [from, to] = RANGES[metric.source.grain][g];
      const result = await queryTimeSeries(
        { sql: db.sql, limits },
        { metric: name, granularity: g, startDate: from, endDate: to, propertyId: 'hotel-1', dimensions: dims },
      );
      expect(result.series.length).toBeGreaterThan(1);
      check(result, fixture, metric, g);
    },
  );

  it('hours are real hours in the aggregation zone: the spring-forward day has 23, labelled with their offsets', async () => {
    const r = await queryTimeSeries(
      { sql: db.sql, limits },
      { metric: 'messages', granularity: 'hour', startDate: '2025-03-30', endDate: '2025-03-31', propertyId: 'hotel-1' },
    );
    const points = r.series[0]?.points ?? [];
    expect(points).toHaveLength(23);
    expect(points[0]?.period).toBe('2025-03-30T00:00:00+01:00');
    expect(points[2]?.period).toBe('2025-03-30T03:00:00+02:00'); // 02:00 does not exist that day
    expect(points.some((p) => p.value === 0)).toBe(true); // the fixture's empty hours are present, as 0
  });

  it('empty periods: 0 for counts, null for means', async () => {
    const q = { granularity: 'day', startDate: '2025-02-17', endDate: '2025-02-28', propertyId: 'hotel-1' };
    const counts = await queryTimeSeries({ sql: db.sql, limits }, { ...q, metric: 'conversations_started' });
    const means = await queryTimeSeries({ sql: db.sql, limits }, { ...q, metric: 'first_response_avg_ms' });
    // 2025-02-21 is the fixture's empty day (index 4)
    expect(counts.series[0]?.points.find((p) => p.period === '2025-02-21')?.value).toBe(0);
    expect(means.series[0]?.points.find((p) => p.period === '2025-02-21')?.value).toBeNull();
  });

  it('bounds the number of points, saying so', async () => {
    await expect(
      queryTimeSeries(
        { sql: db.sql, limits },
        { metric: 'messages', granularity: 'hour', startDate: '2025-01-01', endDate: '2025-06-01', propertyId: 'hotel-1' },
      ),
    ).rejects.toThrow(/3623 hour periods; at most 2000 points per series: shorten the range or use a coarser granularity/);
    await expect(
      queryTimeSeries(
        { sql: db.sql, limits: { ...limits, maxPoints: 100 } },
        {
          metric: 'intents',
          granularity: 'day',
          startDate: '2025-02-17',
          endDate: '2025-04-14',
          propertyId: 'hotel-1',
          dimensions: ['intent'],
        },
      ),
    ).rejects.toThrow(/5 series × 56 periods = 280 points; at most 100/);
  });
});
