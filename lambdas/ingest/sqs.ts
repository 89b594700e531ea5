/** The SQS batch → partial batch response, with Powertools' BatchProcessor (testable without the Lambda wiring). */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { type IngestDeps, type IngestResult, ingest } from './ingest';

export async function processSqsBatch(
  deps: IngestDeps,
  event: SQSEvent,
  context?: Context,
): Promise<{ response: SQSBatchResponse; result: IngestResult }> {
  const result = await ingest(
    { ...deps, source: deps.source ?? 'sqs' },
    event.Records.map((r) => ({ recordId: r.messageId, body: r.body })),
  );
  const failed = new Set(result.failedRecordIds);
  const processor = new BatchProcessor(EventType.SQS);
  const response = await processPartialResponse(
    event,
    async (record: SQSRecord) => {
      if (failed.has(record.messageId))
        throw new Error(`the database refused the events of message ${record.messageId}: ${result.errors[0] ?? ''}`);
    },
    processor,
    { context, throwOnFullBatchFailure: false },
  );
  return { response: response as SQSBatchResponse, result };
}
