import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { archiveCheckpoints, runArchive } from '../../lambdas/archive/archive';
import { CheckpointStore, connectRedis } from '../../lambdas/archive/redis-store';
import { FileRunLedger } from '../../lambdas/shared/ledger/file';
import { loadMigrations, migrate } from '../../lambdas/shared/migrate';
import { memoryLog, memoryMetrics } from '../../lambdas/shared/observability';
import { deadline } from '../../lambdas/shared/runtime';
import { PgSql } from '../../lambdas/shared/sql/pg-driver';
import type { Sql } from '../../lambdas/shared/sql/types';
import { HOUR_MS, putWithAge, seedValue } from '../../local/fixtures';
import { startPgProcess } from '../../local/pg-process';
import { createDatabase } from '../../local/services';
import { archiveOnce, settings, usePrivateRedis } from '../support/archive-harness';
import { MIGRATIONS_DIR, testDb } from '../support/db';

const PREFIX = 'langgraph:checkpoint:';

async function seedConversations(redis: Redis, n: number, messages = 3): Promise<void> {
  for (let i = 0; i < n; i++) {
    const id = `conv-${String(i).padStart(3, '0')}`;
    const value = seedValue({
      conversationId: id,
      customerId: `cust-${i}`,
      ts: Math.floor((Date.now() - 23.5 * HOUR_MS) / 1000),
      messages: Array.from({ length: messages }, (_, j) => ({
        role: j % 2 ? 'assistant' : 'user',
        content: `${id} message ${j}`,
        timestamp: 1_761_000_000 + j,
      })),
    });
    await putWithAge(redis, `${PREFIX}${id}:1`, value, 23.5 * HOUR_MS);
  }
}

describe('archive job when things go wrong', () => {
  const client = usePrivateRedis();
  let redis: Redis;
  beforeEach(() => {
    redis = client();
  });

  it('PostgreSQL stopped mid-run: one error — the run stops at once (no retry, no further batch, no quarantine write into the dead database) and is recorded as failed; no key deleted whose messages are not committed; the next run completes without duplicates', async () => {
    // Prepare: a private PostgreSQL we can stop, 20 conversations, batches of 5, seed 000's 5 s between attempts
    const server = await startPgProcess();
    const db = await createDatabase(server.url, 'stop');
    const sql = new PgSql({ connectionString: db.url });
    await migrate(sql, loadMigrations(MIGRATIONS_DIR));
    await seedConversations(redis, 20);
    let transactions = 0;
    let afterStop = 0;
    const stopping: Sql = Object.assign(Object.create(Object.getPrototypeOf(sql)), sql, {
      transaction: async <T>(fn: Parameters<Sql['transaction']>[0]) => {
        if (++transactions === 3) await server.halt(); // the database goes away before the 3rd batch
        if (transactions >= 3) afterStop++;
        return sql.transaction(fn) as Promise<T>;
      },
    });
    const ledger = new FileRunLedger(join(mkdtempSync(join(tmpdir(), 'dlc-arch-')), 'ledger.json'));
    const log = memoryLog();
    const sleeps: number[] = [];
    try {
      // Act 1
      const run = runArchive(
        {
          sql: stopping,
          store: new CheckpointStore(redis),
          log,
          metrics: memoryMetrics(),
          ledger,
          leaseMs: 60_000,
          deadline: deadline({ budgetMs: 60_000 }),
          sleep: async (ms) => {
            sleeps.push(ms);
          },
        },
        { ...settings, batchSize: 5, retryDelayMs: 5_000 },
      );
      await expect(run).rejects.toThrow(/^Database unreachable \(.+\): the run stopped at once/);
      // Assess 1: one error, said once; no retry, no conversation blamed, nothing quarantined into the dead database
      expect(sleeps).toEqual([]);
      expect(afterStop).toBeLessThanOrEqual(2); // the batch that met the stop, and at most the one in flight beside it
      expect(log.lines.filter((l) => l.level === 'error')).toEqual([
        {
          level: 'error',
          message: 'archive run failed',
          extra: expect.objectContaining({ error: expect.stringMatching(/^Database unreachable \(.+\): the run stopped at once/) }),
        },
      ]);
      expect(log.lines.filter((l) => l.level === 'warn' || /Completed|Failed to archive|quarantine/.test(l.message))).toEqual([]);
      // recorded as failed in the run ledger, with what it did before
      const failed = await ledger.lastRun('archive');
      expect(failed).toMatchObject({
        status: 'unhealthy',
        errors: 1,
        workRemaining: true,
        error: expect.stringMatching(/^Database unreachable/),
        counters: expect.objectContaining({ conversations_failed: 0, quarantine_failed: 0 }),
      });
      const archived = failed?.counters.checkpoints_archived ?? -1;
      expect(archived).toBeGreaterThanOrEqual(5);
      expect(archived).toBeLessThan(20);
      const left = (await redis.keys(`${PREFIX}*`)).sort();
      expect(left).toHaveLength(20 - archived);
      await server.resume();
      const fresh = new PgSql({ connectionString: db.url });
      const committed = await fresh.query<{ conversation_id: string }>(
        'SELECT DISTINCT conversation_id FROM conversation_history ORDER BY 1',
      );
      // every key that left Redis has its messages committed, and no committed key is still in Redis
      const committedIds = committed.map((r) => r.conversation_id);
      expect(committedIds).toHaveLength(archived);
      for (const id of committedIds) expect(left).not.toContain(`${PREFIX}${id}:1`);
      expect(await fresh.query('SELECT redis_key FROM checkpoint_quarantine')).toEqual([]);
      // Act 2
      const next = await archiveOnce(fresh, redis, { batchSize: 5 });
      // Assess 2
      expect(next.counters).toMatchObject({
        checkpoints_archived: 20 - archived,
        conversations_failed: 0,
        messages_archived: 3 * (20 - archived),
      });
      const [totals] = await fresh.query<{ n: number; distinct_keys: number }>(
        'SELECT count(*) AS n, count(DISTINCT (conversation_id, message_key)) AS distinct_keys FROM messages',
      );
      expect(totals).toEqual({ n: 60, distinct_keys: 60 });
      expect(await redis.keys(`${PREFIX}*`)).toEqual([]);
      await fresh.close();
    } finally {
      await sql.close().catch(() => undefined);
      await server.resume();
      await db.stop();
      await server.stop();
    }
  });

  it('a key that changes type while it is read (WRONGTYPE, soak issue 24; randomized seed 854436) fails nothing: it stays in Redis, counted; the others are archived', async () => {
    const db = await testDb('pg');
    try {
      await seedConversations(redis, 3);
      // The app turned conv-001's key into a hash. The archive reads it: GET says WRONGTYPE, TYPE says
      // zset (it was one at that instant), and by the ZRANGE it is a hash again — an interleaving made
      // deterministic by answering TYPE as it stood a moment earlier.
      const retyped = `${PREFIX}conv-001:1`;
      await redis.del(retyped);
      await redis.hset(retyped, 'f', 'v');
      const raced = new Proxy(redis, {
        get(target, prop, receiver) {
          if (prop === 'type')
            return async (key: string) => (key === retyped ? 'zset' : (target.type as (k: string) => Promise<string>)(key));
          const v = Reflect.get(target, prop, receiver);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
      const out = await archiveOnce(db.sql, redis, {}, new CheckpointStore(raced));
      expect(out.counters).toMatchObject({ checkpoints_archived: 2 });
      expect(await redis.type(retyped)).toBe('hash'); // kept
      const archived = await db.direct.query<{ k: string }>('SELECT conversation_key AS k FROM conversations ORDER BY 1');
      expect(archived).toEqual([{ k: 'conv-000' }, { k: 'conv-002' }]);
      expect(out.log.lines.some((l) => JSON.stringify(l).includes('changed type while it was read'))).toBe(true);
    } finally {
      await db.close();
    }
  });

  it('a conversation that keeps failing is skipped and stays in Redis; the others are archived', async () => {
    const db = await testDb('pg');
    try {
      await seedConversations(redis, 4);
      // conv-002 violates a constraint: its content is too long for a unique key? No: make its key invalid.
      await putWithAge(
        redis,
        `${PREFIX}bad-key:1`,
        seedValue({
          conversationId: 'x'.repeat(600),
          ts: Math.floor((Date.now() - 23.5 * HOUR_MS) / 1000),
          messages: [{ role: 'user', content: 'hi' }],
        }),
        23.5 * HOUR_MS,
      );
      const out = await archiveOnce(db.sql, redis);
      expect(out.counters).toMatchObject({ checkpoints_archived: 4, conversations_failed: 1 });
      expect(out.errors).toBe(1);
      expect(await redis.keys(`${PREFIX}*`)).toEqual([`${PREFIX}bad-key:1`]);
      expect(out.log.lines.some((l) => l.message === `Failed to archive ${'x'.repeat(600)} after retry, skipping`)).toBe(true);
      // and PostgreSQL holds its raw checkpoint before Redis expires it (issue 13, defect 6)
      const q = await db.direct.query<{ redis_key: string }>('SELECT redis_key FROM checkpoint_quarantine');
      expect(q).toEqual([{ redis_key: `${PREFIX}bad-key:1` }]);
    } finally {
      await db.close();
    }
  });

  it('one run at a time: a second concurrent invocation exits cleanly; the health record is written', async () => {
    const db = await testDb('pg');
    try {
      await seedConversations(redis, 30);
      const ledger = new FileRunLedger(join(mkdtempSync(join(tmpdir(), 'dlc-arch-')), 'ledger.json'));
      const deps = () => ({
        sql: db.sql,
        store: new CheckpointStore(redis),
        log: memoryLog(),
        metrics: memoryMetrics(),
        ledger,
        leaseMs: 60_000,
        deadline: deadline({ budgetMs: 60_000 }),
      });
      const [a, b] = await Promise.all([runArchive(deps(), settings), runArchive(deps(), settings)]);
      expect([a.status, b.status].sort()).toEqual(['completed', 'skipped']);
      const [n] = await db.direct.query<{ c: number }>('SELECT count(*) AS c FROM messages');
      expect(n?.c).toBe(90);
      const last = await ledger.lastRun('archive');
      expect(last).toMatchObject({
        status: 'healthy',
        errors: 0,
        counters: expect.objectContaining({ checkpoints_archived: 30, messages_archived: 90 }),
      });
    } finally {
      await db.close();
    }
  });

  it('Redis stops answering mid-run: the run fails and is recorded with what it did; no key deleted whose messages are not committed; the next run completes without duplicates', async () => {
    // Prepare: 20 conversations, batches of 5; Redis refuses writes (CLIENT PAUSE) from the 2nd batch on
    const db = await testDb('pg');
    const store = new CheckpointStore(await connectRedis({ url: `redis://127.0.0.1:${redis.options.port}`, commandTimeoutMs: 300 }));
    try {
      await seedConversations(redis, 20);
      let transactions = 0;
      const pausing: Sql = Object.assign(Object.create(Object.getPrototypeOf(db.sql)), db.sql, {
        transaction: async <T>(fn: Parameters<Sql['transaction']>[0]) => {
          if (++transactions === 2) await redis.call('CLIENT', 'PAUSE', '10000', 'WRITE');
          return db.sql.transaction(fn) as Promise<T>;
        },
      });
      const ledger = new FileRunLedger(join(mkdtempSync(join(tmpdir(), 'dlc-arch-')), 'ledger.json'));
      const deps = (sql: Sql) => ({
        sql,
        store,
        log: memoryLog(),
        metrics: memoryMetrics(),
        ledger,
        leaseMs: 60_000,
        deadline: deadline({ budgetMs: 60_000 }),
      });
      // Act 1
      await expect(runArchive(deps(pausing), { ...settings, batchSize: 5 })).rejects.toThrow(/timed out/i);
      await redis.call('CLIENT', 'UNPAUSE');
      // Assess 1: recorded as unhealthy, with the committed work counted; the lock is free
      const failed = await ledger.lastRun('archive');
      expect(failed).toMatchObject({ status: 'unhealthy', workRemaining: true, error: expect.stringMatching(/timed out/i) });
      expect(failed?.counters.messages_archived).toBeGreaterThanOrEqual(15);
      expect(failed?.errors).toBeGreaterThanOrEqual(1);
      const committed = (
        await db.direct.query<{ conversation_id: string }>('SELECT DISTINCT conversation_id FROM conversation_history')
      ).map((r) => r.conversation_id);
      const left = await redis.keys(`${PREFIX}*`);
      for (let i = 0; i < 20; i++) {
        const id = `conv-${String(i).padStart(3, '0')}`;
        if (!left.includes(`${PREFIX}${id}:1`)) expect(committed).toContain(id);
      }
      // Act 2
      const next = await runArchive(deps(db.sql), settings);
      // Assess 2
      expect(next.status).toBe('completed');
      const [totals] = await db.direct.query<{ n: number; distinct_keys: number }>(
        'SELECT count(*) AS n, count(DISTINCT (conversation_id, message_key)) AS distinct_keys FROM messages',
      );
      expect(totals).toEqual({ n: 60, distinct_keys: 60 });
      expect(await redis.keys(`${PREFIX}*`)).toEqual([]);
      expect(await ledger.lastRun('archive')).toMatchObject({ status: 'healthy' });
    } finally {
      await redis.call('CLIENT', 'UNPAUSE');
      await store.quit();
      await db.close();
    }
  });

  it('stops taking conversations before the deadline and reports that work remains', async () => {
    const db = await testDb('pg');
    try {
      await seedConversations(redis, 12);
      let calls = 0;
      const budget = { remainingMs: () => 1_000, shouldStop: () => ++calls > 2 };
      const log = memoryLog();
      const out = await archiveCheckpoints(
        { sql: db.sql, store: new CheckpointStore(redis), log, deadline: budget },
        { ...settings, batchSize: 4 },
      );
      expect(out.workRemaining).toBe(true);
      expect(out.counters.checkpoints_archived).toBe(8);
      expect(await redis.keys(`${PREFIX}*`)).toHaveLength(4);
      const [n] = await db.direct.query<{ c: number }>('SELECT count(*) AS c FROM messages');
      expect(n?.c).toBe(24); // whole conversations only
    } finally {
      await db.close();
    }
  });
});
