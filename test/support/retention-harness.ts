import type { S3Client } from '@aws-sdk/client-s3';
import { type ColdStore, S3ColdStore, s3Client } from '../../lambdas/retention/cold-store';
import { applyRetention, type RetentionInput, type RetentionSettings } from '../../lambdas/retention/retention';
import { memoryLog } from '../../lambdas/shared/observability';
import { deadline } from '../../lambdas/shared/runtime';
import type { Sql } from '../../lambdas/shared/sql/types';
import { RETENTION_POLICIES } from '../../lib/config';
import { startS3 } from '../../local/services';

export const BUCKET = 'cold';
export const NOW = new Date('2026-11-22T09:00:00.000Z');
export const clock = { now: () => NOW };

export const settings = (over: Partial<RetentionSettings> = {}): RetentionSettings => ({
  timeZone: 'Europe/Madrid',
  maxRowsPerObject: 250_000,
  rowGroupRows: 1_000,
  policies: RETENTION_POLICIES,
  ...over,
});

export async function s3(): Promise<{ url: string; client: S3Client; store: ColdStore; stop(): Promise<void> }> {
  const server = await startS3([BUCKET]);
  const client = s3Client(server.url, { credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, region: 'us-east-1' });
  return { url: server.url, client, store: new S3ColdStore(client, BUCKET), stop: server.stop };
}

export function run(sql: Sql, store: ColdStore, input: RetentionInput = {}, over: Partial<RetentionSettings> = {}, budgetMs = 600_000) {
  const log = memoryLog();
  return applyRetention({ sql, store, log, deadline: deadline({ budgetMs }, 0), clock, runId: 'test-run' }, settings(over), input).then(
    (outcome) => ({ outcome, log }),
  );
}
