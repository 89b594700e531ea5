/**
 * Reports (seed 001 "Report Generation"): one period of its type — a day, an ISO week (Monday to
 * Monday) or a calendar month in the aggregation zone — with the seed's seven sections, each read
 * from the granularity that matches the report (daily and weekly reports from the hourly/daily
 * tables, the monthly summary from agg_monthly_summary), means as Σ sum ÷ Σ count and rates as
 * ratios of their counts. The summary's figures have ONE definition whichever report shows them
 * (`SUMMARY_DEFINITIONS`; docs/decisions.md "Analytics: one definition per figure"): the monthly
 * table computes them exactly as the days add up.
 * Every section is a set of flat tables (rows of scalars), so JSON, CSV and HTML show the same numbers;
 * an hour is labelled with its offset (the repeated hour of a fall-back day is two rows).
 */

import { zoneOf } from '../shared/properties';
import type { Sql } from '../shared/sql/types';
import { formatInZone } from '../shared/time';
import { BadRequestError, quote } from './errors';
import { addDays, addMonths, BeyondLastDateError, isDate, LAST_DATE, notADate, startOfLocalDay, weekStart } from './periods';
import { assertKnownProperty, validatePropertyId } from './property';
import { queryTimeSeries } from './timeseries';

export const REPORT_TYPES = ['daily', 'weekly', 'monthly'] as const;
export type ReportType = (typeof REPORT_TYPES)[number];

/**
 * The sections, by the names the report uses for them (its JSON keys, its CSV file names: the seed's
 * `report.sections.*`), in report order. A request names them so too; the seed's snake_case request
 * names are accepted as aliases (SECTION_ALIASES; docs/decisions.md "One name per thing").
 */
export const ALL_SECTIONS = [
  'summary',
  'conversations',
  'responseTimes',
  'staffPerformance',
  'satisfaction',
  'topIntents',
  'channelBreakdown',
] as const;
export type ReportSection = (typeof ALL_SECTIONS)[number];
/** Seed 001's request names (`ReportConfig.sections`) for the sections whose name differs. */
export const SECTION_ALIASES: Readonly<Record<string, ReportSection>> = {
  response_times: 'responseTimes',
  staff_performance: 'staffPerformance',
  top_intents: 'topIntents',
  channel_breakdown: 'channelBreakdown',
};
const sectionNamed = (s: string): ReportSection | undefined =>
  (ALL_SECTIONS as readonly string[]).includes(s)
    ? (s as ReportSection)
    : Object.hasOwn(SECTION_ALIASES, s)
      ? SECTION_ALIASES[s]
      : undefined;

export type Cell = string | number | null;
export type TableRows = Record<string, Cell>[];
/** A section: named tables of flat rows. */
export type SectionData = Record<string, TableRows>;

export interface Report {
  readonly type: ReportType;
  readonly propertyId: string;
  readonly period: { readonly start: string; readonly end: string; readonly label: string; readonly timeZone: string };
  readonly generatedAt: string;
  readonly sections: Partial<Record<ReportSection, SectionData>>;
}

export interface ReportConfig {
  readonly type: string;
  readonly propertyId: string;
  /** [start, end) local dates; `end` may be omitted (the end of start's period). */
  readonly dateRange: { readonly start: string; readonly end?: string };
  readonly sections?: readonly string[];
}

export interface ReportDeps {
  readonly sql: Sql;
  /** The configured zone: that of every unregistered property (a registered one is in its own). */
  readonly timeZone: string;
  readonly now: Date;
}

/** The end (exclusive) of the period of `type` that starts at `start`; throws when start is not a period start. */
export function periodOf(type: ReportType, start: string): { start: string; end: string; label: string } {
  const period = (() => {
    try {
      return reportPeriod(type, start);
    } catch (e) {
      if (e instanceof BeyondLastDateError)
        throw new BadRequestError(`a ${type} report from ${start} would end after ${LAST_DATE}, the last date supported`);
      throw e;
    }
  })();
  try {
    satisfactionWeeks(type, period.start, period.end);
  } catch (e) {
    if (e instanceof BeyondLastDateError)
      throw new BadRequestError(
        `a ${type} report shows the satisfaction of its ISO week, and the week of ${start} (from ${weekStart(start)}) ends after ` +
          `${LAST_DATE}, the last date supported`,
      );
    throw e;
  }
  return period;
}

function reportPeriod(type: ReportType, start: string): { start: string; end: string; label: string } {
  if (type === 'daily') return { start, end: addDays(start, 1), label: start };
  if (type === 'weekly') {
    if (weekStart(start) !== start)
      throw new BadRequestError(`a weekly report starts on a Monday (ISO week): ${start} is not; try ${weekStart(start)}`);
    return { start, end: addDays(start, 7), label: `week of ${start}` };
  }
  if (!start.endsWith('-01')) throw new BadRequestError(`a monthly report starts on the 1st: ${start} is not; try ${start.slice(0, 8)}01`);
  return { start, end: addMonths(start, 1), label: start.slice(0, 7) };
}

export function validateReportConfig(c: Partial<Record<keyof ReportConfig, unknown>>) {
  if (typeof c.type !== 'string' || !(REPORT_TYPES as readonly string[]).includes(c.type))
    throw new BadRequestError(`unknown report type ${quote(c.type)}; allowed: ${REPORT_TYPES.join(', ')}`);
  const type = c.type as ReportType;
  const propertyId = validatePropertyId(c.propertyId);
  const range = (c.dateRange ?? {}) as { start?: unknown; end?: unknown };
  if (typeof range.start !== 'string' || !isDate(range.start)) throw notADate('from', range.start);
  const period = periodOf(type, range.start);
  if (range.end !== undefined && range.end !== period.end)
    throw new BadRequestError(
      `a ${type} report covers one period: from ${period.start} to ${period.end} (exclusive), not to ${quote(range.end)}`,
    );
  const raw = c.sections ?? ALL_SECTIONS;
  if (!Array.isArray(raw) || raw.length > ALL_SECTIONS.length)
    throw new BadRequestError(`sections must be a list of at most ${ALL_SECTIONS.length}: ${ALL_SECTIONS.join(', ')}`);
  const sections: ReportSection[] = [];
  for (const s of raw) {
    const section = typeof s === 'string' ? sectionNamed(s) : undefined;
    if (!section) throw new BadRequestError(`unknown section ${quote(s)}; allowed: ${ALL_SECTIONS.join(', ')}`);
    if (!sections.includes(section)) sections.push(section);
  }
  return { type, propertyId, period, sections };
}

interface Ctx {
  sql: Sql;
  tz: string;
  type: ReportType;
  property: string;
  start: string;
  end: string;
  from: Date;
  to: Date;
}

export async function generateReport(deps: ReportDeps, config: Partial<Record<keyof ReportConfig, unknown>>): Promise<Report> {
  const v = validateReportConfig(config);
  await assertKnownProperty(deps.sql, v.propertyId);
  // the property's own zone (sql/021 `properties`; unregistered: the configured zone)
  const tz = await zoneOf(deps.sql, v.propertyId, deps.timeZone);
  const ctx: Ctx = {
    sql: deps.sql,
    tz,
    type: v.type,
    property: v.propertyId,
    start: v.period.start,
    end: v.period.end,
    from: startOfLocalDay(v.period.start, tz),
    to: startOfLocalDay(v.period.end, tz),
  };
  const builders: Record<ReportSection, (c: Ctx) => Promise<SectionData>> = {
    summary,
    conversations,
    responseTimes,
    staffPerformance,
    satisfaction,
    topIntents,
    channelBreakdown,
  };
  const sections: Report['sections'] = {};
  const built = await Promise.all(v.sections.map((s) => builders[s](ctx)));
  v.sections.forEach((s, i) => {
    sections[s] = built[i] as SectionData;
  });
  return {
    type: v.type,
    propertyId: v.propertyId,
    period: { ...v.period, timeZone: tz },
    generatedAt: formatInZone(deps.now, tz),
    sections,
  };
}

/** What each summary figure is, in every report type (the daily, weekly and monthly figures add up). */
export const SUMMARY_DEFINITIONS = {
  conversations: 'conversation.started events',
  messages: 'message.received + message.sent events',
  tasks: 'task.created events',
  ai_resolution_rate:
    'conversation.resolved events whose conversation had no conversation.escalated event on the same local day ÷ conversation.resolved events',
  avg_satisfaction: 'mean value of satisfaction.rating_received events (every rating)',
  avg_response_time_minutes: 'mean duration_ms of response.time_recorded events (every timed response) ÷ 60,000',
} as const;

const n = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const rows = (rs: Record<string, unknown>[]): TableRows =>
  rs.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' ? v : n(v)])));

/** Bounds of the section queries: $1 property, $2/$3 dates (DAYS), $2/$3 instants (HOURS), or all five (BOTH: hours in $4/$5). */
const dayParams = (c: Ctx) => [c.property, { sqlType: 'date' as const, value: c.start }, { sqlType: 'date' as const, value: c.end }];
const hourParams = (c: Ctx) => [c.property, c.from, c.to];
const bothParams = (c: Ctx) => [...dayParams(c), c.from, c.to];
const DAYS = 'property_id = $1::text AND period_date >= $2::date AND period_date < $3::date';
const HOURS = 'property_id = $1::text AND period_start >= $2::timestamptz AND period_start < $3::timestamptz';
const HOURS_45 = 'property_id = $1::text AND period_start >= $4::timestamptz AND period_start < $5::timestamptz';

async function summary(c: Ctx): Promise<SectionData> {
  if (c.type === 'monthly') {
    const r = await c.sql.query(
      `SELECT total_conversations AS conversations, total_messages AS messages, total_tasks AS tasks,
         ai_resolution_rate, avg_satisfaction, avg_response_time_minutes
       FROM agg_monthly_summary WHERE property_id = $1::text AND period_month = $2::text`,
      [c.property, c.start.slice(0, 7)],
    );
    const row = r[0] ?? {};
    return {
      totals: [
        {
          source: 'agg_monthly_summary',
          conversations: n(row.conversations) ?? 0,
          messages: n(row.messages) ?? 0,
          tasks: n(row.tasks) ?? 0,
          ai_resolution_rate: n(row.ai_resolution_rate),
          avg_satisfaction: n(row.avg_satisfaction),
          avg_response_time_minutes: n(row.avg_response_time_minutes),
        },
      ],
    };
  }
  // Daily and weekly: from the daily and hourly tables, the same definitions (the days and hours add up
  // to the month row): means as Σ sum ÷ Σ count, rates as ratios of counts.
  const [r] = await c.sql.query(
    `SELECT d.conversations, d.tasks, d.ai_resolution_rate, d.avg_satisfaction, h.messages, h.avg_response_time_minutes
     FROM (SELECT COALESCE(SUM(conversations_started), 0) AS conversations, COALESCE(SUM(tasks_created), 0) AS tasks,
             SUM(ai_handled_count)::float8 / NULLIF(SUM(conversations_resolved), 0) AS ai_resolution_rate,
             SUM(rating_sum) / NULLIF(SUM(ratings), 0) AS avg_satisfaction
           FROM agg_conversation_metrics_daily WHERE ${DAYS}) d,
          (SELECT (SELECT COALESCE(SUM(count), 0) FROM agg_message_counts_hourly WHERE ${HOURS_45}) AS messages,
                  (SELECT SUM(duration_sum_ms)::float8 / NULLIF(SUM(responses), 0) / 60000
                     FROM agg_response_times_hourly WHERE ${HOURS_45}) AS avg_response_time_minutes) h`,
    bothParams(c),
  );
  const row = r ?? {};
  return {
    totals: [
      {
        source: 'agg_conversation_metrics_daily, agg_message_counts_hourly, agg_response_times_hourly',
        conversations: n(row.conversations) ?? 0,
        messages: n(row.messages) ?? 0,
        tasks: n(row.tasks) ?? 0,
        ai_resolution_rate: n(row.ai_resolution_rate),
        avg_satisfaction: n(row.avg_satisfaction),
        avg_response_time_minutes: n(row.avg_response_time_minutes),
      },
    ],
  };
}

async function conversations(c: Ctx): Promise<SectionData> {
  const byChannel = await c.sql.query(
    `SELECT channel, SUM(conversations_started) AS started, SUM(conversations_resolved) AS resolved,
       SUM(conversations_escalated) AS escalated, SUM(ai_handled_count) AS ai_handled, SUM(ai_escalated_count) AS ai_escalated
     FROM agg_conversation_metrics_daily WHERE ${DAYS} GROUP BY channel ORDER BY channel`,
    dayParams(c),
  );
  // the timeline: hours of the day (daily report), days (weekly, monthly); continuous
  const g = c.type === 'daily' ? 'hour' : 'day';
  const ts = (metric: string) =>
    queryTimeSeries(
      { sql: c.sql, limits: { timeZone: c.tz, maxPoints: 2_000, maxRangeDays: 32 } }, // a 31-day month with a fall-back change lasts 31 days and 1 hour
      { metric, granularity: g, startDate: c.start, endDate: c.end, propertyId: c.property },
    );
  const [inbound, outbound] = await Promise.all([ts('messages_received'), ts('messages_sent')]);
  const day =
    g === 'day' ? await Promise.all([ts('conversations_started'), ts('conversations_resolved'), ts('conversations_escalated')]) : [];
  const timeline: TableRows = (inbound.series[0]?.points ?? []).map((p, i) => ({
    period: p.period,
    messages_inbound: p.value,
    messages_outbound: outbound.series[0]?.points[i]?.value ?? 0,
    ...(g === 'day'
      ? {
          started: day[0]?.series[0]?.points[i]?.value ?? 0,
          resolved: day[1]?.series[0]?.points[i]?.value ?? 0,
          escalated: day[2]?.series[0]?.points[i]?.value ?? 0,
        }
      : {}),
  }));
  return { byChannel: rows(byChannel), timeline };
}

async function responseTimes(c: Ctx): Promise<SectionData> {
  if (c.type === 'daily') {
    const detail = await c.sql.query(
      `SELECT period_start, channel, responses, duration_sum_ms::float8 / NULLIF(responses, 0) AS avg_ms, p50_ms, p95_ms, p99_ms
       FROM agg_response_times_hourly WHERE ${HOURS} ORDER BY period_start, channel`,
      hourParams(c),
    );
    const overall = await c.sql.query(
      `SELECT channel, SUM(responses) AS responses, SUM(duration_sum_ms)::float8 / NULLIF(SUM(responses), 0) AS avg_ms
       FROM agg_response_times_hourly WHERE ${HOURS} GROUP BY channel ORDER BY channel`,
      hourParams(c),
    );
    // each hour labelled with its offset: the two 02:00 hours of a fall-back day are two rows, two points
    const labelled = detail.map(({ period_start, ...rest }) => ({ period: formatInZone(new Date(String(period_start)), c.tz), ...rest }));
    return { byChannel: rows(overall), detail: rows(labelled) };
  }
  const detail = await c.sql.query(
    `SELECT to_char(period_date, 'YYYY-MM-DD') AS period, channel, first_responses AS responses,
       first_response_sum_ms::float8 / NULLIF(first_responses, 0) AS avg_ms, p50_first_response_ms AS p50_ms, p95_first_response_ms AS p95_ms
     FROM agg_conversation_metrics_daily WHERE ${DAYS} ORDER BY period_date, channel`,
    dayParams(c),
  );
  const overall = await c.sql.query(
    `SELECT channel, SUM(first_responses) AS responses, SUM(first_response_sum_ms)::float8 / NULLIF(SUM(first_responses), 0) AS avg_ms
     FROM agg_conversation_metrics_daily WHERE ${DAYS} GROUP BY channel ORDER BY channel`,
    dayParams(c),
  );
  return { byChannel: rows(overall), detail: rows(detail) };
}

async function staffPerformance(c: Ctx): Promise<SectionData> {
  const r = await c.sql.query(
    `SELECT staff_id, SUM(conversations_handled) AS conversations_handled, SUM(tasks_completed) AS tasks_completed,
       SUM(responses_timed) AS responses_timed, SUM(response_sum_ms)::float8 / NULLIF(SUM(responses_timed), 0) AS avg_response_time_ms,
       SUM(satisfaction_avg * satisfaction_count) FILTER (WHERE satisfaction_avg IS NOT NULL)
         / NULLIF(SUM(satisfaction_count) FILTER (WHERE satisfaction_avg IS NOT NULL), 0) AS satisfaction_avg,
       SUM(satisfaction_count) AS satisfaction_count
     FROM agg_staff_performance_daily WHERE ${DAYS} GROUP BY staff_id ORDER BY SUM(conversations_handled) DESC, staff_id`,
    dayParams(c),
  );
  return { staff: rows(r) };
}

/** The weeks a report's satisfaction reads (weeks do not nest in days or months): see docs/decisions.md. */
export function satisfactionWeeks(type: ReportType, start: string, end: string): { from: string; to: string } {
  if (type === 'daily') return { from: weekStart(start), to: addDays(weekStart(start), 7) };
  if (type === 'weekly') return { from: start, to: end };
  return { from: start, to: end }; // weeks starting in the month
}

async function satisfaction(c: Ctx): Promise<SectionData> {
  const w = satisfactionWeeks(c.type, c.start, c.end);
  const params = [c.property, { sqlType: 'date' as const, value: w.from }, { sqlType: 'date' as const, value: w.to }];
  const weeks = await c.sql.query(
    `SELECT to_char(period_start, 'YYYY-MM-DD') AS week_start, channel, surveys_sent, responses_received,
       rating_1, rating_2, rating_3, rating_4, rating_5, avg_rating, nps_score
     FROM agg_satisfaction_weekly WHERE property_id = $1::text AND period_start >= $2::date AND period_start < $3::date
     ORDER BY period_start, channel`,
    params,
  );
  const [t] = await c.sql.query(
    `SELECT COALESCE(SUM(surveys_sent), 0) AS surveys_sent, COALESCE(SUM(responses_received), 0) AS responses_received,
       COALESCE(SUM(rating_1), 0) AS rating_1, COALESCE(SUM(rating_2), 0) AS rating_2, COALESCE(SUM(rating_3), 0) AS rating_3,
       COALESCE(SUM(rating_4), 0) AS rating_4, COALESCE(SUM(rating_5), 0) AS rating_5,
       SUM(avg_rating * responses_received) FILTER (WHERE avg_rating IS NOT NULL)
         / NULLIF(SUM(responses_received) FILTER (WHERE avg_rating IS NOT NULL), 0) AS avg_rating,
       SUM(nps_score * responses_received) FILTER (WHERE nps_score IS NOT NULL)
         / NULLIF(SUM(responses_received) FILTER (WHERE nps_score IS NOT NULL), 0) AS nps_score
     FROM agg_satisfaction_weekly WHERE property_id = $1::text AND period_start >= $2::date AND period_start < $3::date`,
    params,
  );
  return { distribution: rows([{ weeks_from: w.from, weeks_to: w.to, ...(t ?? {}) }]), weeks: rows(weeks) };
}

async function topIntents(c: Ctx): Promise<SectionData> {
  if (c.type === 'monthly') {
    const r = await c.sql.query(
      `SELECT e.value->>'intent' AS intent, CASE WHEN jsonb_typeof(e.value->'count') = 'number' THEN (e.value->>'count')::float8 END AS count,
         e.value::text AS raw
       FROM agg_monthly_summary m, jsonb_array_elements(CASE WHEN jsonb_typeof(m.top_intents) = 'array' THEN m.top_intents ELSE '[]'::jsonb END) e
       WHERE m.property_id = $1::text AND m.period_month = $2::text`,
      [c.property, c.start.slice(0, 7)],
    );
    // an entry that is not {intent, count} is kept and shown as it was, never dropped
    const intents = r
      .map((x) => ({ intent: typeof x.intent === 'string' ? x.intent : `(unreadable: ${String(x.raw).slice(0, 80)})`, count: n(x.count) }))
      .sort((a, b) => (b.count ?? -1) - (a.count ?? -1));
    return {
      intents: intents.map((x) => ({ intent: x.intent, count: x.count, avg_confidence: null, action_taken: null, escalated: null })),
    };
  }
  const r = await c.sql.query(
    `SELECT intent, SUM(count) AS count,
       SUM(avg_confidence * confidence_count) FILTER (WHERE avg_confidence IS NOT NULL)
         / NULLIF(SUM(confidence_count) FILTER (WHERE avg_confidence IS NOT NULL), 0) AS avg_confidence,
       SUM(action_taken_count) AS action_taken, SUM(escalated_count) AS escalated
     FROM agg_intent_distribution_daily WHERE ${DAYS} GROUP BY intent ORDER BY SUM(count) DESC, intent`,
    dayParams(c),
  );
  return { intents: rows(r) };
}

async function channelBreakdown(c: Ctx): Promise<SectionData> {
  if (c.type === 'monthly') {
    const r = await c.sql.query(
      `SELECT e.key AS channel, CASE WHEN jsonb_typeof(e.value) = 'number' THEN e.value::text::float8 END AS count, e.value::text AS raw
       FROM agg_monthly_summary m, jsonb_each(CASE WHEN jsonb_typeof(m.channel_breakdown) = 'object' THEN m.channel_breakdown ELSE '{}'::jsonb END) e
       WHERE m.property_id = $1::text AND m.period_month = $2::text ORDER BY e.key`,
      [c.property, c.start.slice(0, 7)],
    );
    const total = r.reduce((a, x) => a + (n(x.count) ?? 0), 0);
    return {
      channels: r.map((x) => ({
        channel: String(x.channel),
        count: n(x.count),
        share: total > 0 && x.count !== null ? (n(x.count) as number) / total : null,
      })),
    };
  }
  const r = await c.sql.query(
    `WITH m AS (SELECT channel, SUM(count) AS messages FROM agg_message_counts_hourly WHERE ${HOURS_45} GROUP BY channel),
          cv AS (SELECT channel, SUM(conversations_started) AS conversations FROM agg_conversation_metrics_daily WHERE ${DAYS} GROUP BY channel)
     SELECT channel, COALESCE(m.messages, 0) AS messages, COALESCE(cv.conversations, 0) AS conversations,
       COALESCE(m.messages, 0)::float8 / NULLIF(SUM(COALESCE(m.messages, 0)) OVER (), 0) AS share
     FROM m FULL JOIN cv USING (channel) ORDER BY channel`,
    bothParams(c),
  );
  return { channels: rows(r) };
}
