/**
 * Issue 23, defects 1 and 2: what a user reads — weekly and monthly series, every report's summary
 * and its weighted sections — equals the figure computed straight from the raw events.
 *
 * Raw events go into analytics_events, the real aggregations run (range mode, as `npm run aggregate`),
 * the real read side answers; the ORACLE below is plain TypeScript over the same event list, written
 * from the definitions (docs/decisions.md "Analytics: one definition per figure"), sharing no code
 * with the SQL or the read side (its own Intl calendar). Counts are exact; means and rates agree to
 * 1e-9 relative.
 */
import { runAggregation } from '../../lambdas/aggregate/aggregate';
import { AGGREGATIONS } from '../../lambdas/aggregate/registry';
import { generateReport, type Report } from '../../lambdas/analytics-api/reports';
import { queryTimeSeries, type TimeSeriesResult } from '../../lambdas/analytics-api/timeseries';
import { memoryLog } from '../../lambdas/shared/observability';
import type { SqlExecutor } from '../../lambdas/shared/sql/types';
import { prng } from '../support/analytics-fixture';
import { DRIVERS, type TestDb, testDb } from '../support/db';

const TZ = 'Europe/Madrid';
const NOW = new Date('2025-12-01T12:00:00Z');
const limits = { timeZone: TZ, maxPoints: 2_000, maxRangeDays: 3_660 };

interface Ev {
  id: string;
  type: string;
  at: string;
  property: string;
  channel: string | null;
  conversation?: string;
  staff?: string;
  task?: string;
  value?: number;
  duration?: number;
  intent?: string;
}

async function insertEvents(db: SqlExecutor, events: readonly Ev[]): Promise<void> {
  for (let i = 0; i < events.length; i += 2_000) {
    const rows = events.slice(i, i + 2_000).map((e) => ({
      id: e.id,
      event_type: e.type,
      occurred_at: e.at,
      property_id: e.property,
      channel: e.channel,
      conversation_id: e.conversation ?? null,
      staff_id: e.staff ?? null,
      task_id: e.task ?? null,
      value: e.value ?? null,
      duration_ms: e.duration ?? null,
      metadata: e.intent === undefined ? {} : { intent: e.intent },
    }));
    await db.execute(
      `INSERT INTO analytics_events (id, event_type, occurred_at, property_id, channel, conversation_id, staff_id, task_id, value, duration_ms, metadata)
       SELECT id, event_type, occurred_at, property_id, channel, conversation_id, staff_id, task_id, value, duration_ms, metadata
       FROM jsonb_to_recordset($1::jsonb) AS r(id text, event_type text, occurred_at timestamptz, property_id text, channel text,
         conversation_id text, staff_id text, task_id text, value double precision, duration_ms integer, metadata jsonb)`,
      [{ sqlType: 'jsonb', value: rows }],
    );
  }
}

// ------------------------------------------------------------------ the oracle (no code shared with the system)

const dayFormat = new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' });
/** The local calendar day of an instant in TZ. */
const dayOf = (at: string) => dayFormat.format(new Date(at));
const plusDays = (d: string, n: number) => new Date(Date.parse(`${d}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
const mean = (xs: readonly number[]): number | null => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);
const ratio = (a: number, b: number): number | null => (b === 0 ? null : a / b);

/** The events of one property whose local day is in [from, to). */
const within = (events: readonly Ev[], property: string, from: string, to: string) =>
  events.filter((e) => e.property === property && dayOf(e.at) >= from && dayOf(e.at) < to);

/**
 * First responses: per local day, per conversation started that day, its earliest timed response at
 * or after its (first) start, that same day (with the reply's channel).
 */
function firstReplies(events: readonly Ev[]): { duration: number; channel: string }[] {
  const out: { duration: number; channel: string }[] = [];
  const byDayConv = new Map<string, Ev[]>();
  for (const e of events)
    if (e.conversation !== undefined) {
      const k = `${dayOf(e.at)}|${e.conversation}`;
      byDayConv.set(k, [...(byDayConv.get(k) ?? []), e]);
    }
  for (const evs of byDayConv.values()) {
    const starts = evs.filter((e) => e.type === 'conversation.started').map((e) => Date.parse(e.at));
    if (starts.length === 0) continue;
    const start = Math.min(...starts);
    const replies = evs
      .filter((e) => e.type === 'response.time_recorded' && e.duration !== undefined && Date.parse(e.at) >= start)
      .sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || (a.id < b.id ? -1 : 1));
    if (replies[0]) out.push({ duration: replies[0].duration as number, channel: replies[0].channel ?? 'unknown' });
  }
  return out;
}
const firstResponses = (events: readonly Ev[]) => firstReplies(events).map((r) => r.duration);

const timed = (events: readonly Ev[], staff?: string) =>
  events
    .filter((e) => e.type === 'response.time_recorded' && e.duration !== undefined && (staff === undefined || e.staff === staff))
    .map((e) => e.duration as number);
const count = (events: readonly Ev[], type: string) => events.filter((e) => e.type === type).length;

/** The summary of any report, from its period's events (the definitions of SUMMARY_DEFINITIONS). */
function oracleSummary(events: readonly Ev[]) {
  const escalatedOn = new Set(
    events.filter((e) => e.type === 'conversation.escalated' && e.conversation).map((e) => `${dayOf(e.at)}|${e.conversation}`),
  );
  const resolved = events.filter((e) => e.type === 'conversation.resolved');
  const byAi = resolved.filter((e) => e.conversation !== undefined && !escalatedOn.has(`${dayOf(e.at)}|${e.conversation}`));
  const rt = mean(timed(events));
  return {
    conversations: count(events, 'conversation.started'),
    messages: count(events, 'message.received') + count(events, 'message.sent'),
    tasks: count(events, 'task.created'),
    ai_resolution_rate: ratio(byAi.length, resolved.length),
    avg_satisfaction: mean(events.filter((e) => e.type === 'satisfaction.rating_received').map((e) => e.value as number)),
    avg_response_time_minutes: rt === null ? null : rt / 60_000,
  };
}

/** The weekly/monthly figures of the metrics whose weights issue 23 found wrong, and their neighbours. */
function oracleFigures(events: readonly Ev[]) {
  const staff = [...new Set(events.map((e) => e.staff).filter((s): s is string => s !== undefined))].sort();
  const intents = [...new Set(events.filter((e) => e.type === 'intent.classified').map((e) => e.intent ?? 'unknown'))].sort();
  const res = events.filter((e) => e.type === 'conversation.resolved' && e.duration !== undefined).map((e) => e.duration as number);
  const resMean = mean(res);
  return {
    first_response_avg_ms: mean(firstResponses(events)),
    response_time_avg_ms: mean(timed(events)),
    escalation_rate: ratio(count(events, 'conversation.escalated'), count(events, 'conversation.started')),
    resolution_avg_minutes: resMean === null ? null : resMean / 60_000,
    staff_response_time_avg_ms: Object.fromEntries(staff.map((s) => [s, mean(timed(events, s))])),
    intent_confidence_avg: Object.fromEntries(
      intents.map((i) => [
        i,
        mean(
          events
            .filter((e) => e.type === 'intent.classified' && (e.intent ?? 'unknown') === i && e.value !== undefined)
            .map((e) => e.value as number),
        ),
      ]),
    ),
  };
}

// ------------------------------------------------------------------ comparisons

/** Equal: null to null; numbers to 1e-9 relative (so counts exactly). `what` names the figure when it fails. */
function same(got: unknown, want: number | null, what: string): void {
  const ok = want === null ? got === null : typeof got === 'number' && Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want));
  if (!ok) expect({ what, got }).toEqual({ what, got: want });
}

const pointsOf = (r: TimeSeriesResult, dims: Record<string, string> = {}) =>
  r.series.find((s) => Object.entries(dims).every(([k, v]) => s.dimensions[k] === v))?.points ?? [];

// ------------------------------------------------------------------ events

/**
 * Property `hotel-w`, the week of Monday 2025-10-13 (and nothing else in October), shaped like the
 * issue's report: a day with four starts and one measured first response, a staff member's timed
 * responses on a day without a staff message, an escalation on a day without a start.
 */
const L = (d: string, hms: string) => `2025-10-${d}T${hms}+02:00`;
const W = (e: Omit<Ev, 'property' | 'channel'> & { channel?: string | null }): Ev => ({ property: 'hotel-w', channel: 'whatsapp', ...e });
const WEEK: Ev[] = [
  // Monday: c1…c4 start; only c1 gets a timed reply (5 s); s1 answers c1 twice (4 s, 6 s); c1 is resolved by the AI
  ...['c1', 'c2', 'c3', 'c4'].map((c, i) =>
    W({ id: `${c}-start`, type: 'conversation.started', at: L('13', `09:0${i}:00`), conversation: c }),
  ),
  W({ id: 'c1-ai', type: 'response.time_recorded', at: L('13', '09:00:05'), conversation: 'c1', duration: 5_000 }),
  W({ id: 'c1-staff', type: 'response.staff_sent', at: L('13', '10:00:00'), conversation: 'c1', staff: 's1' }),
  W({ id: 'c1-rt1', type: 'response.time_recorded', at: L('13', '10:00:00'), conversation: 'c1', staff: 's1', duration: 4_000 }),
  W({ id: 'c1-rt2', type: 'response.time_recorded', at: L('13', '10:30:00'), conversation: 'c1', staff: 's1', duration: 6_000 }),
  W({ id: 'c1-done', type: 'conversation.resolved', at: L('13', '11:00:00'), conversation: 'c1', duration: 7_200_000 }),
  W({ id: 't1', type: 'task.created', at: L('13', '11:10:00'), conversation: 'c1', task: 't1' }),
  W({ id: 't2', type: 'task.created', at: L('13', '11:20:00'), conversation: 'c1', task: 't2' }),
  W({ id: 't1-done', type: 'task.completed', at: L('13', '12:00:00'), task: 't1', staff: 's1' }),
  W({ id: 'r1', type: 'satisfaction.rating_received', at: L('13', '12:30:00'), conversation: 'c1', value: 5 }),
  W({ id: 'r2', type: 'satisfaction.rating_received', at: L('13', '12:40:00'), conversation: 'c1', staff: 's1', value: 3 }),
  // Tuesday: c5 starts and gets a 0.2 s reply; s1's timed response (8 s), no staff message that day
  W({ id: 'c5-start', type: 'conversation.started', at: L('14', '09:00:00'), conversation: 'c5' }),
  W({ id: 'c5-ai', type: 'response.time_recorded', at: L('14', '09:00:01'), conversation: 'c5', duration: 200 }),
  W({ id: 'c5-rt', type: 'response.time_recorded', at: L('14', '11:00:00'), conversation: 'c5', staff: 's1', duration: 8_000 }),
  // Wednesday: c2 is escalated; nothing starts
  W({ id: 'c2-esc', type: 'conversation.escalated', at: L('15', '10:00:00'), conversation: 'c2' }),
];

/** A random stream for `hotel-r` over 2025-09-29 … 2025-11-09 (six ISO weeks, all of October, the fall-back change). */
function randomStream(seed: number): Ev[] {
  const rand = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]) => xs[int(0, xs.length - 1)] as T;
  const channels = ['whatsapp', 'email', 'webchat', null] as const;
  const staff = ['ana', 'bruno', 'carla'];
  const intents = ['booking', 'pricing', 'cancel'];
  const from = Date.parse('2025-09-28T22:00:00Z'); // Monday 2025-09-29 00:00 in Madrid
  const to = Date.parse('2025-11-09T23:00:00Z'); // Monday 2025-11-10 00:00 in Madrid
  const out: Ev[] = [];
  let n = 0;
  const add = (type: string, at: number, extra: Partial<Ev> = {}) => {
    if (at >= to) return;
    out.push({ id: `rand-${n++}`, type, at: new Date(at).toISOString(), property: 'hotel-r', channel: extra.channel ?? null, ...extra });
  };
  // the repeated hour of 2025-10-26 (02:00–03:00 local twice: 00:00–02:00Z) gets a conversation in each half
  const starts = [Date.parse('2025-10-26T00:20:00Z'), Date.parse('2025-10-26T01:20:00Z')];
  for (let i = 0; i < 260; i++) starts.push(from + Math.floor(rand() * (to - from)));
  starts.forEach((t0, i) => {
    const conversation = `conv-${i}`;
    const channel = pick(channels);
    const c = { conversation, channel };
    if (rand() < 0.9) add('conversation.started', t0, c);
    add('message.received', t0 + 1_000, c);
    let t = t0 + 2_000;
    for (let k = int(0, 3); k > 0; k--) {
      t += int(1, 3_600) * 1_000; // may cross midnight: a reply on the next day is no first response
      const who = rand() < 0.4 ? pick(staff) : undefined;
      if (who && rand() < 0.7) add('response.staff_sent', t, { ...c, staff: who });
      add(who ? 'message.sent' : 'response.ai_generated', t, c);
      add('response.time_recorded', t, { ...c, staff: who, duration: rand() < 0.9 ? int(100, 600_000) : undefined });
    }
    if (rand() < 0.35) add('conversation.escalated', t + int(0, 30 * 3_600) * 1_000, c); // maybe another day
    if (rand() < 0.7)
      add('conversation.resolved', t + int(60, 30 * 3_600) * 1_000, { ...c, duration: rand() < 0.8 ? int(60_000, 9e6) : undefined });
    if (rand() < 0.5)
      add('intent.classified', t0 + 500, {
        ...c,
        intent: rand() < 0.9 ? pick(intents) : undefined,
        value: rand() < 0.8 ? rand() : undefined,
      });
    if (rand() < 0.3) add('task.created', t0 + int(1, 7_200) * 1_000, { ...c, task: `task-${i}` });
    if (rand() < 0.25) add('task.completed', t0 + int(7_200, 20_000) * 1_000, { task: `task-${i}`, staff: pick(staff), channel });
    if (rand() < 0.4)
      add('satisfaction.rating_received', t + int(60, 7_200) * 1_000, {
        ...c,
        staff: rand() < 0.5 ? pick(staff) : undefined,
        value: int(1, 5),
      });
  });
  return out;
}

const EVENTS: Ev[] = [...WEEK, ...randomStream(23)];
const WEEKS = ['2025-09-29', '2025-10-06', '2025-10-13', '2025-10-20', '2025-10-27', '2025-11-03'];

describe.each(DRIVERS)('analytics figures against an oracle over the raw events, through the %s driver', (driver) => {
  let db: TestDb;
  const series = (metric: string, granularity: string, from: string, to: string, propertyId: string, dimensions?: string[]) =>
    queryTimeSeries({ sql: db.sql, limits }, { metric, granularity, startDate: from, endDate: to, propertyId, dimensions });
  const report = (type: string, propertyId: string, start: string): Promise<Report> =>
    generateReport({ sql: db.sql, timeZone: TZ, now: NOW }, { type, propertyId, dateRange: { start } });

  beforeAll(async () => {
    db = await testDb(driver);
    await insertEvents(db.direct, EVENTS);
    for (const def of AGGREGATIONS)
      await runAggregation(
        { sql: db.sql, log: memoryLog(), clock: { now: () => NOW } },
        def,
        { kind: 'range', from: '2025-09-29', to: '2025-11-10' },
        TZ,
      );
  });
  afterAll(() => db.close());

  it('defect 1, as reported: a week’s first response, staff response time and escalation rate are those of its raw events', async () => {
    const [from, to] = ['2025-10-13', '2025-10-20'];
    const first = await series('first_response_avg_ms', 'week', from, to, 'hotel-w');
    const staff = await series('staff_response_time_avg_ms', 'week', from, to, 'hotel-w', ['staff_id']);
    const esc = await series('escalation_rate', 'week', from, to, 'hotel-w');
    // by hand: (5000 + 200) / 2; (4000 + 6000 + 8000) / 3; 1 escalation / 5 starts
    expect(pointsOf(first)[0]?.value).toBe(2_600);
    expect(pointsOf(staff, { staff_id: 's1' })[0]?.value).toBe(6_000);
    expect(pointsOf(esc)[0]?.value).toBe(0.2);
    const o = oracleFigures(within(EVENTS, 'hotel-w', from, to));
    expect([o.first_response_avg_ms, o.staff_response_time_avg_ms.s1, o.escalation_rate]).toEqual([2_600, 6_000, 0.2]);
    // the weekly report shows the same figures
    const r = await report('weekly', 'hotel-w', from);
    same(r.sections.staffPerformance?.staff?.find((s) => s.staff_id === 's1')?.avg_response_time_ms, 6_000, 'report staff s1');
    same(r.sections.responseTimes?.byChannel?.[0]?.avg_ms, 2_600, 'report first response');
  });

  it('defect 2, as reported: the weekly and the monthly report of the same events show the same summary, the oracle’s', async () => {
    const weekly = (await report('weekly', 'hotel-w', '2025-10-13')).sections.summary?.totals?.[0];
    const monthly = (await report('monthly', 'hotel-w', '2025-10-01')).sections.summary?.totals?.[0];
    const o = oracleSummary(within(EVENTS, 'hotel-w', '2025-10-13', '2025-10-20'));
    // by hand: 5 starts, 2 tasks created, c1 resolved without escalation, ratings 5 and 3, responses 5000 4000 6000 200 8000
    expect(o).toEqual({
      conversations: 5,
      messages: 0,
      tasks: 2,
      ai_resolution_rate: 1,
      avg_satisfaction: 4,
      avg_response_time_minutes: 23_200 / 5 / 60_000,
    });
    for (const [name, want] of Object.entries(o)) {
      same(weekly?.[name], want, `weekly ${name}`);
      same(monthly?.[name], want, `monthly ${name}`);
    }
  });

  it('every week and the month: means weighted by the counts they were taken over, rates as ratios of counts (random events)', async () => {
    const props = ['hotel-r', 'hotel-w'];
    for (const property of props) {
      const byWeek = await Promise.all(
        ['first_response_avg_ms', 'response_time_avg_ms', 'escalation_rate', 'resolution_avg_minutes'].map((m) =>
          series(m, 'week', WEEKS[0] as string, '2025-11-10', property),
        ),
      );
      const byMonth = await Promise.all(
        ['first_response_avg_ms', 'response_time_avg_ms', 'escalation_rate', 'resolution_avg_minutes'].map((m) =>
          series(m, 'month', '2025-10-01', '2025-11-01', property),
        ),
      );
      const staffWeek = await series('staff_response_time_avg_ms', 'week', WEEKS[0] as string, '2025-11-10', property, ['staff_id']);
      const intentMonth = await series('intent_confidence_avg', 'month', '2025-10-01', '2025-11-01', property, ['intent']);
      const names = ['first_response_avg_ms', 'response_time_avg_ms', 'escalation_rate', 'resolution_avg_minutes'] as const;
      WEEKS.forEach((w, i) => {
        const o = oracleFigures(within(EVENTS, property, w, plusDays(w, 7)));
        names.forEach((name, k) => {
          same(pointsOf(byWeek[k] as TimeSeriesResult)[i]?.value ?? null, o[name], `${property} ${name} week ${w}`);
        });
        for (const s of staffWeek.series)
          same(
            s.points[i]?.value ?? null,
            o.staff_response_time_avg_ms[s.dimensions.staff_id as string] ?? null,
            `${property} staff ${s.dimensions.staff_id} week ${w}`,
          );
      });
      const oct = oracleFigures(within(EVENTS, property, '2025-10-01', '2025-11-01'));
      names.forEach((name, k) => {
        same(pointsOf(byMonth[k] as TimeSeriesResult)[0]?.value ?? null, oct[name], `${property} ${name} October`);
      });
      for (const s of intentMonth.series)
        same(
          s.points[0]?.value ?? null,
          oct.intent_confidence_avg[s.dimensions.intent as string] ?? null,
          `${property} confidence ${s.dimensions.intent}`,
        );
      expect(intentMonth.series.length).toBe(Object.keys(oct.intent_confidence_avg).length);
    }
  });

  it('one definition per summary figure: every daily, weekly and monthly report equals the oracle over its period (random events)', async () => {
    const checks: [string, string, string][] = [
      ...['2025-10-01', '2025-10-13', '2025-10-26', '2025-10-31'].map((d) => ['daily', d, plusDays(d, 1)] as [string, string, string]),
      ...WEEKS.map((w) => ['weekly', w, plusDays(w, 7)] as [string, string, string]),
      ['monthly', '2025-10-01', '2025-11-01'],
    ];
    for (const [type, start, end] of checks) {
      const got = (await report(type, 'hotel-r', start)).sections.summary?.totals?.[0];
      const want = oracleSummary(within(EVENTS, 'hotel-r', start, end));
      expect(want.conversations).toBeGreaterThan(0);
      for (const [name, value] of Object.entries(want)) same(got?.[name], value, `${type} ${start} ${name}`);
    }
    // and the monthly metrics read from agg_monthly_summary mean the same
    const oct = oracleSummary(within(EVENTS, 'hotel-r', '2025-10-01', '2025-11-01'));
    const rate = await series('ai_resolution_rate', 'month', '2025-10-01', '2025-11-01', 'hotel-r');
    const tasks = await series('monthly_tasks', 'month', '2025-10-01', '2025-11-01', 'hotel-r');
    const minutes = await series('monthly_response_time_minutes', 'month', '2025-10-01', '2025-11-01', 'hotel-r');
    same(pointsOf(rate)[0]?.value, oct.ai_resolution_rate, 'ai_resolution_rate metric');
    same(pointsOf(tasks)[0]?.value, oct.tasks, 'monthly_tasks metric');
    same(pointsOf(minutes)[0]?.value, oct.avg_response_time_minutes, 'monthly_response_time_minutes metric');
  });

  it('report sections use the same weights: staff response times, response times by channel, intent confidence (random events)', async () => {
    for (const w of WEEKS) {
      const r = await report('weekly', 'hotel-r', w);
      const evs = within(EVENTS, 'hotel-r', w, plusDays(w, 7));
      const o = oracleFigures(evs);
      for (const s of r.sections.staffPerformance?.staff ?? [])
        same(s.avg_response_time_ms, o.staff_response_time_avg_ms[s.staff_id as string] ?? null, `week ${w} staff ${s.staff_id}`);
      for (const i of r.sections.topIntents?.intents ?? [])
        same(i.avg_confidence, o.intent_confidence_avg[i.intent as string] ?? null, `week ${w} intent ${i.intent}`);
      for (const c of r.sections.responseTimes?.byChannel ?? []) {
        // the weekly section is first responses per channel (the channel of the reply)
        const firsts = firstReplies(evs).filter((x) => x.channel === c.channel);
        same(c.avg_ms, mean(firsts.map((x) => x.duration)), `week ${w} first response ${c.channel}`);
      }
    }
    for (const d of ['2025-10-13', '2025-10-26']) {
      const r = await report('daily', 'hotel-r', d);
      const evs = within(EVENTS, 'hotel-r', d, plusDays(d, 1));
      for (const c of r.sections.responseTimes?.byChannel ?? [])
        same(c.avg_ms, mean(timed(evs.filter((e) => (e.channel ?? 'unknown') === c.channel))), `day ${d} responses ${c.channel}`);
    }
  });
});
