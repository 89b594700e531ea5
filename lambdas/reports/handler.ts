/** Scheduled reports Lambda; the schedule's payload is `{ "type": "daily" | "weekly" | "monthly", "period"?: "YYYY-MM-DD" }`. */
import { S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { GRACE_MINUTES } from '../../lib/config';
import { createLedger, createSql, loadRuntimeConfig } from '../shared/deps';
import { powertools } from '../shared/observability';
import { runExclusive, systemClock } from '../shared/runtime';
import { runReports } from './reports-job';

const config = loadRuntimeConfig();
const sql = createSql(config.sql);
const ledger = createLedger(config.ledger);
const s3 = new S3Client({});
const bucket = process.env.REPORTS_BUCKET ?? '';
if (!bucket) throw new Error('REPORTS_BUCKET is not set');

export async function handler(event: { type?: string; period?: string } | undefined, context: Context) {
  const schedule = config.env.analyticsServing.reportSchedules.find((s) => s.type === event?.type);
  if (!schedule) throw new Error(`type must be daily, weekly or monthly, not "${String(event?.type)}"`);
  const job = `reports-${schedule.type}`;
  const { log, metrics } = powertools(job);
  const result = await runExclusive(
    {
      job,
      ledger,
      log,
      metrics,
      leaseMs: (config.env.analyticsServing.reportsTimeoutMinutes + 5) * 60_000,
      timeZone: config.env.aggregation.timeZone,
      runId: context.awsRequestId,
    },
    () =>
      runReports(
        { sql, ledger, s3, bucket, clock: systemClock, timeZone: config.env.aggregation.timeZone, log },
        { type: schedule.type, period: event?.period, after: schedule.after, graceMinutes: GRACE_MINUTES[schedule.type] },
      ),
  );
  return result.status === 'skipped'
    ? { skipped: true, reason: result.reason }
    : { ...result.outcome.counters, keys: result.outcome.keys, failed: result.outcome.failed };
}
