import type { Redis } from 'ioredis';
import { type ArchiveSettings, archiveCheckpoints } from '../../lambdas/archive/archive';
import { CheckpointStore, connectRedis } from '../../lambdas/archive/redis-store';
import { memoryLog } from '../../lambdas/shared/observability';
import { deadline } from '../../lambdas/shared/runtime';
import type { PgSql } from '../../lambdas/shared/sql/pg-driver';
import type { Sql } from '../../lambdas/shared/sql/types';
import { getEnvironment } from '../../lib/config';
import { type Running, startRedis } from '../../local/services';

export const settings: ArchiveSettings = {
  ...getEnvironment('dev').archive,
  timeZone: 'Europe/Madrid',
  retryDelayMs: 10,
  batchSize: 50,
};

export async function redisClient(url: string): Promise<Redis> {
  return (await connectRedis({ url })) as Redis;
}

/**
 * A private redis-server for the enclosing describe block, emptied before each test.
 * Returns a getter: the client exists once beforeAll has run.
 */
export function usePrivateRedis(): () => Redis {
  let server: Running;
  let client: Redis;
  beforeAll(async () => {
    server = await startRedis({ forceLocal: true });
    client = await redisClient(server.url);
  });
  afterAll(async () => {
    await client.quit();
    await server.stop();
  });
  beforeEach(async () => {
    await client.flushall();
  });
  return () => client;
}

export async function archiveOnce(sql: Sql, redis: Redis, over: Partial<ArchiveSettings> = {}, store?: CheckpointStore) {
  const log = memoryLog();
  const outcome = await archiveCheckpoints(
    { sql, store: store ?? new CheckpointStore(redis), log, deadline: deadline({ budgetMs: 600_000 }) },
    { ...settings, ...over },
  );
  return { ...outcome, log };
}

/** The archived messages of one conversation, in order. */
export const archivedRows = (direct: PgSql, conversation: string) =>
  direct.query<{ message_key: string; role: string; content: string; metadata: Record<string, unknown>; customer_id: string | null }>(
    `SELECT m.message_key, m.role, m.content, m.metadata, c.customer_id FROM messages m JOIN conversations c ON c.id = m.conversation_id
     WHERE c.conversation_key = $1::text ORDER BY m.created_at, m.seq`,
    [conversation],
  );

/** Every quarantined key, with its reason and whether the stored bytes match their recorded sha256. */
export const quarantineRows = (direct: PgSql) =>
  direct.query<{ redis_key: string; error: string; value_bytes: number | null; stored: number | null; ok: boolean }>(
    `SELECT redis_key, error, value_bytes::int AS value_bytes, octet_length(raw_bytes)::int AS stored,
            encode(sha256(COALESCE(raw_bytes, ''::bytea)), 'hex') = value_sha256 AS ok
     FROM checkpoint_quarantine ORDER BY redis_key`,
  );
