/**
 * Dashboard metrics (seed 001 "Real-time Dashboard Metrics"), in the seed's DashboardMetrics shape.
 *
 * "Today" and "yesterday" are days in the aggregation time zone. Message counts and response times
 * come from the hourly aggregates for the hours the hourly jobs have closed, and from raw events
 * after that watermark (the open hour, and a closed hour not aggregated yet) — TimescaleDB's
 * real-time aggregates, so the figure is current without scanning the day. Today's conversation
 * counts and ratings come from raw events through the (property, type, time) index. The derived
 * figures (active conversations, staff online, pending tasks: seed 001 reads tables that do not
 * exist; docs/decisions.md defines each) read the per-entity state that triggers keep from the raw
 * events (sql/010_dashboard_state.sql), so their cost does not grow with the events. One
 * statement, one round trip.
 */
import { LRUCache } from 'lru-cache';
import { periodContaining } from '../aggregate/periods';
import { zoneOf } from '../shared/properties';
import type { Clock } from '../shared/runtime';
import type { Sql } from '../shared/sql/types';
import { localDate } from '../shared/time';
import { addDays, startOfLocalDay } from './periods';
import { assertKnownProperty, validatePropertyId } from './property';

export interface DashboardMetrics {
  today: {
    conversationsActive: number;
    conversationsResolved: number;
    messagesReceived: number;
    messagesSent: number;
    avgResponseTimeMs: number;
    escalationRate: number;
  };
  comparison: {
    conversationsChange: number;
    responseTimeChange: number;
    satisfactionChange: number;
  };
  activeConversations: number;
  staffOnline: number;
  pendingTasks: number;
}

export interface DashboardSettings {
  readonly timeZone: string;
  readonly activeConversationWindowHours: number;
  readonly staffStatusWindowHours: number;
  readonly pendingTaskWindowDays: number;
}

export interface DashboardDeps {
  readonly sql: Sql;
  readonly clock: Clock;
  readonly settings: DashboardSettings;
}

/** Staff statuses (metadata.status of staff.status_changed) that count as online. */
export const ONLINE_STATUSES = ['available', 'online', 'busy'] as const;

/*
 * $1 property, $2 yesterday start, $3 today start, $4 now (today so far), $5 start of the current hour,
 * $6 active-conversation window start, $7 staff window start, $8 task window start, $9 now,
 * $10 yesterday's date, $11 online statuses (jsonb).
 * wm_*: the first hour NOT covered by the hourly aggregates (clamped to [yesterday, current hour]).
 */
export const DASHBOARD_SQL = `
WITH wm AS (
  SELECT
    LEAST(GREATEST(COALESCE((SELECT max(period_start) + interval '1 hour' FROM agg_message_counts_hourly
                             WHERE period_start >= $2::timestamptz AND period_start < $5::timestamptz), $2::timestamptz), $2::timestamptz), $5::timestamptz) AS msgs,
    LEAST(GREATEST(COALESCE((SELECT max(period_start) + interval '1 hour' FROM agg_response_times_hourly
                             WHERE period_start >= $2::timestamptz AND period_start < $5::timestamptz), $2::timestamptz), $2::timestamptz), $5::timestamptz) AS resp
),
msg_agg AS (
  SELECT
    COALESCE(SUM(count) FILTER (WHERE direction = 'inbound'), 0) AS received,
    COALESCE(SUM(count) FILTER (WHERE direction = 'outbound'), 0) AS sent
  FROM agg_message_counts_hourly, wm
  WHERE property_id = $1::text AND period_start >= $3::timestamptz AND period_start < wm.msgs
),
msg_raw AS (
  SELECT
    count(*) FILTER (WHERE event_type = 'message.received') AS received,
    count(*) FILTER (WHERE event_type = 'message.sent') AS sent
  FROM analytics_events, wm
  WHERE property_id = $1::text AND event_type IN ('message.received', 'message.sent')
    AND occurred_at >= GREATEST(wm.msgs, $3::timestamptz) AND occurred_at <= $4::timestamptz
),
resp_agg AS (
  SELECT
    COALESCE(SUM(duration_sum_ms) FILTER (WHERE period_start >= $3::timestamptz), 0)::float8 AS today_sum,
    COALESCE(SUM(responses) FILTER (WHERE period_start >= $3::timestamptz AND duration_sum_ms IS NOT NULL), 0) AS today_n,
    COALESCE(SUM(duration_sum_ms) FILTER (WHERE period_start < $3::timestamptz), 0)::float8 AS y_sum,
    COALESCE(SUM(responses) FILTER (WHERE period_start < $3::timestamptz AND duration_sum_ms IS NOT NULL), 0) AS y_n
  FROM agg_response_times_hourly, wm
  WHERE property_id = $1::text AND period_start >= $2::timestamptz AND period_start < wm.resp
),
resp_raw AS (
  SELECT
    COALESCE(SUM(duration_ms) FILTER (WHERE occurred_at >= $3::timestamptz), 0)::float8 AS today_sum,
    count(duration_ms) FILTER (WHERE occurred_at >= $3::timestamptz) AS today_n,
    COALESCE(SUM(duration_ms) FILTER (WHERE occurred_at < $3::timestamptz), 0)::float8 AS y_sum,
    count(duration_ms) FILTER (WHERE occurred_at < $3::timestamptz) AS y_n
  FROM analytics_events, wm
  WHERE property_id = $1::text AND event_type = 'response.time_recorded'
    AND occurred_at >= wm.resp AND occurred_at <= $4::timestamptz
),
conv AS (
  SELECT
    count(*) FILTER (WHERE event_type = 'conversation.started' AND occurred_at >= $3::timestamptz) AS started,
    count(*) FILTER (WHERE event_type = 'conversation.resolved' AND occurred_at >= $3::timestamptz) AS resolved,
    count(*) FILTER (WHERE event_type = 'conversation.escalated' AND occurred_at >= $3::timestamptz) AS escalated,
    count(*) FILTER (WHERE event_type = 'conversation.started' AND occurred_at < $3::timestamptz) AS y_started_raw
  FROM analytics_events
  WHERE property_id = $1::text AND event_type IN ('conversation.started', 'conversation.resolved', 'conversation.escalated')
    AND occurred_at >= $2::timestamptz AND occurred_at <= $4::timestamptz
),
y_daily AS (
  SELECT EXISTS (SELECT 1 FROM agg_conversation_metrics_daily WHERE period_date = $10::date) AS done,
         (SELECT COALESCE(SUM(conversations_started), 0) FROM agg_conversation_metrics_daily
           WHERE property_id = $1::text AND period_date = $10::date) AS started
),
rating AS (
  SELECT
    AVG(value) FILTER (WHERE occurred_at >= $3::timestamptz) AS today_avg,
    AVG(value) FILTER (WHERE occurred_at < $3::timestamptz) AS y_avg
  FROM analytics_events
  WHERE property_id = $1::text AND event_type = 'satisfaction.rating_received' AND value IS NOT NULL
    AND occurred_at >= $2::timestamptz AND occurred_at <= $4::timestamptz
),
-- The derived figures read the state migration 010 keeps per conversation, task and staff member
-- (latest events, maintained by triggers on analytics_events), through a partial index of the open
-- ones: the cost follows the open conversations, staff and pending tasks, not the raw events. An
-- entity with an event after "now" (clock skew, or a clock in the past) cannot be read from the
-- latest-event state: those few are computed from raw events as before (*_future), so every figure
-- equals its definition over the events up to now.
conv_future AS (
  SELECT DISTINCT conversation_id FROM analytics_events
  WHERE property_id = $1::text AND event_type IN ('conversation.started', 'conversation.resolved', 'conversation.closed')
    AND conversation_id IS NOT NULL AND occurred_at > $9::timestamptz
),
conv_started AS (
  SELECT conversation_id, max(occurred_at) AS at FROM analytics_events
  WHERE property_id = $1::text AND event_type = 'conversation.started' AND conversation_id IN (SELECT conversation_id FROM conv_future)
    AND occurred_at >= $6::timestamptz AND occurred_at <= $9::timestamptz
  GROUP BY conversation_id
),
conv_ended AS (
  SELECT conversation_id, max(occurred_at) AS at FROM analytics_events
  WHERE property_id = $1::text AND event_type IN ('conversation.resolved', 'conversation.closed') AND conversation_id IN (SELECT conversation_id FROM conv_future)
    AND occurred_at >= $6::timestamptz AND occurred_at <= $9::timestamptz
  GROUP BY conversation_id
),
active AS (
  SELECT (SELECT count(*) FROM analytics_lifecycle_state s
          WHERE s.property_id = $1::text AND s.kind = 'conversation' AND (s.closed_at IS NULL OR s.closed_at < s.opened_at)
            AND s.opened_at >= $6::timestamptz AND s.opened_at <= $9::timestamptz
            AND s.entity_id NOT IN (SELECT conversation_id FROM conv_future))
       + (SELECT count(*) FROM conv_started s LEFT JOIN conv_ended e USING (conversation_id) WHERE e.at IS NULL OR e.at < s.at) AS n
),
staff_future AS (
  SELECT DISTINCT staff_id FROM analytics_events
  WHERE property_id = $1::text AND event_type IN ('staff.login', 'staff.logout', 'staff.status_changed')
    AND staff_id IS NOT NULL AND occurred_at > $9::timestamptz
),
staff AS (
  SELECT (SELECT count(*) FROM analytics_staff_state s
          WHERE s.property_id = $1::text AND s.latest_at >= $7::timestamptz AND s.latest_at <= $9::timestamptz
            AND (s.latest_type = 'staff.login' OR (s.latest_type = 'staff.status_changed' AND $11::jsonb ? s.latest_status))
            AND s.staff_id NOT IN (SELECT staff_id FROM staff_future))
       + (SELECT count(*) FILTER (WHERE event_type = 'staff.login'
                   OR (event_type = 'staff.status_changed' AND $11::jsonb ? lower(COALESCE(metadata->>'status', ''))))
          FROM (
            SELECT DISTINCT ON (staff_id) staff_id, event_type, metadata FROM analytics_events
            WHERE property_id = $1::text AND event_type IN ('staff.login', 'staff.logout', 'staff.status_changed')
              AND staff_id IN (SELECT staff_id FROM staff_future)
              AND occurred_at >= $7::timestamptz AND occurred_at <= $9::timestamptz
            ORDER BY staff_id, occurred_at DESC, id DESC
          ) latest) AS online
),
task_future AS (
  SELECT DISTINCT task_id FROM analytics_events
  WHERE property_id = $1::text AND event_type IN ('task.created', 'task.completed') AND task_id IS NOT NULL AND occurred_at > $9::timestamptz
),
tasks AS (
  SELECT (SELECT count(*) FROM analytics_lifecycle_state s
          WHERE s.property_id = $1::text AND s.kind = 'task' AND (s.closed_at IS NULL OR s.closed_at < s.opened_at)
            AND s.opened_at >= $8::timestamptz AND s.opened_at <= $9::timestamptz
            AND (s.closed_at IS NULL OR s.closed_at < $8::timestamptz)
            AND s.entity_id NOT IN (SELECT task_id FROM task_future))
       + (SELECT count(*) FROM (
            SELECT DISTINCT task_id FROM analytics_events
            WHERE property_id = $1::text AND event_type = 'task.created' AND task_id IN (SELECT task_id FROM task_future)
              AND occurred_at >= $8::timestamptz AND occurred_at <= $9::timestamptz
          ) c
          WHERE NOT EXISTS (
            SELECT 1 FROM analytics_events d
            WHERE d.property_id = $1::text AND d.event_type = 'task.completed' AND d.task_id = c.task_id
              AND d.occurred_at >= $8::timestamptz AND d.occurred_at <= $9::timestamptz
          )) AS pending
)
SELECT
  msg_agg.received + msg_raw.received AS messages_received,
  msg_agg.sent + msg_raw.sent AS messages_sent,
  resp_agg.today_sum + resp_raw.today_sum AS resp_today_sum,
  resp_agg.today_n + resp_raw.today_n AS resp_today_n,
  resp_agg.y_sum + resp_raw.y_sum AS resp_y_sum,
  resp_agg.y_n + resp_raw.y_n AS resp_y_n,
  conv.started, conv.resolved, conv.escalated,
  CASE WHEN y_daily.done THEN y_daily.started ELSE conv.y_started_raw END AS y_started,
  rating.today_avg AS rating_today, rating.y_avg AS rating_y,
  active.n AS active_conversations, staff.online AS staff_online, tasks.pending AS pending_tasks
FROM msg_agg, msg_raw, resp_agg, resp_raw, conv, y_daily, rating, active, staff, tasks`;

/** Seed 001's percentChange: 0 when there is nothing to compare with. */
export function percentChange(current: number | null, previous: number | null): number {
  if (!previous || current === null) return 0;
  return ((current - previous) / previous) * 100;
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export async function computeDashboardMetrics(deps: DashboardDeps, propertyId: string): Promise<DashboardMetrics> {
  const { sql, clock, settings } = deps;
  // the property's today and open hour: its registered zone, else the configured one
  const tz = await zoneOf(sql, propertyId, settings.timeZone);
  const now = clock.now();
  const today = localDate(now, tz);
  const todayStart = startOfLocalDay(today, tz);
  const yesterday = addDays(today, -1);
  // the open hour is the zone's local hour (it starts at :30 UTC in Asia/Kolkata): the hourly rows start there too
  const hourStart = periodContaining('hourly', now, tz).start;
  const [r] = await sql.query(DASHBOARD_SQL, [
    propertyId,
    startOfLocalDay(yesterday, tz),
    todayStart,
    now,
    hourStart,
    new Date(now.getTime() - settings.activeConversationWindowHours * 3_600_000),
    new Date(now.getTime() - settings.staffStatusWindowHours * 3_600_000),
    new Date(now.getTime() - settings.pendingTaskWindowDays * 86_400_000),
    now,
    { sqlType: 'date', value: yesterday },
    { sqlType: 'jsonb', value: [...ONLINE_STATUSES] },
  ]);
  if (!r) throw new Error('the dashboard query returned no row');
  const started = num(r.started);
  const avgToday = num(r.resp_today_n) > 0 ? num(r.resp_today_sum) / num(r.resp_today_n) : null;
  const avgYesterday = num(r.resp_y_n) > 0 ? num(r.resp_y_sum) / num(r.resp_y_n) : null;
  const active = num(r.active_conversations);
  return {
    today: {
      conversationsActive: active,
      conversationsResolved: num(r.resolved),
      messagesReceived: num(r.messages_received),
      messagesSent: num(r.messages_sent),
      avgResponseTimeMs: avgToday ?? 0,
      escalationRate: started > 0 ? num(r.escalated) / started : 0,
    },
    comparison: {
      conversationsChange: percentChange(started, num(r.y_started)),
      responseTimeChange: percentChange(avgToday, avgYesterday),
      satisfactionChange: percentChange(numOrNull(r.rating_today), numOrNull(r.rating_y)),
    },
    activeConversations: active,
    staffOnline: num(r.staff_online),
    pendingTasks: num(r.pending_tasks),
  };
}

/**
 * Seed 001's MetricsCache: one per container (module scope in the Lambda), TTL from the config
 * (60 s), on lru-cache. The clock is injected: lru-cache reads time through it (`perf`).
 */
export class DashboardCache {
  private readonly cache: LRUCache<string, DashboardMetrics>;

  constructor(
    private readonly deps: DashboardDeps,
    options: { ttlMs: number; max: number },
  ) {
    this.cache = new LRUCache<string, DashboardMetrics>({
      max: options.max,
      ttl: options.ttlMs,
      ttlResolution: 0,
      perf: { now: () => deps.clock.now().getTime() },
    });
  }

  async getDashboardMetrics(propertyId: string): Promise<DashboardMetrics> {
    return (await this.lookup(propertyId)).metrics;
  }

  /** The metrics and whether they came from the cache (the API says so in a header). */
  async lookup(propertyId: string): Promise<{ metrics: DashboardMetrics; cached: boolean }> {
    const id = validatePropertyId(propertyId);
    const key = `dashboard:${id}`;
    const hit = this.cache.get(key);
    if (hit) return { metrics: hit, cached: true };
    await assertKnownProperty(this.deps.sql, id);
    const metrics = await computeDashboardMetrics(this.deps, id);
    this.cache.set(key, metrics);
    return { metrics, cached: false };
  }
}
