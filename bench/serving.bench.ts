/**
 * The analytics read side under load: SERVING_EVENTS raw events over the last 90 days and a year of
 * aggregates for SERVING_PROPERTIES properties, generated inside PostgreSQL (INSERT … SELECT
 * generate_series; the triggers of sql/010 keep the dashboard state as they do for ingest). Measures
 * the uncached dashboard, one-year daily time series and the monthly HTML report (p50/p95 of repeated
 * calls on random properties). `loadServingData` and `measureServing` apart: to measure a database
 * loaded once, again.
 */
import { computeDashboardMetrics } from '../lambdas/analytics-api/dashboard';
import { addMonths } from '../lambdas/analytics-api/periods';
import { reportHtml } from '../lambdas/analytics-api/report-html';
import { generateReport } from '../lambdas/analytics-api/reports';
import { queryTimeSeries } from '../lambdas/analytics-api/timeseries';
import type { PgSql } from '../lambdas/shared/sql/pg-driver';
import { localDate } from '../lambdas/shared/time';
import { registerZones, ZONES_8 } from './analytics.bench';

const TZ = 'Europe/Madrid';

const TYPES = [
  ...Array(30).fill('message.received'),
  ...Array(30).fill('message.sent'),
  ...Array(8).fill('response.time_recorded'),
  ...Array(4).fill('conversation.started'),
  ...Array(3).fill('conversation.resolved'),
  'conversation.escalated',
  'conversation.closed',
  ...Array(3).fill('intent.classified'),
  ...Array(2).fill('task.created'),
  ...Array(2).fill('task.completed'),
  'task.assigned',
  ...Array(2).fill('satisfaction.rating_received'),
  'satisfaction.survey_sent',
  'staff.login',
  'staff.logout',
  'staff.status_changed',
  ...Array(8).fill('message.delivered'),
] as string[];

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
  return { n: s.length, p50: at(0.5), p95: at(0.95), max: s.at(-1) as number };
}

async function timed(n: number, fn: (i: number) => Promise<unknown>) {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    ms.push(performance.now() - t0);
  }
  return stats(ms);
}

/** Loads the bench's raw events and aggregates (what `benchServing` measures against). */
export async function loadServingData(sql: PgSql, events: number, properties: number) {
  const t0 = performance.now();
  const types = `ARRAY[${TYPES.map((t) => `'${t}'`).join(',')}]`;
  const chunk = 1_000_000;
  for (let from = 1; from <= events; from += chunk) {
    const to = Math.min(events, from + chunk - 1);
    await sql.execute(
      `INSERT INTO analytics_events (id, event_type, occurred_at, property_id, channel, conversation_id, staff_id, task_id, value, duration_ms, metadata)
       SELECT 'e' || g, (${types})[(1 + (g / $3::int) % ${TYPES.length})::int], now() - (((g * 7919) % 7776000) || ' seconds')::interval,
         'prop-' || (g % $3::int), (ARRAY['whatsapp','email','webchat','sms'])[(1 + (g / 7) % 4)::int], 'c' || (g / 13), 's' || (g % 37), 't' || (g / 17),
         1 + (g % 5), (g * 31) % 20000, CASE WHEN g % 11 = 0 THEN '{"status":"available"}'::jsonb ELSE '{}'::jsonb END
       FROM generate_series($1::bigint, $2::bigint) g`,
      [from, to, properties],
    );
    process.stdout.write(`  events: ${to.toLocaleString('en-US')} / ${events.toLocaleString('en-US')}\n`);
  }
  const loadEventsS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const P = `(SELECT 'prop-' || p AS property_id FROM generate_series(0, $1::int - 1) p) props`;
  const C = `(VALUES ('whatsapp'), ('email'), ('webchat'), ('sms')) ch(channel)`;
  await sql.execute(
    `INSERT INTO agg_message_counts_hourly (period_start, property_id, channel, direction, count)
     SELECT h, property_id, channel, d, 1 + (extract(epoch FROM h)::bigint / 3600 + length(property_id)) % 40
     FROM generate_series(date_trunc('hour', now()) - interval '365 days', date_trunc('hour', now()) - interval '1 hour', interval '1 hour') h,
       ${P}, ${C}, (VALUES ('inbound'), ('outbound')) dir(d)`,
    [properties],
  );
  await sql.execute(
    `INSERT INTO agg_response_times_hourly (period_start, property_id, channel, responses, duration_sum_ms, avg_ms, p50_ms, p95_ms, p99_ms, max_ms)
     SELECT h, property_id, channel, 1 + extract(hour FROM h)::int, (1 + extract(hour FROM h)::int) * 2000, 2000, 1500, 6000, 9000, 12000
     FROM generate_series(date_trunc('hour', now()) - interval '365 days', date_trunc('hour', now()) - interval '1 hour', interval '1 hour') h, ${P}, ${C}`,
    [properties],
  );
  const DAYS = `generate_series(current_date - 366, current_date - 1, interval '1 day') d`;
  await sql.execute(
    `INSERT INTO agg_conversation_metrics_daily (period_date, property_id, channel, conversations_started, conversations_resolved,
       conversations_escalated, first_responses, first_response_sum_ms, avg_first_response_ms, p50_first_response_ms, p95_first_response_ms,
       resolutions_timed, resolution_sum_ms, avg_resolution_minutes, ai_handled_count, tasks_created, ratings, rating_sum)
     SELECT d::date, property_id, channel, 40, 30, 4, 36, 36 * 20000, 20000, 15000, 60000, 30, 30 * 45 * 60000, 45, 25, 10, 6, 25
     FROM ${DAYS}, ${P}, ${C}`,
    [properties],
  );
  await sql.execute(
    `INSERT INTO agg_staff_performance_daily (period_date, property_id, staff_id, conversations_handled, tasks_completed, responses_timed,
       response_sum_ms, avg_response_time_ms, satisfaction_avg, satisfaction_count)
     SELECT d::date, property_id, 'staff-' || s, 12, 5, 15, 15 * 30000, 30000, 4.2, 6 FROM ${DAYS}, ${P}, generate_series(1, 8) s`,
    [properties],
  );
  await sql.execute(
    `INSERT INTO agg_intent_distribution_daily (period_date, property_id, intent, count, confidence_count, avg_confidence, action_taken_count, escalated_count)
     SELECT d::date, property_id, 'intent-' || i, 100 / i, 100 / i, 0.8, 10 / i, 1 FROM ${DAYS}, ${P}, generate_series(1, 15) i`,
    [properties],
  );
  await sql.execute(
    `INSERT INTO agg_satisfaction_weekly (period_start, property_id, channel, surveys_sent, responses_received, rating_1, rating_2, rating_3, rating_4, rating_5, avg_rating, nps_score)
     SELECT w::date, property_id, channel, 60, 30, 1, 2, 4, 10, 13, 4.07, 20
     FROM generate_series(date_trunc('week', current_date - 365), current_date - 7, interval '7 days') w, ${P}, ${C}`,
    [properties],
  );
  await sql.execute(
    `INSERT INTO agg_monthly_summary (period_month, property_id, total_conversations, total_messages, total_tasks, ai_resolution_rate, avg_satisfaction,
       avg_response_time_minutes, top_intents, channel_breakdown)
     SELECT to_char(m, 'YYYY-MM'), property_id, 4800, 70000, 1200, 0.62, 4.1, 0.4,
       '[{"intent":"booking","count":900},{"intent":"pricing","count":500}]', '{"whatsapp":3000,"email":1200,"webchat":600}'
     FROM generate_series(date_trunc('month', current_date) - interval '12 months', date_trunc('month', current_date) - interval '1 month', interval '1 month') m, ${P}`,
    [properties],
  );
  await sql.execute('ANALYZE');
  const loadAggregatesS = (performance.now() - t1) / 1000;
  const [{ n: aggregateRows } = { n: 0 }] = await sql.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM agg_message_counts_hourly) + (SELECT count(*) FROM agg_response_times_hourly)
       + (SELECT count(*) FROM agg_conversation_metrics_daily) + (SELECT count(*) FROM agg_staff_performance_daily)
       + (SELECT count(*) FROM agg_intent_distribution_daily) + (SELECT count(*) FROM agg_satisfaction_weekly)
       + (SELECT count(*) FROM agg_monthly_summary) AS n`,
  );

  return { events, properties, aggregateRows, loadEventsS, loadAggregatesS };
}

/** Times the read side on data loaded by `loadServingData` (p50/p95 of repeated calls on random properties). */
export async function measureServing(sql: PgSql, properties: number) {
  const prop = (i: number) => `prop-${(i * 7) % properties}`;
  const settings = { timeZone: TZ, activeConversationWindowHours: 24, staffStatusWindowHours: 24, pendingTaskWindowDays: 90 };
  const clock = { now: () => new Date() };
  const limits = { timeZone: TZ, maxPoints: 2000, maxRangeDays: 3660 };
  const today = localDate(new Date(), TZ);
  const yearAgo = `${Number(today.slice(0, 4)) - 1}${today.slice(4)}`;
  const lastMonth = addMonths(`${today.slice(0, 7)}-01`, -1);
  // warm-up (the first call of each pays planning and cold caches)
  await computeDashboardMetrics({ sql, clock, settings }, prop(0));
  const dashboard = await timed(200, (i) => computeDashboardMetrics({ sql, clock, settings }, prop(i)));
  const ts = (metric: string) =>
    timed(200, (i) =>
      queryTimeSeries({ sql, limits }, { metric, granularity: 'day', startDate: yearAgo, endDate: today, propertyId: prop(i) }),
    );
  const seriesDaily = await ts('conversations_started');
  const seriesFromHourly = await ts('messages');
  const seriesWeighted = await ts('first_response_avg_ms');
  await generateReport({ sql, timeZone: TZ, now: new Date() }, { type: 'monthly', propertyId: prop(1), dateRange: { start: lastMonth } });
  let htmlBytes = 0;
  const report = await timed(20, async (i) => {
    const r = await generateReport(
      { sql, timeZone: TZ, now: new Date() },
      { type: 'monthly', propertyId: prop(i), dateRange: { start: lastMonth } },
    );
    htmlBytes = reportHtml(r).length;
  });
  return {
    dashboard,
    seriesDaily,
    seriesFromHourly,
    seriesWeighted,
    report,
    htmlBytes,
  };
}

export async function benchServing(sql: PgSql, events: number, properties: number) {
  const loaded = await loadServingData(sql, events, properties);
  const single = await measureServing(sql, properties);
  // the same calls with the properties registered over 8 zones (issue 23), in the same run
  await registerZones(sql, properties);
  const multi = await measureServing(sql, properties);
  return { ...loaded, ...single, multiZone: { zones: ZONES_8.length, ...multi } };
}
