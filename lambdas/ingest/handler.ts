/**
 * Ingest Lambda: SQS → analytics_events, with Powertools' BatchProcessor and partial batch
 * responses (ReportBatchItemFailures). Thin: wiring only (lambdas/ingest/sqs.ts does the work).
 * Not inside runExclusive: many batches run at once by design (no lock, no ledger record); its
 * health is the queue's DLQ, the rejected-events metric and the Lambda's errors.
 */
import type { Context, SQSEvent } from 'aws-lambda';
import { retentionDaysOf } from '../../lib/config';
import { createSql, loadRuntimeConfig } from '../shared/deps';
import { powertools } from '../shared/observability';
import { systemClock } from '../shared/runtime';
import { DEFAULT_RULES } from './event';
import { processSqsBatch } from './sqs';

const config = loadRuntimeConfig();
const { log, metrics } = powertools('ingest');
const sql = createSql(config.sql);
const rules = { ...DEFAULT_RULES, retentionDays: retentionDaysOf(config.env.retention, 'analytics_events') };

export async function handler(event: SQSEvent, context: Context) {
  const { response } = await processSqsBatch(
    { sql, clock: systemClock, log, metrics, rules, source: 'sqs', timeZone: config.env.aggregation.timeZone },
    event,
    context,
  );
  metrics.flush();
  return response;
}
