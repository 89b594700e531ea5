/**
 * Issue 23, "each property in its own time zone" — Must show: equivalence with an oracle, as a
 * property-based test (a seeded PRNG: reproducible; `ORACLE_SEEDS=1,2,3` runs other seeds).
 *
 * Random event streams for random properties in random IANA zones — half-hour and 45-minute offsets,
 * a 30-minute DST shift (Lord Howe), DST at local midnight (Santiago skips 00:00, Havana repeats it),
 * both hemispheres — thick around each zone's 2025 changes (all between 7 September and 2 November).
 * The real aggregations run (range mode, as `npm run aggregate -- --all`), the real read side answers,
 * and every value equals the ORACLE: plain SQL over the raw events in the property's zone
 * (`date_trunc(…, occurred_at AT TIME ZONE zone)`, an hour being the local hour at one UTC offset),
 * written here from the definitions, sharing no code with the registry or the read side. Counts and
 * percentiles exactly, means to 1e-9 relative.
 */
import { runAggregation } from '../../lambdas/aggregate/aggregate';
import { AGGREGATIONS } from '../../lambdas/aggregate/registry';
import { generateReport } from '../../lambdas/analytics-api/reports';
import { queryTimeSeries } from '../../lambdas/analytics-api/timeseries';
import { ingest } from '../../lambdas/ingest/ingest';
import { memoryLog } from '../../lambdas/shared/observability';
import { setProperty } from '../../lambdas/shared/properties';
import { prng } from '../support/analytics-fixture';
import { type TestDb, testDb } from '../support/db';

const DEFAULT_ZONE = 'Europe/Madrid';
const NOW = new Date('2025-12-01T12:00:00Z');
const limits = { timeZone: DEFAULT_ZONE, maxPoints: 20_000, maxRangeDays: 3_660 };
const SEEDS = (process.env.ORACLE_SEEDS ?? '4,5,42').split(',').map(Number);

/** Zones and the instant of one of their 2025 changes inside the window (UTC). */
const ZONES: [string, string][] = [
  ['Europe/Madrid', '2025-10-26T01:00:00Z'],
  ['America/New_York', '2025-11-02T06:00:00Z'],
  ['America/Havana', '2025-11-02T05:00:00Z'], // 01:00 CDT → 00:00 CST: midnight happens twice
  ['America/Santiago', '2025-09-07T04:00:00Z'], // 00:00 → 01:00: the day starts at 01:00
  ['America/St_Johns', '2025-11-02T04:30:00Z'], // −02:30 → −03:30
  ['Asia/Kolkata', '2025-10-01T00:00:00Z'], // +05:30, no DST
  ['Asia/Kathmandu', '2025-10-01T00:00:00Z'], // +05:45, no DST
  ['Australia/Adelaide', '2025-10-04T16:30:00Z'], // +09:30 → +10:30
  ['Australia/Lord_Howe', '2025-10-04T15:30:00Z'], // +10:30 → +11:00: a 30-minute shift
  ['Pacific/Chatham', '2025-09-27T14:00:00Z'], // +12:45 → +13:45
  ['Pacific/Auckland', '2025-09-27T14:00:00Z'],
];
/** Events lie in [FROM, TO): inside [2025-09-01, 2025-11-10) local in every zone. */
const FROM = Date.parse('2025-09-01T15:00:00Z');
const TO = Date.parse('2025-11-09T09:00:00Z');

interface Property {
  id: string;
  zone: string;
  registered: boolean;
}

function stream(seed: number): { properties: Property[]; rows: Record<string, unknown>[] } {
  const rand = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]) => xs[int(0, xs.length - 1)] as T;
  const properties: Property[] = [];
  for (let i = 0; i < 3; i++) {
    const [zone] = pick(ZONES);
    properties.push({ id: `p${seed}-${i}`, zone, registered: true });
  }
  properties.push({ id: `p${seed}-default`, zone: DEFAULT_ZONE, registered: false }); // unregistered: the configured zone
  const rows: Record<string, unknown>[] = [];
  let n = 0;
  for (const p of properties) {
    const change = Date.parse((ZONES.find(([z]) => z === p.zone) as [string, string])[1]);
    const at = () => {
      // half of the conversations within ±30 h of the zone's change, half anywhere in the window
      const t = rand() < 0.5 ? change + (rand() * 2 - 1) * 30 * 3_600_000 : FROM + rand() * (TO - FROM);
      return Math.max(FROM, Math.min(TO - 4 * 3_600_000, Math.floor(t / 1000) * 1000));
    };
    const ev = (type: string, t: number, extra: Record<string, unknown> = {}) => {
      if (t >= TO) return;
      rows.push({
        id: `e${seed}-${n++}`,
        event_type: type,
        occurred_at: new Date(t).toISOString(),
        property_id: p.id,
        channel: null,
        metadata: {},
        ...extra,
      });
    };
    for (let c = 0; c < 120; c++) {
      const t0 = at();
      const conv = { conversation_id: `${p.id}-c${c}`, channel: pick(['whatsapp', 'email', null]) };
      ev('conversation.started', t0, conv);
      ev('message.received', t0 + 1_000, conv);
      let t = t0 + 2_000;
      for (let k = int(0, 3); k > 0; k--) {
        t += int(1, 5_400) * 1000;
        const staff = rand() < 0.4 ? pick(['ana', 'bo', 'cy']) : null;
        ev(staff ? 'message.sent' : 'response.ai_generated', t, conv);
        ev('response.time_recorded', t, { ...conv, staff_id: staff, duration_ms: rand() < 0.9 ? int(50, 900_000) : null });
      }
      if (rand() < 0.3) ev('conversation.escalated', t + int(0, 20 * 3600) * 1000, conv);
      if (rand() < 0.7)
        ev('conversation.resolved', t + int(60, 20 * 3600) * 1000, { ...conv, duration_ms: rand() < 0.8 ? int(60_000, 9e6) : null });
      if (rand() < 0.5)
        ev('intent.classified', t0 + 500, {
          ...conv,
          value: rand() < 0.8 ? rand() : null,
          metadata: rand() < 0.9 ? { intent: pick(['booking', 'pricing', 'cancel']) } : {},
        });
      if (rand() < 0.3) ev('task.created', t0 + int(1, 7200) * 1000, { ...conv, task_id: `${p.id}-t${c}` });
      if (rand() < 0.25) ev('task.completed', t0 + int(7200, 20_000) * 1000, { task_id: `${p.id}-t${c}`, staff_id: pick(['ana', 'bo']) });
      if (rand() < 0.4) ev('satisfaction.rating_received', t + int(60, 7200) * 1000, { ...conv, value: int(1, 5) });
    }
  }
  return { properties, rows };
}

// ------------------------------------------------------------------ the oracle: SQL over the raw events

type Unit = 'hour' | 'day' | 'week' | 'month';
/** A period as a user names it: an hour by its local hour and UTC offset (minutes), a day/week/month by its first local date. */
const keyOf = (unit: Unit) =>
  unit === 'hour'
    ? `to_char(date_trunc('hour', local), 'YYYY-MM-DD"T"HH24') || '|' || off`
    : `to_char(date_trunc('${unit}', local), 'YYYY-MM-DD')`;

/** One figure per (property, period, dimension): `value` over the rows of `where`. */
interface OracleMetric {
  where: string;
  value: string;
  dim?: string;
  /** The value of a period without rows (counts: 0; means: null). */
  empty: 0 | null;
  units: readonly Unit[];
}
const ALL: readonly Unit[] = ['hour', 'day', 'week', 'month'];
const DAYS: readonly Unit[] = ['day', 'week', 'month'];
const ORACLE: Record<string, OracleMetric> = {
  messages: { where: "event_type IN ('message.received', 'message.sent')", value: 'count(*)', empty: 0, units: ALL },
  responses: { where: "event_type = 'response.time_recorded'", value: 'count(duration_ms)', empty: 0, units: ALL },
  response_time_avg_ms: { where: "event_type = 'response.time_recorded'", value: 'avg(duration_ms)::float8', empty: null, units: ALL },
  response_time_p50_ms: {
    where: "event_type = 'response.time_recorded' AND duration_ms IS NOT NULL",
    value: 'round((percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms))::numeric)::float8', // to the ms, halves up
    dim: "COALESCE(channel, 'unknown')",
    empty: null,
    units: ['hour'],
  },
  conversations_started: { where: "event_type = 'conversation.started'", value: 'count(*)', empty: 0, units: DAYS },
  conversations_resolved: { where: "event_type = 'conversation.resolved'", value: 'count(*)', empty: 0, units: DAYS },
  conversations_escalated: { where: "event_type = 'conversation.escalated'", value: 'count(*)', empty: 0, units: DAYS },
  escalation_rate: {
    where: "event_type IN ('conversation.started', 'conversation.escalated')",
    value:
      "(count(*) FILTER (WHERE event_type = 'conversation.escalated'))::float8 / NULLIF(count(*) FILTER (WHERE event_type = 'conversation.started'), 0)",
    empty: null,
    units: DAYS,
  },
  resolution_avg_minutes: {
    where: "event_type = 'conversation.resolved' AND duration_ms IS NOT NULL",
    value: 'avg(duration_ms)::float8 / 60000',
    empty: null,
    units: DAYS,
  },
  staff_tasks_completed: {
    where: "event_type = 'task.completed' AND staff_id IS NOT NULL",
    value: 'count(*)',
    dim: 'staff_id',
    empty: 0,
    units: DAYS,
  },
  staff_response_time_avg_ms: {
    where: "event_type = 'response.time_recorded' AND staff_id IS NOT NULL",
    value: 'avg(duration_ms)::float8',
    dim: 'staff_id',
    empty: null,
    units: DAYS,
  },
  intents: {
    where: "event_type = 'intent.classified'",
    value: 'count(*)',
    dim: "COALESCE(NULLIF(metadata ->> 'intent', ''), 'unknown')",
    empty: 0,
    units: DAYS,
  },
  intent_confidence_avg: {
    where: "event_type = 'intent.classified'",
    value: 'avg(value)',
    dim: "COALESCE(NULLIF(metadata ->> 'intent', ''), 'unknown')",
    empty: null,
    units: DAYS,
  },
};
const DIMENSION: Record<string, string> = {
  response_time_p50_ms: 'channel',
  staff_tasks_completed: 'staff_id',
  staff_response_time_avg_ms: 'staff_id',
  intents: 'intent',
  intent_confidence_avg: 'intent',
};

/** The events with their property's local time and UTC offset (minutes), from the test's own zone list. */
const LOCAL_EVENTS = `z AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS z(property_id text, zone text)),
  e AS (SELECT e.*, e.occurred_at AT TIME ZONE z.zone AS local,
               (extract(epoch FROM (e.occurred_at AT TIME ZONE z.zone) - (e.occurred_at AT TIME ZONE 'UTC')) / 60)::int AS off
        FROM analytics_events e JOIN z USING (property_id))`;

/** The key of a series point in the oracle's terms. */
function pointKey(unit: Unit, p: { period: string; start: string }): string {
  if (unit !== 'hour') return p.period;
  const off = p.start.slice(-6);
  const minutes = (off[0] === '-' ? -1 : 1) * (Number(off.slice(1, 3)) * 60 + Number(off.slice(4, 6)));
  return `${p.start.slice(0, 13)}|${minutes}`;
}

function same(got: unknown, want: number | null, what: string): void {
  const ok = want === null ? got === null : typeof got === 'number' && Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want));
  if (!ok) expect({ what, got }).toEqual({ what, got: want });
}

describe.each(SEEDS)('every figure equals SQL over the raw events in the property’s own zone (seed %i)', (seed) => {
  let db: TestDb;
  const { properties, rows } = stream(seed);
  const zones = properties.map((p) => ({ property_id: p.id, zone: p.zone }));

  beforeAll(async () => {
    db = await testDb('pg');
    for (const p of properties) if (p.registered) await setProperty(db.sql, { propertyId: p.id, timeZone: p.zone });
    for (let i = 0; i < rows.length; i += 2000)
      await db.direct.execute(
        `INSERT INTO analytics_events (id, event_type, occurred_at, property_id, channel, conversation_id, staff_id, task_id, value, duration_ms, metadata)
         SELECT id, event_type, occurred_at, property_id, channel, conversation_id, staff_id, task_id, value, duration_ms, metadata
         FROM jsonb_to_recordset($1::jsonb) AS r(id text, event_type text, occurred_at timestamptz, property_id text, channel text,
           conversation_id text, staff_id text, task_id text, value double precision, duration_ms integer, metadata jsonb)`,
        [{ sqlType: 'jsonb', value: rows.slice(i, i + 2000) }],
      );
    for (const def of AGGREGATIONS)
      await runAggregation(
        { sql: db.sql, log: memoryLog(), clock: { now: () => NOW } },
        def,
        { kind: 'range', from: '2025-09-01', to: '2025-11-10' },
        DEFAULT_ZONE,
      );
  }, 300_000);
  afterAll(() => db.close());

  it(`the zones drawn: ${stream(seed)
    .properties.map((p) => `${p.id} ${p.zone}`)
    .join(', ')}`, () => {
    expect(properties.length).toBe(4);
  });

  it('every metric at every granularity it allows', async () => {
    for (const [metric, o] of Object.entries(ORACLE))
      for (const unit of o.units) {
        const oracle = await db.direct.query<{ property_id: string; k: string; d: string | null; v: number | null }>(
          `WITH ${LOCAL_EVENTS}
           SELECT property_id, ${keyOf(unit)} AS k, ${o.dim ?? 'NULL::text'} AS d, ${o.value} AS v
           FROM e WHERE ${o.where} GROUP BY 1, 2, 3`,
          [{ sqlType: 'jsonb', value: zones }],
        );
        const want = new Map(oracle.map((r) => [`${r.property_id}|${r.k}|${r.d ?? ''}`, r.v === null ? null : Number(r.v)]));
        for (const p of properties) {
          const dims = DIMENSION[metric] ? [DIMENSION[metric] as string] : undefined;
          const r = await queryTimeSeries(
            { sql: db.sql, limits },
            {
              metric,
              granularity: unit,
              startDate: '2025-09-01',
              endDate: unit === 'month' ? '2025-11-01' : '2025-11-10',
              propertyId: p.id,
              dimensions: dims,
            },
          );
          expect(r.query.timeZone).toBe(p.zone);
          let seen = 0;
          for (const s of r.series)
            for (const point of s.points) {
              const d = dims ? (s.dimensions[dims[0] as string] ?? '') : '';
              const k = `${p.id}|${pointKey(unit, point)}|${d}`;
              if (want.has(k)) seen++;
              same(point.value, want.has(k) ? (want.get(k) as number | null) : o.empty, `${metric} by ${unit}: ${k} (${point.start})`);
            }
          const expected = oracle.filter(
            (x) => x.property_id === p.id && (unit !== 'month' || x.k < '2025-11') && (o.empty === null ? x.v !== null : true),
          ).length;
          expect([metric, unit, p.id, seen >= expected]).toEqual([metric, unit, p.id, true]);
        }
      }
  }, 300_000);

  it('every report summary (daily around the change, weekly, monthly) and the monthly rows', async () => {
    const summary = async (property: string, from: string, to: string) => {
      const [r] = await db.direct.query<Record<string, number | null>>(
        `WITH ${LOCAL_EVENTS},
         p AS (SELECT * FROM e WHERE property_id = $2::text AND local >= $3::date AND local < $4::date),
         esc AS (SELECT DISTINCT conversation_id, local::date AS day FROM p WHERE event_type = 'conversation.escalated')
         SELECT (SELECT count(*) FROM p WHERE event_type = 'conversation.started')::float8 AS conversations,
                (SELECT count(*) FROM p WHERE event_type IN ('message.received', 'message.sent'))::float8 AS messages,
                (SELECT count(*) FROM p WHERE event_type = 'task.created')::float8 AS tasks,
                (SELECT (count(*) FILTER (WHERE p.conversation_id IS NOT NULL AND NOT EXISTS (
                          SELECT 1 FROM esc WHERE esc.conversation_id = p.conversation_id AND esc.day = p.local::date)))::float8
                        / NULLIF(count(*), 0) FROM p WHERE event_type = 'conversation.resolved') AS ai_resolution_rate,
                (SELECT avg(value) FROM p WHERE event_type = 'satisfaction.rating_received') AS avg_satisfaction,
                (SELECT avg(duration_ms)::float8 / 60000 FROM p WHERE event_type = 'response.time_recorded') AS avg_response_time_minutes`,
        [{ sqlType: 'jsonb', value: zones }, property, { sqlType: 'date', value: from }, { sqlType: 'date', value: to }],
      );
      return r as Record<string, number | null>;
    };
    const plus = (d: string, n: number) => new Date(Date.parse(`${d}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
    for (const p of properties) {
      const change = (ZONES.find(([z]) => z === p.zone) as [string, string])[1].slice(0, 10);
      const monday = (d: string) => plus(d, -((new Date(`${d}T00:00:00Z`).getUTCDay() + 6) % 7));
      const checks: [string, string, string][] = [
        ...[-1, 0, 1].map((k) => ['daily', plus(change, k), plus(change, k + 1)] as [string, string, string]),
        ['weekly', monday(change), plus(monday(change), 7)],
        ['weekly', '2025-09-15', '2025-09-22'],
        ['monthly', '2025-09-01', '2025-10-01'],
        ['monthly', '2025-10-01', '2025-11-01'],
      ];
      for (const [type, start, end] of checks) {
        const r = await generateReport({ sql: db.sql, timeZone: DEFAULT_ZONE, now: NOW }, { type, propertyId: p.id, dateRange: { start } });
        expect(r.period.timeZone).toBe(p.zone);
        const got = r.sections.summary?.totals?.[0] ?? {};
        const want = await summary(p.id, start, end);
        for (const [name, value] of Object.entries(want))
          same(got[name], value === null ? null : Number(value), `${p.id} (${p.zone}) ${type} ${start} ${name}`);
      }
    }
  }, 300_000);
});

describe('one schedule, each zone closed when its period has ended; late data and a zone change in the property’s zone', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await testDb('pg');
    await setProperty(db.sql, { propertyId: 'hotel-cun', timeZone: 'America/Cancun', displayName: 'Cancún' });
    await setProperty(db.sql, { propertyId: 'hotel-kol', timeZone: 'Asia/Kolkata' });
  });
  afterAll(() => db.close());
  const daily = AGGREGATIONS.find((a) => a.name === 'daily_conversation_metrics') as (typeof AGGREGATIONS)[number];
  const hourly = AGGREGATIONS.find((a) => a.name === 'hourly_message_counts') as (typeof AGGREGATIONS)[number];
  const run = (def: typeof daily, now: string, mode: Parameters<typeof runAggregation>[2] = { kind: 'scheduled' }) =>
    runAggregation({ sql: db.sql, log: memoryLog(), clock: { now: () => new Date(now) } }, def, mode, DEFAULT_ZONE);

  it('a scheduled run closes the last day of each zone that has ended there (Madrid and Kolkata: the 20th; Cancún: the 19th)', async () => {
    const r = await run(daily, '2025-10-21T01:00:00Z'); // 03:00 Madrid, 06:30 Kolkata, 20:00 (20th) Cancún
    expect(r.zones).toEqual([
      { timeZone: 'Europe/Madrid', periods: ['2025-10-20'] },
      { timeZone: 'America/Cancun', periods: ['2025-10-19'] },
      { timeZone: 'Asia/Kolkata', periods: ['2025-10-20'] },
    ]);
    const h = await run(hourly, '2025-10-21T01:10:00Z');
    expect(h.zones.map((z) => [z.timeZone, z.periods])).toEqual([
      ['Europe/Madrid', ['2025-10-21T00:00:00.000Z']],
      ['America/Cancun', ['2025-10-21T00:00:00.000Z']],
      ['Asia/Kolkata', ['2025-10-20T23:30:00.000Z']], // 05:00–06:00 local (06:40 now)
    ]);
    const marks = await db.direct.query(
      "SELECT time_zone, aggregated_through, covers_unregistered FROM agg_watermarks WHERE agg_table = 'agg_conversation_metrics_daily' ORDER BY 1",
    );
    expect(marks).toEqual([
      { time_zone: 'America/Cancun', aggregated_through: '2025-10-20T05:00:00.000Z', covers_unregistered: false },
      { time_zone: 'Asia/Kolkata', aggregated_through: '2025-10-20T18:30:00.000Z', covers_unregistered: false },
      { time_zone: 'Europe/Madrid', aggregated_through: '2025-10-20T22:00:00.000Z', covers_unregistered: true },
    ]);
  });

  it('a late event is judged by its property’s zone and recomputed in it; a zone change re-derives the property', async () => {
    const now = new Date('2025-10-21T01:20:00Z');
    const ev = (id: string, propertyId: string, timestamp: string) => ({
      id,
      eventType: 'conversation.started',
      timestamp,
      propertyId,
      channel: 'sms',
    });
    const r = await ingest({ sql: db.sql, clock: { now: () => now }, log: memoryLog() }, [
      {
        recordId: 'r1',
        body: JSON.stringify({
          events: [
            ev('k1', 'hotel-kol', '2025-10-20T18:00:00Z'), // 23:30 on the 20th in Kolkata: closed there, late
            ev('c1', 'hotel-cun', '2025-10-20T18:00:00Z'), // 13:00 on the 20th in Cancún: not closed there, not late
            ev('m1', 'hotel-mad', '2025-10-20T18:00:00Z'), // unregistered, 20:00 Madrid on the 20th: late
          ],
        }),
      },
    ]);
    expect(r).toMatchObject({ accepted: 3 });
    const inv = await db.direct.query(
      "SELECT property_id FROM agg_invalidations WHERE agg_table = 'agg_conversation_metrics_daily' ORDER BY 1",
    );
    expect(inv).toEqual([{ property_id: 'hotel-kol' }, { property_id: 'hotel-mad' }]);
    const next = await run(daily, '2025-10-21T01:30:00Z');
    // both late days are their zones' last closed day: the run recomputes them whole (the claims are covered)
    expect(next.zones.map((z) => [z.timeZone, z.periods])).toEqual([
      ['Europe/Madrid', ['2025-10-20']],
      ['America/Cancun', ['2025-10-19']],
      ['Asia/Kolkata', ['2025-10-20']],
    ]);
    expect(
      await db.direct.query('SELECT count(*)::int AS n FROM agg_invalidations WHERE agg_table = $1', ['agg_conversation_metrics_daily']),
    ).toEqual([{ n: 0 }]);
    const rows = () =>
      db.direct.query(
        'SELECT property_id, period_date, conversations_started FROM agg_conversation_metrics_daily WHERE conversations_started > 0 ORDER BY 1, 2',
      );
    expect(await rows()).toEqual([
      { property_id: 'hotel-kol', period_date: '2025-10-20', conversations_started: 1 },
      { property_id: 'hotel-mad', period_date: '2025-10-20', conversations_started: 1 },
    ]);
    // hotel-kol moves to Cancún: its day is now Cancún's (18:00Z is 13:00 on the 20th there, a day not closed yet at 01:30Z
    // on the 21st): the Kolkata row is zeroed, and the Cancún day appears once it has closed
    expect((await setProperty(db.sql, { propertyId: 'hotel-kol', timeZone: 'America/Cancun' })).previousTimeZone).toBe('Asia/Kolkata');
    const rederive = (nowIso: string) =>
      run(daily, nowIso, { kind: 'range', from: '2025-10-19', to: '2025-10-21', property: 'hotel-kol', sweepZone: 'Asia/Kolkata' });
    await expect(rederive('2025-10-21T01:40:00Z')).rejects.toThrow(/has not closed/);
    const done = await rederive('2025-10-21T06:00:00Z');
    expect(done.zones).toEqual([{ timeZone: 'America/Cancun', periods: ['2025-10-19', '2025-10-20'] }]);
    expect(await rows()).toEqual([
      { property_id: 'hotel-kol', period_date: '2025-10-20', conversations_started: 1 },
      { property_id: 'hotel-mad', period_date: '2025-10-20', conversations_started: 1 },
    ]);
    const series = await queryTimeSeries(
      { sql: db.sql, limits },
      { metric: 'conversations_started', granularity: 'day', startDate: '2025-10-20', endDate: '2025-10-21', propertyId: 'hotel-kol' },
    );
    expect(series.query.timeZone).toBe('America/Cancun');
    expect(series.series[0]?.points).toEqual([{ period: '2025-10-20', start: '2025-10-20T00:00:00-05:00', value: 1 }]);
  });
});
