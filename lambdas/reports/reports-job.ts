/**
 * Scheduled reports: after the daily, weekly and monthly aggregations, each property's report of the
 * period just closed goes to the cold-storage bucket as reports/{property}/{type}/{period}.{json,zip,html}.
 * It runs only when the run ledger shows that every aggregation it reads succeeded after the period
 * ended; otherwise it fails, naming the aggregation (the run is recorded as failed and alarms).
 * Each property's period is its own zone's (sql/021 `properties`): a zone whose period has not been
 * aggregated since it ended waits for the next run (counted `properties_waiting`); none ready fails.
 * Run every hour: a report already written for the period is not written again (an explicit `period` rewrites).
 * A property whose report fails does not stop the others: it is logged and counted
 * (`properties_failed` → metric `PropertiesFailed`, and the run's errors: the run is unhealthy).
 */
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { addDays, addMonths, startOfLocalDay, weekStart } from '../analytics-api/periods';
import { reportCsvZip } from '../analytics-api/report-csv';
import { reportHtml } from '../analytics-api/report-html';
import { generateReport, periodOf, type ReportType } from '../analytics-api/reports';
import type { RunLedger } from '../shared/ledger/types';
import type { Log } from '../shared/observability';
import { registeredZones, zonesOf } from '../shared/properties';
import type { Clock, JobOutcome } from '../shared/runtime';
import type { Sql } from '../shared/sql/types';
import { formatInZone, localDate } from '../shared/time';

export interface ReportsDeps {
  readonly sql: Sql;
  readonly ledger: RunLedger;
  readonly s3: S3Client;
  readonly bucket: string;
  readonly clock: Clock;
  readonly timeZone: string;
  readonly log: Log;
}

export interface ReportsInput {
  readonly type: ReportType;
  /** First day of the period; default: the period of `type` that closed last. */
  readonly period?: string;
  /** Aggregation jobs that must have succeeded after the period ended (+ the grace). */
  readonly after: readonly string[];
  /**
   * A period is reported once it ended this long ago in its zone, after aggregations that started
   * that long after its end (lib/config.ts GRACE_MINUTES: they close it then). Default 0.
   */
  readonly graceMinutes?: number;
}

export class AggregationNotReadyError extends Error {
  override readonly name = 'AggregationNotReadyError';
}

/** The last closed period of `type` at `now` in the zone. */
export function lastClosedPeriod(type: ReportType, now: Date, timeZone: string): string {
  const today = localDate(now, timeZone);
  if (type === 'daily') return addDays(today, -1);
  if (type === 'weekly') return addDays(weekStart(today), -7);
  return addMonths(`${today.slice(0, 7)}-01`, -1);
}

export function reportKey(property: string, type: ReportType, period: string, ext: 'json' | 'zip' | 'html'): string {
  return `reports/${encodeURIComponent(property)}/${type}/${period}.${ext}`;
}

export async function runReports(
  deps: ReportsDeps,
  input: ReportsInput,
): Promise<JobOutcome & { keys: string[]; failed: PropertyFailure[] }> {
  const { sql, ledger } = deps;
  const now = deps.clock.now();
  // Each property's period is its own zone's (sql/021 `properties`; unregistered: the configured zone):
  // one schedule, and each zone's period is reported once it has closed there and been aggregated.
  const registered = await registeredZones(sql);
  const zoneOfProperty = (p: string) => registered.get(p) ?? deps.timeZone;
  const plans = new Map<string, ZonePlan>();
  const graceMs = (input.graceMinutes ?? 0) * 60_000;
  for (const zone of zonesOf(registered, deps.timeZone)) {
    const start = input.period ?? lastClosedPeriod(input.type, new Date(now.getTime() - graceMs), zone);
    const period = periodOf(input.type, start);
    const from = startOfLocalDay(period.start, zone);
    const endsAt = startOfLocalDay(period.end, zone);
    let notReady: string | undefined;
    for (const job of input.after) {
      const last = await ledger.lastSuccess(job);
      if (!last || Date.parse(last.startedAt) < endsAt.getTime() + graceMs) {
        notReady =
          `${input.type} report for ${period.start}: aggregation "${job}" has not succeeded since the period ended ` +
          `(${formatInZone(endsAt, zone)})${graceMs > 0 ? ` + ${input.graceMinutes} min` : ''}; its last success started ${last?.startedAt ?? 'never'}. Run the aggregation, then this job again.`;
        break;
      }
    }
    plans.set(zone, { period, from, endsAt, notReady });
  }
  const ready = [...plans.values()].filter((z) => !z.notReady);
  // no zone ready: the run fails naming the aggregation (as with one zone); some: the others wait for the next run
  if (ready.length === 0) throw new AggregationNotReadyError([...plans.values()][0]?.notReady ?? 'no zone to report');
  const min = <T>(xs: T[]) => xs.reduce((a, b) => (b < a ? b : a));
  const max = <T>(xs: T[]) => xs.reduce((a, b) => (b > a ? b : a));
  const candidates = await sql.query<{ property_id: string }>(PROPERTIES_SQL, [
    { sqlType: 'date', value: min(ready.map((z) => z.period.start)) },
    { sqlType: 'date', value: max(ready.map((z) => z.period.end)) },
    min(ready.map((z) => z.from)),
    max(ready.map((z) => z.endsAt)),
    { sqlType: 'jsonb', value: input.type === 'monthly' ? [...new Set(ready.map((z) => z.period.start.slice(0, 7)))] : [] },
    null,
  ]);
  const keys: string[] = [];
  const failed: PropertyFailure[] = [];
  const waiting: string[] = [];
  let reported = 0;
  let alreadyWritten = 0;
  // Each property on its own: one that cannot be reported (an id the read side refuses, a bad row, an
  // S3 error) is logged, counted (`properties_failed`, the metric PropertiesFailed, the run's errors)
  // and named in the result, and the next property is reported all the same.
  for (const { property_id } of candidates) {
    const zone = zoneOfProperty(property_id);
    const plan = plans.get(zone) as ZonePlan;
    if (plan.notReady) {
      waiting.push(property_id);
      continue;
    }
    try {
      const [own] = await sql.query<{ property_id: string }>(PROPERTIES_SQL, [
        { sqlType: 'date', value: plan.period.start },
        { sqlType: 'date', value: plan.period.end },
        plan.from,
        plan.endsAt,
        { sqlType: 'jsonb', value: input.type === 'monthly' ? [plan.period.start.slice(0, 7)] : [] },
        property_id,
      ]);
      if (!own) continue; // its rows are in a neighbouring period of its zone
      // a scheduled run (every hour) finds the same period until the next one closes: a report already
      // written keeps what it showed (its HTML, written last, marks it complete); a run naming its period rewrites it
      if (input.period === undefined && (await exists(deps, reportKey(property_id, input.type, plan.period.start, 'html')))) {
        alreadyWritten++;
        continue;
      }
      reported++;
      keys.push(...(await writeReport(deps, input.type, property_id, plan.period.start)));
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      failed.push({ property: property_id, reason });
      deps.log.error(`${input.type} report for ${plan.period.start} of property ${JSON.stringify(property_id)} failed: ${reason}`, {
        property: property_id,
      });
    }
  }
  if (waiting.length > 0)
    deps.log.warn(`${waiting.length} propert${waiting.length === 1 ? 'y waits' : 'ies wait'} for their zone's aggregations`, {
      properties: waiting.slice(0, 20),
      reasons: [...new Set([...plans.values()].flatMap((z) => (z.notReady ? [z.notReady] : [])))],
    });
  deps.log.info(`Wrote ${input.type} reports`, {
    periods: [...new Set(ready.map((z) => z.period.start))],
    properties: reported,
    alreadyWritten,
    failed: failed.length,
    objects: keys.length,
  });
  return {
    counters: {
      properties: reported,
      properties_failed: failed.length,
      objects_written: keys.length,
      ...(alreadyWritten > 0 ? { properties_already_written: alreadyWritten } : {}),
      ...(waiting.length > 0 ? { properties_waiting: waiting.length } : {}),
    },
    errors: failed.length,
    keys,
    failed,
  };
}

interface ZonePlan {
  readonly period: { start: string; end: string };
  readonly from: Date;
  readonly endsAt: Date;
  /** Why this zone's period cannot be reported yet (an aggregation has not run since it ended). */
  readonly notReady?: string;
}

export interface PropertyFailure {
  readonly property: string;
  readonly reason: string;
}

/**
 * Every property with a row for the period in a table the report reads ($1/$2: dates, $3/$4: the
 * period's instants, $5: the months (jsonb) for monthly reports, $6: one property or null): a
 * property with only response-time, staff, intent or satisfaction figures gets its report too.
 */
const ONE = '($6::text IS NULL OR property_id = $6::text)';
const PROPERTIES_SQL = `SELECT property_id FROM agg_conversation_metrics_daily WHERE period_date >= $1::date AND period_date < $2::date AND ${ONE}
  UNION SELECT property_id FROM agg_staff_performance_daily WHERE period_date >= $1::date AND period_date < $2::date AND ${ONE}
  UNION SELECT property_id FROM agg_intent_distribution_daily WHERE period_date >= $1::date AND period_date < $2::date AND ${ONE}
  UNION SELECT property_id FROM agg_satisfaction_weekly WHERE period_start >= $1::date AND period_start < $2::date AND ${ONE}
  UNION SELECT property_id FROM agg_message_counts_hourly WHERE period_start >= $3::timestamptz AND period_start < $4::timestamptz AND ${ONE}
  UNION SELECT property_id FROM agg_response_times_hourly WHERE period_start >= $3::timestamptz AND period_start < $4::timestamptz AND ${ONE}
  UNION SELECT property_id FROM agg_monthly_summary WHERE period_month IN (SELECT jsonb_array_elements_text($5::jsonb)) AND ${ONE}
  ORDER BY 1`;

/** Whether the object is there (HeadObject: s3:GetObject on reports/*). */
async function exists(deps: ReportsDeps, Key: string): Promise<boolean> {
  try {
    await deps.s3.send(new HeadObjectCommand({ Bucket: deps.bucket, Key }));
    return true;
  } catch (e) {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if ((e as Error).name === 'NotFound' || status === 404) return false;
    throw e;
  }
}

async function writeReport(deps: ReportsDeps, type: ReportType, propertyId: string, start: string): Promise<string[]> {
  const report = await generateReport(
    { sql: deps.sql, timeZone: deps.timeZone, now: deps.clock.now() },
    { type, propertyId, dateRange: { start } },
  );
  const objects: [string, Uint8Array | string, string][] = [
    [reportKey(propertyId, type, start, 'json'), JSON.stringify(report, null, 2), 'application/json'],
    [reportKey(propertyId, type, start, 'zip'), reportCsvZip(report), 'application/zip'],
    [reportKey(propertyId, type, start, 'html'), reportHtml(report), 'text/html; charset=utf-8'],
  ];
  const keys: string[] = [];
  for (const [Key, Body, ContentType] of objects) {
    await deps.s3.send(new PutObjectCommand({ Bucket: deps.bucket, Key, Body, ContentType }));
    keys.push(Key);
  }
  return keys;
}
