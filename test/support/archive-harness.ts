import type { Redis } from 'ioredis';
import { archiveAccessString } from '../../lambdas/archive/acl';
import { type ArchiveSettings, archiveCheckpoints } from '../../lambdas/archive/archive';
import { CheckpointStore, connectRedis } from '../../lambdas/archive/redis-store';
import { memoryLog } from '../../lambdas/shared/observability';
import { deadline } from '../../lambdas/shared/runtime';
import type { PgSql } from '../../lambdas/shared/sql/pg-driver';
import type { Sql } from '../../lambdas/shared/sql/types';
import { getEnvironment } from '../../lib/config';
import { type Running, startRedis } from '../../local/services';
import { type DriverName, type TestDb, testDb } from './db';

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

/**
 * What every archive suite starts from: a private Redis (`usePrivateRedis`, flushed before each test)
 * and a fresh test database per test through `driver`, closed after it. `use` receives both before
 * each test (suites keep their own `redis` and `db` names).
 */
export function useArchiveWorld(driver: DriverName, use: (world: { redis: Redis; db: TestDb }) => void): void {
  const client = usePrivateRedis();
  let db: TestDb | undefined;
  beforeEach(async () => {
    db = await testDb(driver);
    use({ redis: client(), db });
  });
  afterEach(async () => {
    await db?.close();
    db = undefined;
  });
}

export async function archiveOnce(sql: Sql, redis: Redis, over: Partial<ArchiveSettings> = {}, store?: CheckpointStore) {
  const log = memoryLog();
  const outcome = await archiveCheckpoints(
    { sql, store: store ?? new CheckpointStore(archiveUserOf.get(redis) ?? redis), log, deadline: deadline({ budgetMs: 600_000 }) },
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
