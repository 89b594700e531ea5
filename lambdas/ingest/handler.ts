/**
 * Ingest Lambda: SQS → analytics_events, with Powertools' BatchProcessor and partial batch
 * responses (ReportBatchItemFailures). Thin: the whole batch goes through `ingest` (one statement
 * per chunk of records); the records whose chunk the database refused are reported as failures.
 * Not inside runExclusive: many batches run at once by design (no lock, no ledger record); its
 * health is the queue's DLQ, the rejected-events metric and the Lambda's errors.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { createSql, loadRuntimeConfig } from '../shared/deps';
import { powertools } from '../shared/observability';
import { systemClock } from '../shared/runtime';
import { DEFAULT_RULES } from './event';
import { ingest } from './ingest';

const config = loadRuntimeConfig();
const { log, metrics } = powertools('ingest');
const sql = createSql(config.sql);
const rules = { ...DEFAULT_RULES, retentionDays: config.env.retention.rawEventsDays };
const processor = new BatchProcessor(EventType.SQS);

export async function handler(event: SQSEvent, context: Context) {
  const result = await ingest(
    { sql, clock: systemClock, log, metrics, rules, source: 'sqs' },
    event.Records.map((r) => ({ recordId: r.messageId, body: r.body })),
  );
  metrics.flush();
  const failed = new Set(result.failedRecordIds);
  return processPartialResponse(
    event,
    async (record: SQSRecord) => {
      if (failed.has(record.messageId)) throw new Error(`database refused the events of message ${record.messageId}: ${result.errors[0] ?? ''}`);
    },
    processor,
    { context },
  );
}
