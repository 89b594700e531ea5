/**
 * A deterministic fixture for the analytics read side: aggregate rows built from RAW samples
 * (each mean is the exact mean of samples kept here, stored with the count and sum it was taken
 * over, as the aggregations write them: sql/016), so a test can compare what the API rolls up
 * with the mean of the raw values, computed independently in JavaScript. The counts a mean is
 * NOT taken over differ from the ones it is (conversations started vs first responses measured,
 * conversations handled vs timed responses, classifications vs those with a confidence), so a
 * roll-up weighted by the wrong count shows.
 */

import { addDays, addMonths } from '../../lambdas/analytics-api/periods';
import type { SqlExecutor } from '../../lambdas/shared/sql/types';
import { zonedTimeToUtc } from '../../lambdas/shared/time';

export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** k integers whose mean is an integer (the aggregate columns are integers). */
function samplesWithIntegerMean(rand: () => number, k: number, lo: number, hi: number): number[] {
  const xs = Array.from({ length: k }, () => lo + Math.floor(rand() * (hi - lo)));
  const rem = xs.reduce((a, b) => a + b, 0) % k;
  if (rem !== 0) xs[k - 1] = (xs[k - 1] as number) - rem;
  return xs;
}

export interface HourRow {
  period_start: string;
  channel: string;
}
export interface MessageRow extends HourRow {
  direction: 'inbound' | 'outbound';
  count: number;
}
export interface ResponseRow extends HourRow {
  samples: number[];
  p50: number;
  p95: number;
  p99: number;
}
export interface ConversationRow {
  period_date: string;
  channel: string;
  started: number;
  resolved: number;
  escalated: number;
  ai_handled: number;
  ai_escalated: number;
  /** First responses measured: fewer than `started` (not every conversation gets a timed reply). */
  firstResponse: number[];
  /** Resolution durations, minutes: fewer than `resolved` (not every resolution has a duration). */
  resolution: number[];
  tasksCreated: number;
  ratings: number[];
  p50_first: number;
  p95_first: number;
  p95_resolution: number;
}
export interface StaffRow {
  period_date: string;
  staff_id: string;
  /** Conversations handled (distinct conversations with a staff message): not the timed responses. */
  handled: number;
  responseTimes: number[];
  tasks: number;
  ratings: number[];
}
export interface IntentRow {
  period_date: string;
  intent: string;
  confidences: number[];
  /** Classifications without a confidence (counted in `count`, not in the mean). */
  unscored: number;
  actions: number;
  escalated: number;
}
export interface SatisfactionRow {
  period_start: string;
  channel: string;
  sent: number;
  ratings: [number, number, number, number, number];
}
export interface MonthlyRow {
  period_month: string;
  conversations: number;
  messages: number;
  tasks: number;
  aiResolved: number;
  satisfaction: number | null;
  responseMinutes: number | null;
  topIntents: { intent: string; count: number }[];
  channels: Record<string, number>;
}

export interface AnalyticsFixture {
  property: string;
  messages: MessageRow[];
  responses: ResponseRow[];
  conversations: ConversationRow[];
  staff: StaffRow[];
  intents: IntentRow[];
  satisfaction: SatisfactionRow[];
  monthly: MonthlyRow[];
}

const sumOf = (xs: number[]) => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0));
const mean = (xs: number[]) => (xs.length === 0 ? null : (sumOf(xs) as number) / xs.length);

export const CHANNELS = ['whatsapp', 'email', 'webchat'];
const STAFF = ['ana', 'bruno', 'carla'];
const INTENTS = ['booking', 'pricing', 'cancel', 'hours', 'complaint'];

/**
 * Builds a fixture: hourly rows over [hourFrom, hourTo) local dates, daily rows over [dayFrom, dayTo),
 * weekly rows for the Mondays in [dayFrom, dayTo), monthly rows for the months in [dayFrom, dayTo).
 * About one hour in seven and one day in nine have no rows at all (empty periods).
 */
export function buildFixture(
  property: string,
  opts: { hourFrom: string; hourTo: string; dayFrom: string; dayTo: string; timeZone: string; seed?: number },
): AnalyticsFixture {
  const rand = prng(opts.seed ?? 42);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const f: AnalyticsFixture = {
    property,
    messages: [],
    responses: [],
    conversations: [],
    staff: [],
    intents: [],
    satisfaction: [],
    monthly: [],
  };
  const [hy, hm, hd] = opts.hourFrom.split('-').map(Number) as [number, number, number];
  const [ty, tm, td] = opts.hourTo.split('-').map(Number) as [number, number, number];
  const hFrom = zonedTimeToUtc(hy, hm, hd, 0, 0, opts.timeZone).getTime();
  const hTo = zonedTimeToUtc(ty, tm, td, 0, 0, opts.timeZone).getTime();
  let hourIndex = 0;
  for (let t = hFrom; t < hTo; t += 3_600_000, hourIndex++) {
    if (hourIndex % 7 === 3) continue; // an empty hour
    const period_start = new Date(t).toISOString();
    for (const channel of CHANNELS) {
      if (rand() < 0.2) continue;
      f.messages.push({ period_start, channel, direction: 'inbound', count: int(1, 9) });
      if (rand() < 0.8) f.messages.push({ period_start, channel, direction: 'outbound', count: int(1, 9) });
      const k = int(0, 4);
      if (k > 0)
        f.responses.push({
          period_start,
          channel,
          samples: samplesWithIntegerMean(rand, k, 200, 9000),
          p50: int(500, 2000),
          p95: int(3000, 8000),
          p99: int(8000, 9999),
        });
    }
  }
  let dayIndex = 0;
  for (let d = opts.dayFrom; d < opts.dayTo; d = addDays(d, 1), dayIndex++) {
    if (dayIndex % 9 === 4) continue; // an empty day
    for (const channel of CHANNELS) {
      if (rand() < 0.15) continue;
      const started = int(0, 12);
      const resolved = int(0, started);
      const measured = int(0, started);
      const timed = int(0, resolved);
      f.conversations.push({
        period_date: d,
        channel,
        started,
        resolved,
        escalated: int(0, started),
        ai_handled: int(0, started),
        ai_escalated: int(0, 2),
        firstResponse: measured > 0 ? samplesWithIntegerMean(rand, measured, 1000, 60000) : [],
        resolution: timed > 0 ? samplesWithIntegerMean(rand, timed, 5, 600) : [],
        tasksCreated: int(0, 4),
        ratings: Array.from({ length: int(0, 3) }, () => int(1, 5)),
        p50_first: int(1000, 20000),
        p95_first: int(20000, 60000),
        p95_resolution: int(100, 600),
      });
    }
    for (const staff_id of STAFF) {
      if (rand() < 0.25) continue;
      const handled = int(0, 8);
      const timed = int(0, 8);
      f.staff.push({
        period_date: d,
        staff_id,
        handled,
        responseTimes: timed > 0 ? samplesWithIntegerMean(rand, timed, 500, 30000) : [],
        tasks: int(0, 6),
        ratings: Array.from({ length: int(0, 5) }, () => int(1, 5)),
      });
    }
    for (const intent of INTENTS) {
      if (rand() < 0.3) continue;
      const n = int(1, 10);
      f.intents.push({
        period_date: d,
        intent,
        confidences: Array.from({ length: n }, () => Math.round(rand() * 1000) / 1000),
        unscored: int(0, 2),
        actions: int(0, n),
        escalated: int(0, 2),
      });
    }
  }
  for (let d = opts.dayFrom; d < opts.dayTo; d = addDays(d, 1)) {
    const dow = new Date(`${d}T00:00:00Z`).getUTCDay();
    if (dow !== 1) continue;
    for (const channel of CHANNELS) {
      const ratings: [number, number, number, number, number] = [int(0, 3), int(0, 3), int(0, 5), int(0, 9), int(0, 12)];
      f.satisfaction.push({ period_start: d, channel, sent: int(20, 40), ratings });
    }
  }
  for (let mth = `${opts.dayFrom.slice(0, 7)}-01`; mth < opts.dayTo; mth = addMonths(mth, 1)) {
    const conversations = int(100, 400);
    f.monthly.push({
      period_month: mth.slice(0, 7),
      conversations,
      messages: int(1000, 5000),
      tasks: int(10, 90),
      aiResolved: int(0, conversations),
      satisfaction: Math.round((3 + rand() * 2) * 100) / 100,
      responseMinutes: Math.round(rand() * 300) / 10,
      topIntents: INTENTS.slice(0, 3).map((intent, i) => ({ intent, count: 100 - i * 20 })),
      channels: { whatsapp: int(50, 200), email: int(10, 80), webchat: int(5, 40) },
    });
  }
  return f;
}

export const nps = (r: number[]) => {
  const n = r.reduce((a, b) => a + b, 0);
  return n === 0 ? null : (((r[4] ?? 0) - (r[0] ?? 0) - (r[1] ?? 0) - (r[2] ?? 0)) / n) * 100;
};
export const avgRating = (r: number[]) => {
  const n = r.reduce((a, b) => a + b, 0);
  return n === 0 ? null : r.reduce((a, c, i) => a + c * (i + 1), 0) / n;
};

/** Inserts the fixture into the agg_* tables (one jsonb parameter per table). */
export async function insertFixture(sql: SqlExecutor, f: AnalyticsFixture): Promise<void> {
  const P = f.property;
  await sql.execute(
    `INSERT INTO agg_message_counts_hourly (period_start, property_id, channel, direction, count)
     SELECT period_start, $1::text, channel, direction, count FROM jsonb_to_recordset($2::jsonb) AS r(period_start timestamptz, channel text, direction text, count int)`,
    [P, { sqlType: 'jsonb', value: f.messages }],
  );
  await sql.execute(
    `INSERT INTO agg_response_times_hourly (period_start, property_id, channel, responses, duration_sum_ms, avg_ms, p50_ms, p95_ms, p99_ms, max_ms)
     SELECT period_start, $1::text, channel, responses, total, avg_ms, p50, p95, p99, p99 FROM jsonb_to_recordset($2::jsonb)
       AS r(period_start timestamptz, channel text, responses int, total bigint, avg_ms int, p50 int, p95 int, p99 int)`,
    [
      P,
      {
        sqlType: 'jsonb',
        value: f.responses.map((r) => ({ ...r, responses: r.samples.length, total: sumOf(r.samples), avg_ms: mean(r.samples) })),
      },
    ],
  );
  await sql.execute(
    `INSERT INTO agg_conversation_metrics_daily (period_date, property_id, channel, conversations_started, conversations_resolved,
       conversations_escalated, first_responses, first_response_sum_ms, avg_first_response_ms, p50_first_response_ms, p95_first_response_ms,
       resolutions_timed, resolution_sum_ms, avg_resolution_minutes, p50_resolution_minutes, p95_resolution_minutes, ai_handled_count,
       ai_escalated_count, tasks_created, ratings, rating_sum)
     SELECT period_date, $1::text, channel, started, resolved, escalated, n_first, sum_first, avg_first, p50_first, p95_first,
       n_res, sum_res, avg_res, NULL, p95_resolution, ai_handled, ai_escalated, "tasksCreated", n_ratings, sum_ratings
     FROM jsonb_to_recordset($2::jsonb) AS r(period_date date, channel text, started int, resolved int, escalated int, n_first int,
       sum_first bigint, avg_first int, p50_first int, p95_first int, n_res int, sum_res bigint, avg_res int, p95_resolution int,
       ai_handled int, ai_escalated int, "tasksCreated" int, n_ratings int, sum_ratings float8)`,
    [
      P,
      {
        sqlType: 'jsonb',
        value: f.conversations.map((r) => ({
          ...r,
          n_first: r.firstResponse.length,
          sum_first: sumOf(r.firstResponse),
          avg_first: mean(r.firstResponse),
          n_res: r.resolution.length,
          sum_res: r.resolution.length ? (sumOf(r.resolution) as number) * 60_000 : null,
          avg_res: mean(r.resolution),
          n_ratings: r.ratings.length,
          sum_ratings: sumOf(r.ratings),
        })),
      },
    ],
  );
  await sql.execute(
    `INSERT INTO agg_staff_performance_daily (period_date, property_id, staff_id, conversations_handled, tasks_completed,
       responses_timed, response_sum_ms, avg_response_time_ms, satisfaction_avg, satisfaction_count)
     SELECT period_date, $1::text, staff_id, handled, tasks, timed, total, avg_ms, sat, sat_n FROM jsonb_to_recordset($2::jsonb)
       AS r(period_date date, staff_id text, handled int, tasks int, timed int, total bigint, avg_ms int, sat float8, sat_n int)`,
    [
      P,
      {
        sqlType: 'jsonb',
        value: f.staff.map((r) => ({
          ...r,
          timed: r.responseTimes.length,
          total: sumOf(r.responseTimes),
          avg_ms: mean(r.responseTimes),
          sat: mean(r.ratings),
          sat_n: r.ratings.length,
        })),
      },
    ],
  );
  await sql.execute(
    `INSERT INTO agg_intent_distribution_daily (period_date, property_id, intent, count, confidence_count, avg_confidence, action_taken_count,
       escalated_count)
     SELECT period_date, $1::text, intent, n, n_conf, conf, actions, escalated FROM jsonb_to_recordset($2::jsonb)
       AS r(period_date date, intent text, n int, n_conf int, conf float8, actions int, escalated int)`,
    [
      P,
      {
        sqlType: 'jsonb',
        value: f.intents.map((r) => ({
          ...r,
          n: r.confidences.length + r.unscored,
          n_conf: r.confidences.length,
          conf: mean(r.confidences),
        })),
      },
    ],
  );
  await sql.execute(
    `INSERT INTO agg_satisfaction_weekly (period_start, property_id, channel, surveys_sent, responses_received, rating_1, rating_2,
       rating_3, rating_4, rating_5, avg_rating, nps_score)
     SELECT period_start, $1::text, channel, sent, n, r1, r2, r3, r4, r5, avg, nps FROM jsonb_to_recordset($2::jsonb)
       AS r(period_start date, channel text, sent int, n int, r1 int, r2 int, r3 int, r4 int, r5 int, avg float8, nps float8)`,
    [
      P,
      {
        sqlType: 'jsonb',
        value: f.satisfaction.map((r) => ({
          period_start: r.period_start,
          channel: r.channel,
          sent: r.sent,
          n: r.ratings.reduce((a, b) => a + b, 0),
          r1: r.ratings[0],
          r2: r.ratings[1],
          r3: r.ratings[2],
          r4: r.ratings[3],
          r5: r.ratings[4],
          avg: avgRating(r.ratings),
          nps: nps(r.ratings),
        })),
      },
    ],
  );
  await sql.execute(
    `INSERT INTO agg_monthly_summary (period_month, property_id, total_conversations, total_messages, total_tasks, ai_resolution_rate,
       avg_satisfaction, avg_response_time_minutes, top_intents, channel_breakdown)
     SELECT period_month, $1::text, conversations, messages, tasks, rate, satisfaction, "responseMinutes", "topIntents", channels
     FROM jsonb_to_recordset($2::jsonb) AS r(period_month text, conversations int, messages int, tasks int, rate float8,
       satisfaction float8, "responseMinutes" float8, "topIntents" jsonb, channels jsonb)`,
    [P, { sqlType: 'jsonb', value: f.monthly.map((r) => ({ ...r, rate: r.conversations ? r.aiResolved / r.conversations : null })) }],
  );
}
