/**
 * Demo step: a realistic day of analytics events around the October DST change (Sunday 2025-10-26
 * in Madrid: 25 hours), two invalid events, the seven aggregations, then a late event and the run
 * that picks it up. Clocks are fixed with `now`, as `--now` does on the CLI.
 */
import { runAggregation } from '../../lambdas/aggregate/aggregate';
import { AGGREGATIONS, aggregation } from '../../lambdas/aggregate/registry';
import { ingest } from '../../lambdas/ingest/ingest';
import { memoryLog } from '../../lambdas/shared/observability';
import { formatInZone } from '../../lambdas/shared/time';
import type { DemoContext } from '../demo';

const TZ = 'Europe/Madrid';
const INTENTS = ['booking', 'late_checkout', 'room_service', 'billing', 'wifi', 'parking'];
const CHANNELS = ['whatsapp', 'whatsapp', 'whatsapp', 'webchat', 'sms', 'email'];

/** A small deterministic generator: the same day every time. */
function rng(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

function dayOfEvents(): Record<string, unknown>[] {
  const rand = rng(26);
  const events: Record<string, unknown>[] = [];
  const dayStart = Date.parse('2025-10-25T22:00:00Z'); // 00:00 CEST on Sunday 26
  let n = 0;
  const add = (type: string, at: number, e: Record<string, unknown>) =>
    events.push({ id: `demo-${++n}`, eventType: type, timestamp: new Date(at).toISOString(), ...e });
  for (let c = 0; c < 120; c++) {
    const property = c % 3 === 0 ? 'hotel-sevilla' : 'hotel-madrid';
    const channel = CHANNELS[c % CHANNELS.length];
    const conversationId = `conv-${c}`;
    // busier in the day: start times drawn over the 25 hours, weighted to 08:00–23:00
    const t0 = dayStart + Math.floor((c < 20 ? rand() * 8 : 8 + rand() * 16.9) * 3_600_000);
    const base = { propertyId: property, channel, conversationId, guestId: `guest-${c}` };
    const intent = INTENTS[Math.floor(rand() * INTENTS.length)];
    add('conversation.started', t0, base);
    add('message.received', t0 + 2_000, base);
    add('intent.classified', t0 + 3_000, { ...base, value: Math.round((0.55 + rand() * 0.44) * 100) / 100, metadata: { intent } });
    const aiMs = 2_000 + Math.floor(rand() * 20_000);
    add('response.ai_generated', t0 + 2_000 + aiMs, base);
    add('response.time_recorded', t0 + 2_000 + aiMs, { ...base, durationMs: aiMs });
    add('message.sent', t0 + 2_000 + aiMs, base);
    const escalated = rand() < 0.25;
    const staffId = `staff-${1 + (c % 4)}`;
    if (escalated) {
      add('conversation.escalated', t0 + 60_000, { ...base, metadata: { intent } });
      const staffMs = 60_000 + Math.floor(rand() * 600_000);
      add('response.staff_sent', t0 + 60_000 + staffMs, { ...base, staffId });
      add('response.time_recorded', t0 + 60_000 + staffMs, { ...base, staffId, durationMs: staffMs });
    } else add('intent.action_taken', t0 + 30_000, { ...base, metadata: { intent } });
    if (rand() < 0.8) {
      const resolveMs = 5 * 60_000 + Math.floor(rand() * 50 * 60_000);
      if (t0 + resolveMs < dayStart + 25 * 3_600_000) add('conversation.resolved', t0 + resolveMs, { ...base, durationMs: resolveMs });
    }
    if (c % 2 === 0) {
      add('satisfaction.survey_sent', t0 + 40 * 60_000 > dayStart + 25 * 3_600_000 ? t0 + 60_000 : t0 + 40 * 60_000, base);
      const rating = 1 + Math.min(4, Math.floor(rand() * 5.6));
      add('satisfaction.rating_received', t0 + 90_000, { ...base, value: rating, ...(escalated ? { staffId } : {}) });
    }
  }
  // two invalid events: kept in analytics_events_rejected, not dropped
  events.push({ id: 'demo-bad-1', eventType: 'message.teleported', timestamp: '2025-10-26T10:00:00Z', propertyId: 'hotel-madrid' });
  events.push({
    id: 'demo-bad-2',
    eventType: 'satisfaction.rating_received',
    timestamp: '2025-10-26T11:00:00Z',
    propertyId: 'hotel-madrid',
    value: 11,
  });
  return events;
}

export async function analyticsStep(ctx: DemoContext): Promise<void> {
  const log = memoryLog();
  let now = new Date('2025-10-27T00:00:05Z'); // Monday 01:00:05 CET: the day and the week have closed
  const clock = { now: () => now };
  const events = dayOfEvents();
  // The collector packs many events per SQS message: 100 per record here.
  const records = Array.from({ length: Math.ceil(events.length / 100) }, (_, i) => ({
    recordId: `msg-${i}`,
    body: JSON.stringify({ events: events.slice(i * 100, (i + 1) * 100) }),
  }));
  const r = await ingest({ sql: ctx.sql, clock, log, source: 'demo' }, records);
  ctx.say(
    `Ingested Sunday 2025-10-26 (Madrid, the 25-hour day): ${r.accepted} events accepted, ${r.duplicates} duplicates, ${r.rejected} rejected`,
  );
  for (const x of r.firstRejections) ctx.say(`  rejected ${x.eventId}: ${x.reason}`);

  const deps = { sql: ctx.sql, log, clock };
  const day = await runAggregation(deps, aggregation('hourly_message_counts'), { kind: 'range', from: '2025-10-26', to: '2025-10-27' }, TZ);
  await runAggregation(deps, aggregation('hourly_response_times'), { kind: 'range', from: '2025-10-26', to: '2025-10-27' }, TZ);
  ctx.say('\nScheduled runs at Monday 01:00:05 CET (what the seven schedules would do):');
  for (const def of AGGREGATIONS) {
    const res = await runAggregation(deps, def, { kind: 'scheduled' }, TZ);
    ctx.say(`  ${def.name.padEnd(28)} ${res.periods.join(', ').padEnd(26)} ${res.rowsWritten} rows written`);
  }

  const hours = await ctx.sql.query<{ period_start: string; inbound: number; outbound: number }>(
    `SELECT period_start, sum(count) FILTER (WHERE direction = 'inbound')::int AS inbound, sum(count) FILTER (WHERE direction = 'outbound')::int AS outbound
     FROM agg_message_counts_hourly WHERE period_start >= '2025-10-25T22:00:00Z' AND period_start < '2025-10-26T23:00:00Z' GROUP BY 1 ORDER BY 1`,
  );
  ctx.say(
    `\nagg_message_counts_hourly: the 26th is ${day.periods.length} hourly periods (02:00 happens twice), ${hours.length} of them with messages; the first ones:`,
  );
  for (const h of hours.filter((x) => x.period_start < '2025-10-26T03:00:00Z'))
    ctx.say(
      `  ${formatInZone(new Date(h.period_start), TZ)}  in ${String(h.inbound ?? 0).padStart(3)}  out ${String(h.outbound ?? 0).padStart(3)}`,
    );

  const daily = await ctx.sql.query<Record<string, unknown>>(
    `SELECT property_id, sum(conversations_started)::int AS started, sum(conversations_resolved)::int AS resolved, sum(conversations_escalated)::int AS escalated,
            sum(ai_handled_count)::int AS ai_handled FROM agg_conversation_metrics_daily WHERE period_date = '2025-10-26' GROUP BY 1 ORDER BY 1`,
  );
  ctx.say('\nagg_conversation_metrics_daily, 2025-10-26 (all channels):');
  for (const d of daily)
    ctx.say(
      `  ${String(d.property_id).padEnd(14)} started ${d.started}, resolved ${d.resolved}, escalated ${d.escalated}, handled by the AI ${d.ai_handled}`,
    );
  const p95 = await ctx.sql.query<{ channel: string; p50_first_response_ms: number; p95_first_response_ms: number }>(
    "SELECT channel, p50_first_response_ms, p95_first_response_ms FROM agg_conversation_metrics_daily WHERE period_date = '2025-10-26' AND property_id = 'hotel-madrid' ORDER BY 1",
  );
  for (const x of p95)
    ctx.say(
      `  hotel-madrid ${x.channel.padEnd(9)} first response p50 ${x.p50_first_response_ms} ms, p95 ${x.p95_first_response_ms} ms (exact, continuous)`,
    );
  const weekly = await ctx.sql.query<{ property_id: string; responses: number; nps: number }>(
    "SELECT property_id, sum(responses_received)::int AS responses, round((100.0 * (sum(rating_5) - sum(rating_1 + rating_2 + rating_3)) / NULLIF(sum(responses_received), 0))::numeric, 1)::float AS nps FROM agg_satisfaction_weekly WHERE period_start = '2025-10-20' GROUP BY 1 ORDER BY 1",
  );
  ctx.say('\nagg_satisfaction_weekly, week of Monday 2025-10-20 (169 hours):');
  for (const w of weekly) ctx.say(`  ${w.property_id.padEnd(14)} ${w.responses} ratings, NPS ${w.nps}`);

  // A late event: a guest message from 02:30 CEST (the first 02:00 hour) arrives an hour later.
  now = new Date('2025-10-27T01:00:05Z');
  const late = await ingest({ sql: ctx.sql, clock, log, source: 'demo' }, [
    {
      recordId: 'late',
      body: JSON.stringify({
        events: [
          {
            id: 'demo-late-1',
            eventType: 'message.received',
            timestamp: '2025-10-26T00:30:00Z',
            propertyId: 'hotel-madrid',
            channel: 'whatsapp',
          },
        ],
      }),
    },
  ]);
  ctx.say(
    `\nA late event for 02:30 CEST arrives at 02:00 CET: ${late.accepted} accepted, ${late.invalidations} bucket(s) logged in agg_invalidations`,
  );
  const next = await runAggregation(deps, aggregation('hourly_message_counts'), { kind: 'scheduled' }, TZ);
  ctx.say(
    `Next hourly run: period ${formatInZone(new Date(next.periods[0] as string), TZ)} plus late bucket(s) ${next.invalidatedBuckets
      .map((b) => `${b.property_id} @ ${formatInZone(new Date(b.period), TZ)}`)
      .join(', ')} — nothing else recomputed`,
  );
  const rejected = await ctx.sql.query<{ event_id: string; reason: string }>(
    'SELECT event_id, reason FROM analytics_events_rejected ORDER BY id',
  );
  ctx.say(`\nanalytics_events_rejected keeps ${rejected.length} events with their reasons (an alarm fires on them in AWS).`);
}
