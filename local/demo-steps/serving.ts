/**
 * Demo step: the analytics read side. Fills a small fixture for one hotel (two weeks of aggregates
 * and today's raw events), prints the dashboard and a time series, and writes last week's HTML
 * report to .local/ (it stays after the demo; open it in a browser). Then two properties in two
 * zones: hotel-sol in Madrid, hotel-goa in Asia/Kolkata (+05:30), each with its own today and hours.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runAggregation } from '../../lambdas/aggregate/aggregate';
import { aggregation } from '../../lambdas/aggregate/registry';
import { computeDashboardMetrics } from '../../lambdas/analytics-api/dashboard';
import { addDays, weekStart } from '../../lambdas/analytics-api/periods';
import { reportHtml } from '../../lambdas/analytics-api/report-html';
import { generateReport } from '../../lambdas/analytics-api/reports';
import { queryTimeSeries } from '../../lambdas/analytics-api/timeseries';
import { memoryLog } from '../../lambdas/shared/observability';
import { listProperties, setProperty } from '../../lambdas/shared/properties';
import { systemClock } from '../../lambdas/shared/runtime';
import { formatInZone, localDate, localHourOf } from '../../lambdas/shared/time';
import { getEnvironment } from '../../lib/config';
import type { DemoContext } from '../demo';

const P = 'hotel-sol';

async function fill(ctx: DemoContext): Promise<void> {
  const C = `(VALUES ('whatsapp', 3), ('email', 1), ('webchat', 2)) ch(channel, w)`;
  const H = `generate_series(date_trunc('hour', now()) - interval '21 days', date_trunc('hour', now()) - interval '1 hour', interval '1 hour') h`;
  // busier in the day than at night (hour of day in Madrid)
  const busy = `(1 + 6 * sin(pi() * greatest(0, extract(hour FROM h AT TIME ZONE 'Europe/Madrid') - 7) / 16)^2)`;
  await ctx.sql.execute(`INSERT INTO agg_message_counts_hourly (period_start, property_id, channel, direction, count)
    SELECT h, '${P}', channel, d, round(w * ${busy} * (CASE d WHEN 'inbound' THEN 1.1 ELSE 1 END))::int FROM ${H}, ${C}, (VALUES ('inbound'), ('outbound')) dir(d)`);
  // every mean with the count it was taken over and its sum (sql/016): the read side rolls up Σ sum ÷ Σ count
  await ctx.sql.execute(`INSERT INTO agg_response_times_hourly (period_start, property_id, channel, responses, duration_sum_ms, avg_ms, p50_ms, p95_ms, p99_ms, max_ms)
    SELECT h, '${P}', channel, n, n * (1800 + 400 * w), 1800 + 400 * w, 1200 + 300 * w, 5000 + 900 * w, 8000 + 900 * w, 12000
    FROM ${H}, ${C}, LATERAL (SELECT round(w * ${busy})::int AS n) r`);
  const D = `generate_series(current_date - 21, current_date - 1, interval '1 day') d`;
  await ctx.sql.execute(`INSERT INTO agg_conversation_metrics_daily (period_date, property_id, channel, conversations_started, conversations_resolved,
      conversations_escalated, first_responses, first_response_sum_ms, avg_first_response_ms, p50_first_response_ms, p95_first_response_ms,
      resolutions_timed, resolution_sum_ms, avg_resolution_minutes, ai_handled_count, tasks_created, ratings, rating_sum)
    SELECT d::date, '${P}', channel, 10 * w + extract(dow FROM d)::int, 8 * w, w, 9 * w, 9 * w * (15000 + 3000 * w), 15000 + 3000 * w,
      11000 + 2000 * w, 40000 + 5000 * w, 8 * w, 8 * w * 35 * 60000, 35, 6 * w, 2 * w, w, w * (4 + w % 2) FROM ${D}, ${C}`);
  await ctx.sql.execute(`INSERT INTO agg_staff_performance_daily (period_date, property_id, staff_id, conversations_handled, tasks_completed,
      responses_timed, response_sum_ms, avg_response_time_ms, satisfaction_avg, satisfaction_count)
    SELECT d::date, '${P}', s, 5 + length(s), 3, 7 + length(s), (7 + length(s)) * (25000 + 1000 * length(s)), 25000 + 1000 * length(s),
      3.8 + length(s) / 20.0, 4 FROM ${D}, (VALUES ('lucia'), ('mario'), ('ana')) st(s)`);
  await ctx.sql.execute(`INSERT INTO agg_intent_distribution_daily (period_date, property_id, intent, count, confidence_count, avg_confidence, action_taken_count, escalated_count)
    SELECT d::date, '${P}', i, n, n, 0.7 + n / 200.0, n / 2, n / 10 FROM ${D},
      (VALUES ('reservar_mesa', 40), ('horario', 25), ('precio', 18), ('cancelar', 9), ('queja', 4), ('late_checkout', 12)) it(i, n)`);
  await ctx.sql.execute(`INSERT INTO agg_satisfaction_weekly (period_start, property_id, channel, surveys_sent, responses_received, rating_1, rating_2, rating_3, rating_4, rating_5, avg_rating, nps_score)
    SELECT wk::date, '${P}', channel, 50, 29, 1, 1, 4, 9, 14, (1 + 2 + 12 + 36 + 70) / 29.0, (14 - 6) * 100 / 29.0
    FROM generate_series(date_trunc('week', current_date) - interval '3 weeks', date_trunc('week', current_date) - interval '1 week', interval '1 week') wk, ${C}`);
  const now = Date.now();
  // The raw events the dashboard reads for the open hour: they span the last two hours — compressed, in
  // the same order, into the part of the current local hour that has passed (the closed hours before
  // come from the hourly aggregates written above), so "today" holds them at any minute of any hour.
  const zone = getEnvironment('dev').aggregation.timeZone;
  const sinceHourStart = now - localHourOf(new Date(now), zone).start.getTime();
  const scale = Math.min(1, Math.max(1_000, sinceHourStart - 5_000) / (125 * 60_000));
  const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000 * scale).toISOString();
  const ev = (id: string, type: string, minutesAgo: number, extra: Record<string, unknown> = {}) => ({
    id,
    event_type: type,
    occurred_at: at(minutesAgo),
    property_id: P,
    channel: 'whatsapp',
    ...extra,
  });
  const events = [
    ...Array.from({ length: 12 }, (_, i) => ev(`m${i}`, 'message.received', i * 3)),
    ...Array.from({ length: 9 }, (_, i) => ev(`s${i}`, 'message.sent', i * 4)),
    ev('r1', 'response.time_recorded', 5, { duration_ms: 1400 }),
    ev('r2', 'response.time_recorded', 2, { duration_ms: 2600 }),
    ev('c1', 'conversation.started', 50, { conversation_id: 'wa-1' }),
    ev('c2', 'conversation.started', 30, { conversation_id: 'wa-2' }),
    ev('c3', 'conversation.resolved', 10, { conversation_id: 'wa-1' }),
    ev('c4', 'conversation.started', 8, { conversation_id: 'wa-3' }),
    ev('c5', 'conversation.escalated', 4, { conversation_id: 'wa-3' }),
    ev('l1', 'staff.login', 120, { staff_id: 'lucia' }),
    ev('l2', 'staff.status_changed', 60, { staff_id: 'mario', metadata: { status: 'available' } }),
    ev('t1', 'task.created', 90, { task_id: 'toallas-204' }),
    ev('t2', 'task.created', 40, { task_id: 'taxi-aeropuerto' }),
    ev('t3', 'task.completed', 20, { task_id: 'toallas-204' }),
    ev('v1', 'satisfaction.rating_received', 15, { value: 5 }),
  ];
  await ctx.sql.execute(
    `INSERT INTO analytics_events (id, event_type, occurred_at, property_id, channel, conversation_id, staff_id, task_id, value, duration_ms, metadata)
     SELECT id, event_type, occurred_at, property_id, channel, conversation_id, staff_id, task_id, value, duration_ms, COALESCE(metadata, '{}')
     FROM jsonb_to_recordset($1::jsonb) AS r(id text, event_type text, occurred_at timestamptz, property_id text, channel text,
       conversation_id text, staff_id text, task_id text, value float8, duration_ms int, metadata jsonb)`,
    [{ sqlType: 'jsonb', value: events }],
  );
}

export async function servingStep(ctx: DemoContext): Promise<void> {
  const env = getEnvironment('dev');
  const timeZone = env.aggregation.timeZone;
  const s = env.analyticsServing;
  await fill(ctx);
  const m = await computeDashboardMetrics({ sql: ctx.sql, clock: systemClock, settings: { timeZone, ...s } }, P);
  ctx.say(`Dashboard for ${P} (today in ${timeZone}; closed hours from the hourly aggregates, the open hour from raw events):`);
  ctx.say(JSON.stringify(m, null, 2));
  const today = localDate(new Date(), timeZone);
  const ts = await queryTimeSeries(
    { sql: ctx.sql, limits: { timeZone, maxPoints: s.maxPoints, maxRangeDays: s.maxRangeDays } },
    { metric: 'escalation_rate', granularity: 'week', startDate: addDays(today, -21), endDate: today, propertyId: P },
  );
  ctx.say(
    `\nEscalation rate by week (escalations ÷ conversations started): ${ts.series[0]?.points.map((p) => `${p.period} ${p.value === null ? '—' : `${(p.value * 100).toFixed(1)} %`}`).join(', ')}`,
  );
  const lastWeek = addDays(weekStart(today), -7);
  const report = await generateReport(
    { sql: ctx.sql, timeZone, now: new Date() },
    { type: 'weekly', propertyId: P, dateRange: { start: lastWeek } },
  );
  const dir = resolve('.local');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `report-${P}-weekly-${lastWeek}.html`);
  writeFileSync(file, reportHtml(report));
  ctx.say(`\nWeekly report for the week of ${lastWeek}: ${file} (one self-contained page; open it in a browser)`);
  const totals = report.sections.summary?.totals?.[0] ?? {};
  const fmt = (v: unknown, digits: number) => (typeof v === 'number' ? v.toFixed(digits) : '—');
  ctx.say(
    `Its summary: ${totals.conversations} conversations, ${totals.messages} messages, ${totals.tasks} tasks created, ` +
      `AI resolution ${fmt(typeof totals.ai_resolution_rate === 'number' ? totals.ai_resolution_rate * 100 : null, 1)} %, ` +
      `satisfaction ${fmt(totals.avg_satisfaction, 2)}, response time ${fmt(totals.avg_response_time_minutes, 3)} min ` +
      '(means as Σ sum ÷ Σ count of the stored rows)',
  );
  await secondZone(ctx, timeZone, s);
}

/**
 * Two properties in two zones (issue 23): hotel-sol in Madrid and hotel-goa in Asia/Kolkata (+05:30),
 * registered in `properties`; hotel-goa's raw events of the last two days are aggregated by the real
 * hourly job, which closes each zone's hours by one schedule: Goa's hours start at :30 UTC.
 */
async function secondZone(ctx: DemoContext, timeZone: string, s: ReturnType<typeof getEnvironment>['analyticsServing']) {
  const G = 'hotel-goa';
  await setProperty(ctx.sql, { propertyId: P, timeZone: 'Europe/Madrid', displayName: 'Hotel Sol (Madrid)' });
  await setProperty(ctx.sql, { propertyId: G, timeZone: 'Asia/Kolkata', displayName: 'Hotel Goa' });
  const now = Date.now();
  const events = Array.from({ length: 240 }, (_, i) => ({
    id: `goa-${i}`,
    event_type: i % 3 === 0 ? 'message.sent' : 'message.received',
    occurred_at: new Date(now - 60_000 - ((i * 7_919_000) % (40 * 3_600_000))).toISOString(),
    property_id: G,
    channel: 'whatsapp',
  }));
  await ctx.sql.execute(
    `INSERT INTO analytics_events (id, event_type, occurred_at, property_id, channel)
     SELECT id, event_type, occurred_at, property_id, channel FROM jsonb_to_recordset($1::jsonb)
       AS r(id text, event_type text, occurred_at timestamptz, property_id text, channel text)`,
    [{ sqlType: 'jsonb', value: events }],
  );
  const hourly = aggregation('hourly_message_counts');
  const from = new Date(now - 42 * 3_600_000).toISOString();
  const r = await runAggregation(
    { sql: ctx.sql, log: memoryLog(), clock: systemClock },
    hourly,
    { kind: 'range', from, to: new Date(now).toISOString(), property: G },
    timeZone,
  ).catch(() => undefined);
  ctx.say(`\nTwo properties, two zones (npm run properties -- list):`);
  for (const p of await listProperties(ctx.sql)) ctx.say(`  ${p.propertyId.padEnd(10)} ${p.timeZone.padEnd(14)} ${p.displayName ?? ''}`);
  if (r) ctx.say(`hourly_message_counts for ${G}: ${r.periods.length} local hours of ${r.zones[0]?.timeZone} aggregated`);
  for (const p of [P, G]) {
    const m = await computeDashboardMetrics({ sql: ctx.sql, clock: systemClock, settings: { timeZone, ...s } }, p);
    const zone = p === G ? 'Asia/Kolkata' : 'Europe/Madrid';
    ctx.say(
      `  ${p}: today is ${localDate(new Date(), zone)} in ${zone} (now ${formatInZone(new Date(), zone)}): ` +
        `${m.today.messagesReceived} messages received, ${m.today.messagesSent} sent today`,
    );
  }
  const today = localDate(new Date(), 'Asia/Kolkata');
  const ts = await queryTimeSeries(
    { sql: ctx.sql, limits: { timeZone, maxPoints: s.maxPoints, maxRangeDays: s.maxRangeDays } },
    { metric: 'messages', granularity: 'hour', startDate: addDays(today, -1), endDate: today, propertyId: G },
  );
  const pts = ts.series[0]?.points ?? [];
  ctx.say(
    `  ${G}, messages per local hour yesterday (${ts.query.timeZone}; ${pts.length} hours): ` +
      pts
        .slice(0, 4)
        .map((x) => `${x.start} ${x.value}`)
        .join(', ') +
      ', …',
  );
}
