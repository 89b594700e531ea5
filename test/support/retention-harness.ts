import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { type ColdStore, S3ColdStore, s3Client } from '../../lambdas/retention/cold-store';
import type { RetentionSettings } from '../../lambdas/retention/report';
import { applyRetention, type RetentionInput } from '../../lambdas/retention/retention';
import { memoryLog } from '../../lambdas/shared/observability';
import { deadline } from '../../lambdas/shared/runtime';
import { SqlError } from '../../lambdas/shared/sql/errors';
import type { Sql, SqlExecutor, SqlParam } from '../../lambdas/shared/sql/types';
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

export function run(
  sql: Sql,
  store: ColdStore,
  input: RetentionInput = {},
  over: Partial<RetentionSettings> = {},
  budgetMs = 600_000,
  now: Date = NOW,
) {
  const log = memoryLog();
  const at = { now: () => now };
  return applyRetention(
    { sql, store, log, deadline: deadline({ budgetMs }, 0), clock: at, runId: `test-run-${randomUUID()}` },
    settings(over),
    input,
  ).then((outcome) => ({ outcome, log }));
}

/**
 * `sql` whose object transactions lose their connection at the delete when `fail(n)` says so (n counts
 * the deletes): the object is uploaded and verified, nothing committed — an interrupted run.
 */
export function failingAtDelete(sql: Sql, fail: (n: number) => boolean): Sql {
  let n = 0;
  const wrap = (tx: SqlExecutor): SqlExecutor =>
    Object.create(tx, {
      query: {
        value: (text: string, params?: readonly SqlParam[]) => {
          if (text.includes('WITH d AS (DELETE') && fail(++n))
            return Promise.reject(new SqlError('Connection terminated unexpectedly', 'DELETE'));
          return tx.query(text, params);
        },
      },
    });
  return Object.create(sql, {
    transaction: { value: <T>(fn: (tx: SqlExecutor) => Promise<T>) => sql.transaction((tx) => fn(wrap(tx))) },
  });
}

/** `real` with its upload replaced (the other calls go through): a slow, refusing or counting store. */
export function withUpload(real: ColdStore, upload: ColdStore['upload']): ColdStore {
  return {
    bucket: real.bucket,
    head: (k) => real.head(k),
    reader: (k, n) => real.reader(k, n),
    list: (p) => real.list(p),
    removeAllVersions: (k) => real.removeAllVersions(k),
    upload,
  };
}

/** Waits until a statement matching `like` waits on a lock in this database (what the reproductions waited for). */
export async function waitForLockWait(db: { direct: Sql }, like: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const [r] = await db.direct.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1::text`,
      [like],
    );
    if ((r?.n ?? 0) > 0) return;
    if (Date.now() > until) throw new Error(`no statement like ${like} waited on a lock within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Runs `fn` with the environment the CLI's retention and restore read (DATABASE_URL, the cold bucket
 * on an s3rver at `s3Url`), restored afterwards.
 */
export async function withCliEnv<T>(databaseUrl: string, s3Url: string, fn: () => Promise<T>, bucket = BUCKET): Promise<T> {
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    COLD_BUCKET: bucket,
    S3_ENDPOINT: s3Url,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
  };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
}
