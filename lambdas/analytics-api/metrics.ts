/**
 * The metric registry: the ONLY place SQL identifiers of the time-series API come from. A request
 * names a metric, a granularity and dimensions; each is looked up here and refused when absent,
 * so no text of a request ever becomes SQL (values travel as parameters).
 * Adding a metric is adding an entry: the API, the CLI, the tests and the docs read this list.
 */

export const GRANULARITIES = ['hour', 'day', 'week', 'month'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

/** The aggregate tables the read side reads, with their period column and native granularity. */
export interface SourceTable {
  readonly table: string;
  readonly grain: Granularity;
  /** The period column: timestamptz (hour), date (day, week) or text YYYY-MM (month). */
  readonly period: string;
  /** The table's key columns besides period and property: rows differ by these. */
  readonly keyDimensions: readonly string[];
}

export const TABLES = {
  messages: { table: 'agg_message_counts_hourly', grain: 'hour', period: 'period_start', keyDimensions: ['channel', 'direction'] },
  responseTimes: { table: 'agg_response_times_hourly', grain: 'hour', period: 'period_start', keyDimensions: ['channel'] },
  conversations: { table: 'agg_conversation_metrics_daily', grain: 'day', period: 'period_date', keyDimensions: ['channel'] },
  staff: { table: 'agg_staff_performance_daily', grain: 'day', period: 'period_date', keyDimensions: ['staff_id'] },
  intents: { table: 'agg_intent_distribution_daily', grain: 'day', period: 'period_date', keyDimensions: ['intent'] },
  satisfaction: { table: 'agg_satisfaction_weekly', grain: 'week', period: 'period_start', keyDimensions: ['channel'] },
  monthly: { table: 'agg_monthly_summary', grain: 'month', period: 'period_month', keyDimensions: [] },
} as const satisfies Record<string, SourceTable>;

/**
 * How a metric combines rows (several channels, several hours in a day):
 * - `sum`: counts add up; an empty period is 0.
 * - `ratio`: Σ numerator ÷ Σ denominator over the rows. A mean is the ratio of the exact sum its row
 *   stores to the count it was taken over (stored beside it, sql/016), so a week's mean is the mean
 *   of the week's raw values, not an average of rounded averages; a rate is the ratio of its two
 *   counts (escalated ÷ started), so a row with escalations and no start still counts. A period
 *   whose denominator is 0 (nothing measured) is null.
 * - `weighted-mean`: Σ(value × weight) / Σ(weight) over rows whose value is known, for means stored
 *   unrounded (double precision) whose `weight` is the count they were taken over; an empty period is null.
 * - `not-rollable`: percentiles, and figures of tables whose rows never combine; only at the table's
 *   own granularity (the series is always split by the table's key dimensions); an empty period is null.
 */
export type Rollup =
  | { readonly kind: 'sum' }
  | { readonly kind: 'ratio'; readonly numerator: string; readonly denominator: string }
  | { readonly kind: 'weighted-mean'; readonly weight: string }
  | { readonly kind: 'not-rollable' };

export interface MetricDefinition {
  readonly name: string;
  readonly description: string;
  readonly unit: 'count' | 'ms' | 'minutes' | 'ratio' | 'rating' | 'score';
  readonly source: SourceTable;
  /** SQL value expression over the table's columns (trusted: written here, never from a request). */
  readonly value: string;
  readonly rollup: Rollup;
  /** Columns a request may group by. */
  readonly dimensions: readonly string[];
}

const sum = { kind: 'sum' } as const;
const notRollable = { kind: 'not-rollable' } as const;
const weighted = (weight: string): Rollup => ({ kind: 'weighted-mean', weight });
const ratio = (numerator: string, denominator: string): Rollup => ({ kind: 'ratio', numerator, denominator });
/** A mean stored as its exact sum and the count it was taken over. */
const meanOf = (sumColumn: string, countColumn: string) => ({
  value: `${sumColumn}::float8 / NULLIF(${countColumn}, 0)`,
  rollup: ratio(`${sumColumn}::float8`, countColumn),
});

const m = (
  name: string,
  source: SourceTable,
  value: string,
  rollup: Rollup,
  dimensions: readonly string[],
  unit: MetricDefinition['unit'],
  description: string,
): MetricDefinition => ({ name, source, value, rollup, dimensions, unit, description });

const T = TABLES;

export const METRICS: readonly MetricDefinition[] = [
  // hourly message counts
  m('messages', T.messages, 'count', sum, ['channel', 'direction'], 'count', 'messages received and sent'),
  m(
    'messages_received',
    T.messages,
    "CASE WHEN direction = 'inbound' THEN count ELSE 0 END",
    sum,
    ['channel'],
    'count',
    'inbound messages',
  ),
  m('messages_sent', T.messages, "CASE WHEN direction = 'outbound' THEN count ELSE 0 END", sum, ['channel'], 'count', 'outbound messages'),
  // hourly response times
  m('responses', T.responseTimes, 'responses', sum, ['channel'], 'count', 'responses timed'),
  m(
    'response_time_avg_ms',
    T.responseTimes,
    meanOf('duration_sum_ms', 'responses').value,
    meanOf('duration_sum_ms', 'responses').rollup,
    ['channel'],
    'ms',
    'mean response time (over the timed responses)',
  ),
  m('response_time_p50_ms', T.responseTimes, 'p50_ms', notRollable, ['channel'], 'ms', 'median response time (per hour and channel)'),
  m(
    'response_time_p95_ms',
    T.responseTimes,
    'p95_ms',
    notRollable,
    ['channel'],
    'ms',
    '95th percentile response time (per hour and channel)',
  ),
  m(
    'response_time_p99_ms',
    T.responseTimes,
    'p99_ms',
    notRollable,
    ['channel'],
    'ms',
    '99th percentile response time (per hour and channel)',
  ),
  // daily conversation metrics
  m('conversations_started', T.conversations, 'conversations_started', sum, ['channel'], 'count', 'conversations started'),
  m('conversations_resolved', T.conversations, 'conversations_resolved', sum, ['channel'], 'count', 'conversations resolved'),
  m('conversations_escalated', T.conversations, 'conversations_escalated', sum, ['channel'], 'count', 'conversations escalated'),
  m('ai_handled', T.conversations, 'ai_handled_count', sum, ['channel'], 'count', 'conversations handled by the AI'),
  m('ai_escalated', T.conversations, 'ai_escalated_count', sum, ['channel'], 'count', 'conversations the AI escalated'),
  m(
    'escalation_rate',
    T.conversations,
    'conversations_escalated::float8 / NULLIF(conversations_started, 0)',
    ratio('conversations_escalated::float8', 'conversations_started'),
    ['channel'],
    'ratio',
    'escalated ÷ started (events of the period)',
  ),
  m(
    'first_response_avg_ms',
    T.conversations,
    meanOf('first_response_sum_ms', 'first_responses').value,
    meanOf('first_response_sum_ms', 'first_responses').rollup,
    ['channel'],
    'ms',
    'mean first-response time (over the conversations whose first response was measured)',
  ),
  m('first_response_p50_ms', T.conversations, 'p50_first_response_ms', notRollable, ['channel'], 'ms', 'median first-response time'),
  m(
    'first_response_p95_ms',
    T.conversations,
    'p95_first_response_ms',
    notRollable,
    ['channel'],
    'ms',
    '95th percentile first-response time',
  ),
  m(
    'resolution_avg_minutes',
    T.conversations,
    'resolution_sum_ms::float8 / 60000 / NULLIF(resolutions_timed, 0)',
    ratio('resolution_sum_ms::float8 / 60000', 'resolutions_timed'),
    ['channel'],
    'minutes',
    'mean resolution time (over the resolutions with a duration)',
  ),
  m(
    'resolution_p95_minutes',
    T.conversations,
    'p95_resolution_minutes',
    notRollable,
    ['channel'],
    'minutes',
    '95th percentile resolution time',
  ),
  // daily staff performance
  m('staff_conversations_handled', T.staff, 'conversations_handled', sum, ['staff_id'], 'count', 'conversations handled by staff'),
  m('staff_tasks_completed', T.staff, 'tasks_completed', sum, ['staff_id'], 'count', 'tasks completed by staff'),
  m(
    'staff_response_time_avg_ms',
    T.staff,
    meanOf('response_sum_ms', 'responses_timed').value,
    meanOf('response_sum_ms', 'responses_timed').rollup,
    ['staff_id'],
    'ms',
    'staff mean response time (over the member’s timed responses)',
  ),
  m('staff_satisfaction_avg', T.staff, 'satisfaction_avg', weighted('satisfaction_count'), ['staff_id'], 'rating', 'staff mean rating'),
  // daily intents
  m('intents', T.intents, 'count', sum, ['intent'], 'count', 'intents classified'),
  m(
    'intent_confidence_avg',
    T.intents,
    'avg_confidence',
    weighted('confidence_count'),
    ['intent'],
    'ratio',
    'mean classifier confidence (over the classifications with one)',
  ),
  m('intent_actions_taken', T.intents, 'action_taken_count', sum, ['intent'], 'count', 'intents acted upon'),
  m('intent_escalations', T.intents, 'escalated_count', sum, ['intent'], 'count', 'intents escalated'),
  // weekly satisfaction (weeks do not nest in months: week granularity only)
  m('surveys_sent', T.satisfaction, 'surveys_sent', sum, ['channel'], 'count', 'satisfaction surveys sent'),
  m('survey_responses', T.satisfaction, 'responses_received', sum, ['channel'], 'count', 'satisfaction responses'),
  m('rating_avg', T.satisfaction, 'avg_rating', weighted('responses_received'), ['channel'], 'rating', 'mean rating (1–5)'),
  m('nps', T.satisfaction, 'nps_score', weighted('responses_received'), ['channel'], 'score', 'Net Promoter Score (−100…100)'),
  // monthly summary
  m('monthly_conversations', T.monthly, 'total_conversations', sum, [], 'count', 'conversations in the month'),
  m('monthly_messages', T.monthly, 'total_messages', sum, [], 'count', 'messages in the month'),
  m('monthly_tasks', T.monthly, 'total_tasks', sum, [], 'count', 'tasks in the month'),
  m(
    'ai_resolution_rate',
    T.monthly,
    'ai_resolution_rate',
    notRollable,
    [],
    'ratio',
    'AI resolution rate: resolutions with no escalation that day ÷ resolutions',
  ),
  m('monthly_satisfaction_avg', T.monthly, 'avg_satisfaction', notRollable, [], 'rating', 'mean rating in the month'),
  m('monthly_response_time_minutes', T.monthly, 'avg_response_time_minutes', notRollable, [], 'minutes', 'mean response time in the month'),
];

export const METRICS_BY_NAME: ReadonlyMap<string, MetricDefinition> = new Map(METRICS.map((d) => [d.name, d]));

const ORDER: Record<Granularity, number> = { hour: 0, day: 1, week: 2, month: 3 };

/**
 * The granularities a metric can be read at: its table's own, and coarser ones its periods nest
 * in (hours in days, weeks and months; days in weeks and months; weeks only in weeks).
 * A not-rollable metric only at its own.
 */
export function allowedGranularities(metric: MetricDefinition): Granularity[] {
  const grain = metric.source.grain;
  if (metric.rollup.kind === 'not-rollable') return [grain];
  if (grain === 'week') return ['week'];
  return GRANULARITIES.filter((g) => ORDER[g] >= ORDER[grain]);
}

/** Empty periods of a count are 0; of a mean or percentile, null (no data is not zero). */
export function emptyValue(metric: MetricDefinition): 0 | null {
  return metric.rollup.kind === 'sum' ? 0 : null;
}
