import type { Redis } from 'ioredis';
import { type ArchiveSettings, archiveCheckpoints } from '../../lambdas/archive/archive';
import { CheckpointStore, connectRedis } from '../../lambdas/archive/redis-store';
import { memoryLog } from '../../lambdas/shared/observability';
import { deadline } from '../../lambdas/shared/runtime';
import type { Sql } from '../../lambdas/shared/sql/types';
import { getEnvironment } from '../../lib/config';

export const settings: ArchiveSettings = {
  ...getEnvironment('dev').archive,
  timeZone: 'Europe/Madrid',
  retryDelayMs: 10,
  batchSize: 50,
};

export async function redisClient(url: string): Promise<Redis> {
  return (await connectRedis({ url })) as Redis;
}

export async function archiveOnce(sql: Sql, redis: Redis, over: Partial<ArchiveSettings> = {}, store?: CheckpointStore) {
  const log = memoryLog();
  const outcome = await archiveCheckpoints(
    { sql, store: store ?? new CheckpointStore(redis), log, deadline: deadline({ budgetMs: 600_000 }) },
    { ...settings, ...over },
  );
  return { ...outcome, log };
}
