import type { Redis } from 'ioredis';
import { archiveAccessString } from '../../lambdas/archive/acl';
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
 * The archive user's rules as `ACL SETUSER` arguments. This redis-server has no RedisJSON module,
 * so it does not know `json.get` (Valkey on ElastiCache does): that one rule is left out here.
 */
export const archiveAclRules = (password: string) => [
  ...archiveAccessString()
    .split(' ')
    .filter((r) => r !== '+json.get'),
  `>${password}`,
];

/** The client the archive connects with, per test client: logged in as the archive's ACL user. */
const archiveUserOf = new WeakMap<Redis, Redis>();

/**
 * A private redis-server for the enclosing describe block, emptied before each test.
 * Returns a getter: the client exists once beforeAll has run. The getter's client is an
 * administrator (tests write whatever they like with it); `archiveOnce` runs the archive as the
 * user the Lambda has — exactly the ACL generated from its command list — so every archive test
 * also checks that the ACL lets the job do its work.
 */
export function usePrivateRedis(): () => Redis {
  let server: Running;
  let client: Redis;
  let archiveUser: Redis;
  beforeAll(async () => {
    server = await startRedis({ forceLocal: true });
    client = await redisClient(server.url);
    await client.call('ACL', 'SETUSER', 'archive-job', 'reset', ...archiveAclRules('archive-job-secret'));
    const url = new URL(server.url);
    url.username = 'archive-job';
    url.password = 'archive-job-secret';
    archiveUser = await redisClient(url.toString());
    archiveUserOf.set(client, archiveUser);
  });
  afterAll(async () => {
    await archiveUser.quit();
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
    { sql, store: store ?? new CheckpointStore(archiveUserOf.get(redis) ?? redis), log, deadline: deadline({ budgetMs: 600_000 }) },
    { ...settings, ...over },
  );
  return { ...outcome, log };
}
