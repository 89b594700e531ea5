import type { Redis } from 'ioredis';
import { type ArchiveSettings, archiveCheckpoints } from '../../lambdas/archive/archive';
import { CheckpointStore, connectRedis } from '../../lambdas/archive/redis-store';
import { memoryLog } from '../../lambdas/shared/observability';
import { deadline } from '../../lambdas/shared/runtime';
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
