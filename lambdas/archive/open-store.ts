/** A checkpoint store from the runtime's Redis settings: a URL locally, ElastiCache Serverless with an IAM token in AWS. */
import type { RedisConfig } from '../shared/deps';
import { elastiCacheIamToken } from './elasticache-iam';
import { CheckpointStore, connectRedis } from './redis-store';

/** A fresh connection (the IAM token lives 15 minutes): open one per invocation. */
export async function openCheckpointStore(redis: RedisConfig, scanCount?: number): Promise<CheckpointStore> {
  if (redis.kind === 'url') return new CheckpointStore(await connectRedis({ url: redis.url }), scanCount);
  const { host, port, cacheName, user, region } = redis;
  const client = await connectRedis({
    clusterEndpoint: { host, port },
    username: user,
    password: () => elastiCacheIamToken({ cacheName, userId: user, region, serverless: true }),
  });
  return new CheckpointStore(client, scanCount);
}
