/**
 * THE registry of aggregations: one entry per job (name, granularity, table, the event types it
 * reads, its SQL). The runner (lambdas/aggregate/aggregate.ts), the CLI and the CDK (one schedule
 * per entry, in the zone of lib/config.ts) all read this list: adding an aggregation is adding an entry.
 *
 * Each entry's SQL recomputes a set of buckets given as ONE jsonb parameter, `$1`:
 * `[{property_id: null | "p", period_start, period_end, period_key, time_zone, default_zone}]` (null:
 * every property whose zone is `time_zone` — registered there in `properties`, or unregistered when it
 * is `default_zone`, the deployment's —; `time_zone`: the zone the periods are in, which is the zone of
 * every property they aggregate). It upserts (INSERT … SELECT … ON CONFLICT DO UPDATE, touching only rows whose values
 * change) and zeroes the rows of those buckets whose events disappeared. No DELETE.
 * Buckets whose period starts at or before the raw horizon (`raw_horizon()`, sql/015: raw events
 * up to it may be in cold storage only) are left untouched — neither recomputed nor zeroed — and
 * returned in `beyond`; the horizon is read in the statement's own snapshot, the one its raw rows
 * come from (lambdas/aggregate/horizon.ts).
 * Definitions of every figure: docs/decisions.md, "Analytics: definitions".
 */
import type { Granularity } from './periods';

export interface AggregationDefinition {
  readonly name: string;
  readonly granularity: Granularity;
  readonly table: string;
  /** The event types the aggregation reads: ingest logs late-data invalidations for these only. */
  readonly eventTypes: readonly string[];
  /** The statement (see above); returns one row `{computed, written, zeroed, horizon, beyond}`. */
  readonly sql: string;
  /** Also refreshes seed 002's token/cost rollups (the hourly job). */
  readonly refreshesTokenRollups?: boolean;
}

const list = (types: readonly string[]) => types.map((t) => `'${t}'`).join(', ');

/**
 * Buckets and their events, one parameterized index range scan per bucket (LATERAL): whole periods by
 * time (occurred_at index), property buckets by (property, time), so a late-data run reads only
 * the rows of its buckets whatever the planner guesses for the jsonb parameter's row count.
 */
function eventsCte(types: readonly string[]): string {
  return `hz AS (
  SELECT raw_horizon('analytics_events') AS horizon
), requested AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb)
    AS b(property_id text, period_start timestamptz, period_end timestamptz, period_key text, time_zone text, default_zone text)
), b AS (
  SELECT r.* FROM requested r CROSS JOIN hz WHERE hz.horizon IS NULL OR r.period_start > hz.horizon
), ev AS (
  SELECT b.period_key, b.time_zone, e.* FROM b CROSS JOIN LATERAL (
    -- a whole period of a zone: the events of the properties in that zone (registered there, or
    -- unregistered when it is the deployment's zone)
    SELECT e.* FROM analytics_events e LEFT JOIN properties pz ON pz.property_id = e.property_id
    WHERE b.property_id IS NULL AND e.occurred_at >= b.period_start AND e.occurred_at < b.period_end AND e.event_type IN (${list(types)})
      AND COALESCE(pz.time_zone, b.default_zone) = b.time_zone
    UNION ALL
    SELECT * FROM analytics_events e
    WHERE e.property_id = b.property_id AND e.occurred_at >= b.period_start AND e.occurred_at < b.period_end AND e.event_type IN (${list(types)})
  ) e
)`;
}

interface Shape {
  readonly table: string;
  readonly periodColumn: string;
  readonly periodCast: string;
  /** Key columns after the period (property_id first). */
  readonly keys: readonly string[];
  readonly values: readonly string[];
  /** `column = value` assignments that zero a row whose events disappeared. */
  readonly zero: string;
  /** An expression on `t` that is non-zero in any row with events (to skip already-zeroed rows). */
  readonly live: string;
}

/** The upsert + zeroing tail shared by every aggregation; `agg` must yield period, keys, values. */
function upsert(s: Shape, aggCtes: string, types: readonly string[]): string {
  const all = [s.periodColumn, ...s.keys, ...s.values];
  const conflict = [s.periodColumn, ...s.keys].join(', ');
  const changed = `(${s.values.map((v) => `${s.table}.${v}`).join(', ')}) IS DISTINCT FROM (${s.values.map((v) => `EXCLUDED.${v}`).join(', ')})`;
  const same = [s.periodColumn, ...s.keys].map((k) => `a.${k} = t.${k}`).join(' AND ');
  return `WITH ${eventsCte(types)}, ${aggCtes}, up AS (
  INSERT INTO ${s.table} (${all.join(', ')}, computed_at)
  SELECT ${all.join(', ')}, now() FROM agg
  ON CONFLICT (${conflict}) DO UPDATE SET ${s.values.map((v) => `${v} = EXCLUDED.${v}`).join(', ')}, computed_at = EXCLUDED.computed_at
  WHERE ${changed}
  RETURNING 1
), zero AS (
  UPDATE ${s.table} t SET ${s.zero}, computed_at = now()
  FROM b
  WHERE t.${s.periodColumn} = b.period_key::${s.periodCast}
    AND (t.property_id = b.property_id
         OR (b.property_id IS NULL AND COALESCE((SELECT pz.time_zone FROM properties pz WHERE pz.property_id = t.property_id), b.default_zone) = b.time_zone))
    AND ${s.live} <> 0
    AND NOT EXISTS (SELECT 1 FROM agg a WHERE ${same})
  RETURNING 1
)
SELECT (SELECT count(*) FROM agg)::int AS computed, (SELECT count(*) FROM up)::int AS written, (SELECT count(*) FROM zero)::int AS zeroed,
       (SELECT horizon FROM hz) AS horizon,
       (SELECT COALESCE(jsonb_agg(jsonb_build_object('property_id', r.property_id, 'period', r.period_key) ORDER BY r.period_start, r.property_id), '[]')
        FROM requested r WHERE NOT EXISTS (SELECT 1 FROM b WHERE b.period_key = r.period_key AND b.time_zone = r.time_zone
                                          AND b.property_id IS NOT DISTINCT FROM r.property_id)) AS beyond`;
}

/** Exact continuous percentile (linear interpolation between the two nearest values), as numeric for round(). */
const pct = (q: number, col: string, filter = '') => `(percentile_cont(${q}) WITHIN GROUP (ORDER BY ${col})${filter})::numeric`;

// ------------------------------------------------------------------ hourly_message_counts
const MESSAGE_TYPES = ['message.received', 'message.sent'];
const messageCounts = upsert(
  {
    table: 'agg_message_counts_hourly',
    periodColumn: 'period_start',
    periodCast: 'timestamptz',
    keys: ['property_id', 'channel', 'direction'],
    values: ['count'],
    zero: 'count = 0',
    live: 't.count',
  },
  `agg AS (
  SELECT period_key::timestamptz AS period_start, property_id, COALESCE(channel, 'unknown') AS channel,
         CASE WHEN event_type = 'message.received' THEN 'inbound' ELSE 'outbound' END AS direction,
         count(*)::int AS count
  FROM ev GROUP BY 1, 2, 3, 4
)`,
  MESSAGE_TYPES,
);

// ------------------------------------------------------------------ hourly_response_times
const RESPONSE_TYPES = ['response.time_recorded'];
const responseTimes = upsert(
  {
    table: 'agg_response_times_hourly',
    periodColumn: 'period_start',
    periodCast: 'timestamptz',
    keys: ['property_id', 'channel'],
    values: ['responses', 'duration_sum_ms', 'avg_ms', 'p50_ms', 'p95_ms', 'p99_ms', 'max_ms'],
    zero: 'responses = 0, duration_sum_ms = NULL, avg_ms = NULL, p50_ms = NULL, p95_ms = NULL, p99_ms = NULL, max_ms = NULL',
    live: 't.responses',
  },
  `agg AS (
  SELECT period_key::timestamptz AS period_start, property_id, COALESCE(channel, 'unknown') AS channel,
         count(*)::int AS responses, sum(duration_ms)::bigint AS duration_sum_ms, round(avg(duration_ms))::int AS avg_ms,
         round(${pct(0.5, 'duration_ms')})::int AS p50_ms, round(${pct(0.95, 'duration_ms')})::int AS p95_ms,
         round(${pct(0.99, 'duration_ms')})::int AS p99_ms, max(duration_ms) AS max_ms
  FROM ev WHERE duration_ms IS NOT NULL GROUP BY 1, 2, 3
)`,
  RESPONSE_TYPES,
);

// ------------------------------------------------------------------ daily_conversation_metrics
const CONVERSATION_TYPES = [
  'conversation.started',
  'conversation.resolved',
  'conversation.escalated',
  'response.time_recorded',
  'response.ai_generated',
  'task.created',
  'satisfaction.rating_received',
];
const resolved = " FILTER (WHERE event_type = 'conversation.resolved')";
const rating = " FILTER (WHERE event_type = 'satisfaction.rating_received')";
const conversationMetrics = upsert(
  {
    table: 'agg_conversation_metrics_daily',
    periodColumn: 'period_date',
    periodCast: 'date',
    keys: ['property_id', 'channel'],
    values: [
      'conversations_started',
      'conversations_resolved',
      'conversations_escalated',
      'first_responses',
      'first_response_sum_ms',
      'avg_first_response_ms',
      'p50_first_response_ms',
      'p95_first_response_ms',
      'resolutions_timed',
      'resolution_sum_ms',
      'avg_resolution_minutes',
      'p50_resolution_minutes',
      'p95_resolution_minutes',
      'ai_handled_count',
      'ai_escalated_count',
      'tasks_created',
      'ratings',
      'rating_sum',
    ],
    zero:
      'conversations_started = 0, conversations_resolved = 0, conversations_escalated = 0, first_responses = 0, first_response_sum_ms = NULL, ' +
      'avg_first_response_ms = NULL, p50_first_response_ms = NULL, p95_first_response_ms = NULL, resolutions_timed = 0, resolution_sum_ms = NULL, ' +
      'avg_resolution_minutes = NULL, p50_resolution_minutes = NULL, p95_resolution_minutes = NULL, ai_handled_count = 0, ai_escalated_count = 0, ' +
      'tasks_created = 0, ratings = 0, rating_sum = NULL',
    live:
      '(t.conversations_started + t.conversations_resolved + t.conversations_escalated + t.ai_handled_count + t.ai_escalated_count + ' +
      't.first_responses + t.resolutions_timed + t.tasks_created + t.ratings + COALESCE(t.avg_first_response_ms, -1) + 1)',
  },
  `conv AS (
  SELECT period_key, property_id, conversation_id,
         min(occurred_at) FILTER (WHERE event_type = 'conversation.started') AS started_at,
         bool_or(event_type = 'conversation.escalated') AS escalated,
         bool_or(event_type = 'response.ai_generated') AS ai_replied
  FROM ev WHERE conversation_id IS NOT NULL GROUP BY 1, 2, 3
), first_response AS (
  SELECT DISTINCT ON (ev.period_key, ev.property_id, ev.conversation_id)
         ev.period_key, ev.property_id, COALESCE(ev.channel, 'unknown') AS channel, ev.duration_ms
  FROM ev JOIN conv c ON c.period_key = ev.period_key AND c.property_id = ev.property_id AND c.conversation_id = ev.conversation_id
  WHERE ev.event_type = 'response.time_recorded' AND ev.duration_ms IS NOT NULL AND ev.occurred_at >= c.started_at
  ORDER BY ev.period_key, ev.property_id, ev.conversation_id, ev.occurred_at, ev.id
), x AS (
  SELECT ev.period_key, ev.property_id, COALESCE(ev.channel, 'unknown') AS channel, ev.event_type, ev.duration_ms, ev.value,
         ev.conversation_id IS NOT NULL AND NOT c.escalated AS not_escalated, COALESCE(c.ai_replied, false) AS ai_replied
  FROM ev LEFT JOIN conv c ON c.period_key = ev.period_key AND c.property_id = ev.property_id AND c.conversation_id = ev.conversation_id
  WHERE ev.event_type IN ('conversation.started', 'conversation.resolved', 'conversation.escalated', 'task.created', 'satisfaction.rating_received')
), counts AS (
  SELECT period_key, property_id, channel,
         count(*) FILTER (WHERE event_type = 'conversation.started')::int AS conversations_started,
         count(*)${resolved}::int AS conversations_resolved,
         count(*) FILTER (WHERE event_type = 'conversation.escalated')::int AS conversations_escalated,
         count(duration_ms)${resolved}::int AS resolutions_timed,
         sum(duration_ms)${resolved}::bigint AS resolution_sum_ms,
         round(avg(duration_ms)${resolved} / 60000.0)::int AS avg_resolution_minutes,
         round(${pct(0.5, 'duration_ms', resolved)} / 60000.0)::int AS p50_resolution_minutes,
         round(${pct(0.95, 'duration_ms', resolved)} / 60000.0)::int AS p95_resolution_minutes,
         count(*) FILTER (WHERE event_type = 'conversation.resolved' AND not_escalated)::int AS ai_handled_count,
         count(*) FILTER (WHERE event_type = 'conversation.escalated' AND ai_replied)::int AS ai_escalated_count,
         count(*) FILTER (WHERE event_type = 'task.created')::int AS tasks_created,
         count(*)${rating}::int AS ratings,
         sum(value)${rating} AS rating_sum
  FROM x GROUP BY 1, 2, 3
), fr AS (
  SELECT period_key, property_id, channel, count(*)::int AS first_responses, sum(duration_ms)::bigint AS first_response_sum_ms,
         round(avg(duration_ms))::int AS avg_first_response_ms,
         round(${pct(0.5, 'duration_ms')})::int AS p50_first_response_ms, round(${pct(0.95, 'duration_ms')})::int AS p95_first_response_ms
  FROM first_response GROUP BY 1, 2, 3
), agg AS (
  SELECT period_key::date AS period_date, property_id, channel,
         COALESCE(conversations_started, 0) AS conversations_started, COALESCE(conversations_resolved, 0) AS conversations_resolved,
         COALESCE(conversations_escalated, 0) AS conversations_escalated,
         COALESCE(first_responses, 0) AS first_responses, first_response_sum_ms,
         avg_first_response_ms, p50_first_response_ms, p95_first_response_ms,
         COALESCE(resolutions_timed, 0) AS resolutions_timed, resolution_sum_ms,
         avg_resolution_minutes, p50_resolution_minutes, p95_resolution_minutes,
         COALESCE(ai_handled_count, 0) AS ai_handled_count, COALESCE(ai_escalated_count, 0) AS ai_escalated_count,
         COALESCE(tasks_created, 0) AS tasks_created, COALESCE(ratings, 0) AS ratings, rating_sum
  FROM counts FULL JOIN fr USING (period_key, property_id, channel)
)`,
  CONVERSATION_TYPES,
);

// ------------------------------------------------------------------ daily_staff_performance
const STAFF_TYPES = ['response.staff_sent', 'task.completed', 'response.time_recorded', 'satisfaction.rating_received'];
const staffPerformance = upsert(
  {
    table: 'agg_staff_performance_daily',
    periodColumn: 'period_date',
    periodCast: 'date',
    keys: ['property_id', 'staff_id'],
    values: [
      'conversations_handled',
      'tasks_completed',
      'responses_timed',
      'response_sum_ms',
      'avg_response_time_ms',
      'satisfaction_avg',
      'satisfaction_count',
    ],
    zero:
      'conversations_handled = 0, tasks_completed = 0, responses_timed = 0, response_sum_ms = NULL, avg_response_time_ms = NULL, ' +
      'satisfaction_avg = NULL, satisfaction_count = 0',
    live: '(t.conversations_handled + t.tasks_completed + t.responses_timed + t.satisfaction_count + COALESCE(t.avg_response_time_ms, -1) + 1)',
  },
  `agg AS (
  SELECT period_key::date AS period_date, property_id, staff_id,
         count(DISTINCT conversation_id) FILTER (WHERE event_type = 'response.staff_sent')::int AS conversations_handled,
         count(*) FILTER (WHERE event_type = 'task.completed')::int AS tasks_completed,
         count(duration_ms) FILTER (WHERE event_type = 'response.time_recorded')::int AS responses_timed,
         sum(duration_ms) FILTER (WHERE event_type = 'response.time_recorded')::bigint AS response_sum_ms,
         round(avg(duration_ms) FILTER (WHERE event_type = 'response.time_recorded'))::int AS avg_response_time_ms,
         avg(value)${rating} AS satisfaction_avg,
         count(*)${rating}::int AS satisfaction_count
  FROM ev WHERE staff_id IS NOT NULL GROUP BY 1, 2, 3
)`,
  STAFF_TYPES,
);

// ------------------------------------------------------------------ daily_intent_distribution
const INTENT_TYPES = ['intent.classified', 'intent.action_taken', 'conversation.escalated'];
const intentDistribution = upsert(
  {
    table: 'agg_intent_distribution_daily',
    periodColumn: 'period_date',
    periodCast: 'date',
    keys: ['property_id', 'intent'],
    values: ['count', 'confidence_count', 'avg_confidence', 'action_taken_count', 'escalated_count'],
    zero: 'count = 0, confidence_count = 0, avg_confidence = NULL, action_taken_count = 0, escalated_count = 0',
    live: '(t.count + t.action_taken_count + t.escalated_count)',
  },
  `agg AS (
  SELECT period_key::date AS period_date, property_id, COALESCE(NULLIF(metadata ->> 'intent', ''), 'unknown') AS intent,
         count(*) FILTER (WHERE event_type = 'intent.classified')::int AS count,
         count(value) FILTER (WHERE event_type = 'intent.classified')::int AS confidence_count,
         avg(value) FILTER (WHERE event_type = 'intent.classified') AS avg_confidence,
         count(*) FILTER (WHERE event_type = 'intent.action_taken')::int AS action_taken_count,
         count(*) FILTER (WHERE event_type = 'conversation.escalated')::int AS escalated_count
  FROM ev WHERE event_type <> 'conversation.escalated' OR metadata ? 'intent'
  GROUP BY 1, 2, 3
)`,
  INTENT_TYPES,
);

// ------------------------------------------------------------------ weekly_satisfaction_trends
const SATISFACTION_TYPES = ['satisfaction.survey_sent', 'satisfaction.rating_received'];
const r = (n: number) => `count(*) FILTER (WHERE event_type = 'satisfaction.rating_received' AND value = ${n})::int AS rating_${n}`;
const satisfactionWeekly = upsert(
  {
    table: 'agg_satisfaction_weekly',
    periodColumn: 'period_start',
    periodCast: 'date',
    keys: ['property_id', 'channel'],
    values: ['surveys_sent', 'responses_received', 'rating_1', 'rating_2', 'rating_3', 'rating_4', 'rating_5', 'avg_rating', 'nps_score'],
    zero: 'surveys_sent = 0, responses_received = 0, rating_1 = 0, rating_2 = 0, rating_3 = 0, rating_4 = 0, rating_5 = 0, avg_rating = NULL, nps_score = NULL',
    live: '(t.surveys_sent + t.responses_received)',
  },
  `agg AS (
  SELECT period_key::date AS period_start, property_id, COALESCE(channel, 'unknown') AS channel,
         count(*) FILTER (WHERE event_type = 'satisfaction.survey_sent')::int AS surveys_sent,
         count(*)${rating}::int AS responses_received,
         ${[1, 2, 3, 4, 5].map(r).join(', ')},
         avg(value)${rating} AS avg_rating,
         CASE WHEN count(*)${rating} > 0 THEN
           100.0 * (count(*) FILTER (WHERE event_type = 'satisfaction.rating_received' AND value = 5)
                  - count(*) FILTER (WHERE event_type = 'satisfaction.rating_received' AND value <= 3)) / count(*)${rating}
         END AS nps_score
  FROM ev GROUP BY 1, 2, 3
)`,
  SATISFACTION_TYPES,
);

// ------------------------------------------------------------------ monthly_summary
const MONTHLY_TYPES = [
  'conversation.started',
  'conversation.resolved',
  'conversation.escalated',
  'message.received',
  'message.sent',
  'task.created',
  'satisfaction.rating_received',
  'response.time_recorded',
  'intent.classified',
];
const monthlySummary = upsert(
  {
    table: 'agg_monthly_summary',
    periodColumn: 'period_month',
    periodCast: 'text',
    keys: ['property_id'],
    values: [
      'total_conversations',
      'total_messages',
      'total_tasks',
      'ai_resolution_rate',
      'avg_satisfaction',
      'avg_response_time_minutes',
      'top_intents',
      'channel_breakdown',
    ],
    zero: "total_conversations = 0, total_messages = 0, total_tasks = 0, ai_resolution_rate = NULL, avg_satisfaction = NULL, avg_response_time_minutes = NULL, top_intents = '[]', channel_breakdown = '{}'",
    live: '(t.total_conversations + t.total_messages + t.total_tasks + jsonb_array_length(t.top_intents) + COALESCE(t.avg_satisfaction, 0) + COALESCE(t.avg_response_time_minutes, 0))',
  },
  `totals AS (
  SELECT period_key, property_id,
         count(*) FILTER (WHERE event_type = 'conversation.started')::int AS total_conversations,
         count(*) FILTER (WHERE event_type IN ('message.received', 'message.sent'))::int AS total_messages,
         count(*) FILTER (WHERE event_type = 'task.created')::int AS total_tasks,
         avg(value)${rating} AS avg_satisfaction,
         avg(duration_ms) FILTER (WHERE event_type = 'response.time_recorded') / 60000.0 AS avg_response_time_minutes
  FROM ev GROUP BY 1, 2
), escalated AS (
  -- the AI-resolution rate is defined per local day (the daily table's ai_handled ÷ resolved), so a
  -- month's rate is the sum of its days': a resolution counts as the AI's when its conversation had
  -- no escalation on the day of the resolution
  SELECT DISTINCT period_key, property_id, conversation_id, (occurred_at AT TIME ZONE time_zone)::date AS day
  FROM ev WHERE event_type = 'conversation.escalated' AND conversation_id IS NOT NULL
), rate AS (
  SELECT r.period_key, r.property_id,
         (count(*) FILTER (WHERE r.conversation_id IS NOT NULL AND x.conversation_id IS NULL))::double precision
           / NULLIF(count(*), 0) AS ai_resolution_rate
  FROM ev r LEFT JOIN escalated x
    ON x.period_key = r.period_key AND x.property_id = r.property_id AND x.conversation_id = r.conversation_id
   AND x.day = (r.occurred_at AT TIME ZONE r.time_zone)::date
  WHERE r.event_type = 'conversation.resolved'
  GROUP BY 1, 2
), intents AS (
  SELECT period_key, property_id, COALESCE(NULLIF(metadata ->> 'intent', ''), 'unknown') AS intent, count(*)::int AS n
  FROM ev WHERE event_type = 'intent.classified' GROUP BY 1, 2, 3
), ranked AS (
  SELECT *, row_number() OVER (PARTITION BY period_key, property_id ORDER BY n DESC, intent) AS rn FROM intents
), top AS (
  SELECT period_key, property_id, jsonb_agg(jsonb_build_object('intent', intent, 'count', n) ORDER BY rn) AS top_intents
  FROM ranked WHERE rn <= 10 GROUP BY 1, 2
), channels AS (
  SELECT period_key, property_id, jsonb_object_agg(channel, n) AS channel_breakdown
  FROM (SELECT period_key, property_id, COALESCE(channel, 'unknown') AS channel, count(*)::int AS n
        FROM ev WHERE event_type = 'conversation.started' GROUP BY 1, 2, 3) c
  GROUP BY 1, 2
), agg AS (
  SELECT t.period_key AS period_month, t.property_id, t.total_conversations, t.total_messages, t.total_tasks,
         r.ai_resolution_rate, t.avg_satisfaction, t.avg_response_time_minutes,
         COALESCE(top.top_intents, '[]'::jsonb) AS top_intents, COALESCE(c.channel_breakdown, '{}'::jsonb) AS channel_breakdown
  FROM totals t
  LEFT JOIN rate r USING (period_key, property_id)
  LEFT JOIN top USING (period_key, property_id)
  LEFT JOIN channels c USING (period_key, property_id)
)`,
  MONTHLY_TYPES,
);

export const AGGREGATIONS: readonly AggregationDefinition[] = [
  {
    name: 'hourly_message_counts',
    granularity: 'hourly',
    table: 'agg_message_counts_hourly',
    eventTypes: MESSAGE_TYPES,
    sql: messageCounts,
    refreshesTokenRollups: true,
  },
  {
    name: 'hourly_response_times',
    granularity: 'hourly',
    table: 'agg_response_times_hourly',
    eventTypes: RESPONSE_TYPES,
    sql: responseTimes,
  },
  {
    name: 'daily_conversation_metrics',
    granularity: 'daily',
    table: 'agg_conversation_metrics_daily',
    eventTypes: CONVERSATION_TYPES,
    sql: conversationMetrics,
  },
  {
    name: 'daily_staff_performance',
    granularity: 'daily',
    table: 'agg_staff_performance_daily',
    eventTypes: STAFF_TYPES,
    sql: staffPerformance,
  },
  {
    name: 'daily_intent_distribution',
    granularity: 'daily',
    table: 'agg_intent_distribution_daily',
    eventTypes: INTENT_TYPES,
    sql: intentDistribution,
  },
  {
    name: 'weekly_satisfaction_trends',
    granularity: 'weekly',
    table: 'agg_satisfaction_weekly',
    eventTypes: SATISFACTION_TYPES,
    sql: satisfactionWeekly,
  },
  { name: 'monthly_summary', granularity: 'monthly', table: 'agg_monthly_summary', eventTypes: MONTHLY_TYPES, sql: monthlySummary },
];

export function aggregation(name: string): AggregationDefinition {
  const def = AGGREGATIONS.find((a) => a.name === name);
  if (!def) throw new RangeError(`Unknown aggregation "${name}": expected one of ${AGGREGATIONS.map((a) => a.name).join(', ')}`);
  return def;
}
