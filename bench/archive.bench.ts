/**
 * Archive benchmark: N expired conversations × M messages, end to end with the pg driver
 * (Redis SCAN → parse → PostgreSQL → compare-and-delete), against a naive baseline written the
 * way seed 000's worker works (per-key GET, per-message INSERT, per-conversation commit).
 */
import { availableParallelism } from 'node:os';
import { Redis } from 'ioredis';
import { archiveCheckpoints } from '../lambdas/archive/archive';
import { parseSeedCheckpoint } from '../lambdas/archive/layouts/seed';
import { CheckpointStore, connectRedis } from '../lambdas/archive/redis-store';
import { assembleMessages } from '../lambdas/archive/thread';
import { memoryLog } from '../lambdas/shared/observability';
import { deadline } from '../lambdas/shared/runtime';
import type { PgSql } from '../lambdas/shared/sql/pg-driver';
import { getEnvironment } from '../lib/config';
import { HOUR_MS, seedValue, sentence } from '../local/fixtures';
import { cpuPerItem, cpuSnapshot } from './cpu';
import { RssSampler } from './rss';

const PREFIX = 'langgraph:checkpoint:';

async function fill(redis: Redis, conversations: number, messages: number, tag: string): Promise<void> {
  const ts = Math.floor((Date.now() - 23.5 * HOUR_MS) / 1000);
  for (let start = 0; start < conversations; start += 500) {
    const pipe = redis.pipeline();
    for (let i = start; i < Math.min(conversations, start + 500); i++) {
      const id = `${tag}-${i}`;
      const value = seedValue({
        conversationId: id,
        customerId: `cust-${i % 5000}`,
        ts,
        messages: Array.from({ length: messages }, (_, j) => ({
          role: j % 2 ? 'assistant' : 'user',
          content: sentence(i * 31 + j, 14),
          timestamp: ts - 600 + j * 20,
        })),
      });
      pipe.set(`${PREFIX}${id}:${ts}`, value, 'PX', Math.round(0.5 * HOUR_MS));
    }
    await pipe.exec();
  }
}

/** Seed 000's worker, transcribed: SCAN, then per key GET, per message INSERT, per conversation COMMIT, DEL. */
async function naive(sql: PgSql, redis: Redis): Promise<number> {
  let messages = 0;
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  for (const key of keys) {
    const raw = await redis.get(key);
    if (!raw) continue;
    const cp = parseSeedCheckpoint(key, raw, PREFIX);
    const { messages: parsed } = assembleMessages([cp.snapshot], cp.time ?? new Date());
    await sql.transaction(async (tx) => {
      const [conv] = await tx.query<{ id: string }>(
        `INSERT INTO conversations (conversation_key, source, customer_id, started_at) VALUES ($1::text, 'redis_archive', $2::text, now())
         ON CONFLICT (conversation_key) DO UPDATE SET updated_at = now() RETURNING id`,
        [cp.conversationKey, cp.customerId],
      );
      for (const m of parsed) {
        const r = await tx.execute(
          `INSERT INTO messages (conversation_id, message_key, seq, role, content, created_at, source)
           VALUES ($1::uuid, $2::text, $3::int, $4::text, $5::text, $6::timestamptz, 'redis_archive') ON CONFLICT DO NOTHING`,
          [{ sqlType: 'uuid', value: conv?.id }, m.key, m.seq, m.role, m.content, m.createdAt],
        );
        messages += r.rowCount;
      }
    });
    await redis.del(key);
  }
  return messages;
}

export interface ArchiveBenchResult {
  conversations: number;
  messagesPerConversation: number;
  optimized: { seconds: number; messagesPerSecond: number; peakRssMb: number; messages: number };
  /** µs of CPU per archived message, per process (robust to other load on the machine). */
  cpuMicrosPerMessage: ReturnType<typeof cpuPerItem>;
  baseline: { conversations: number; seconds: number; messagesPerSecond: number; messages: number };
  speedup: number;
  /** What PostgreSQL alone allows on every core of this machine (see databaseOnly). */
  databaseOnly: {
    rows: number;
    cores: number;
    microsPerRowPerCore: number;
    ceilingMessagesPerSecond: number;
    ceilingSpeedup: number;
    achievedShare: number;
    /** PostgreSQL's CPU per row in the ceiling's statements (compare with the job's). */
    postgresCpuMicrosPerRow?: number;
  };
}

/**
 * What PostgreSQL alone allows, with no client in the way: the same rows as the archived ones
 * (content, keys, language detection, full text, indexes, foreign key, ON CONFLICT) inserted
 * server-side into new conversations, one `INSERT … SELECT` per core, all at once, each committed.
 * No client, however fast, archives more rows per second on this machine: both paths share it.
 */
async function databaseOnly(sql: PgSql, conversations: number, cores: number): Promise<{ rows: number; seconds: number }> {
  await sql.execute(
    `INSERT INTO conversations (conversation_key, source, customer_id, started_at)
     SELECT 'ceiling:' || conversation_key, source, customer_id, started_at FROM conversations
     WHERE conversation_key LIKE 'opt-%' ORDER BY conversation_key LIMIT $1::int`,
    [conversations],
  );
  await sql.execute(
    `CREATE UNLOGGED TABLE bench_ceiling AS
     SELECT (dense_rank() OVER (ORDER BY c.id)) % $1::int AS part, c.id AS conversation_id, m.message_key, m.seq, m.role,
            m.content, m.created_at, m.input_tokens, m.output_tokens, m.cached_tokens, m.reasoning_tokens, m.model, m.metadata
     FROM conversations c
     JOIN conversations o ON o.conversation_key = substr(c.conversation_key, 9)
     JOIN messages m ON m.conversation_id = o.id
     WHERE c.conversation_key LIKE 'ceiling:%'`,
    [cores],
  );
  const t = performance.now();
  const counts = await Promise.all(
    Array.from({ length: cores }, (_, part) =>
      sql.transaction((tx) =>
        tx.execute(
          `INSERT INTO messages (conversation_id, message_key, seq, role, content, created_at, source,
                                 input_tokens, output_tokens, cached_tokens, reasoning_tokens, model, metadata, language)
           SELECT conversation_id, message_key, seq, role, content, created_at, 'redis_archive',
                  input_tokens, output_tokens, cached_tokens, reasoning_tokens, model, metadata, detect_language(content)
           FROM bench_ceiling WHERE part = $1::int ORDER BY conversation_id, seq
           ON CONFLICT (conversation_id, message_key) DO NOTHING`,
          [part],
        ),
      ),
    ),
  );
  const seconds = (performance.now() - t) / 1000;
  await sql.execute('DROP TABLE bench_ceiling', []);
  return { rows: counts.reduce((a, r) => a + r.rowCount, 0), seconds };
}

export async function benchArchive(
  sql: PgSql,
  redisUrl: string,
  conversations: number,
  perConversation: number,
  baselineConversations: number,
): Promise<ArchiveBenchResult> {
  const env = getEnvironment('dev');
  // The seed's worker and the fixtures use a plain client; the job connects as the Lambda does.
  const redis = new Redis(redisUrl);
  const store = new CheckpointStore(await connectRedis({ url: redisUrl }), env.archive.scanCount);
  await fill(redis, conversations, perConversation, 'opt');
  const cpu0 = await cpuSnapshot(sql, redis);
  const sampler = new RssSampler();
  const t0 = performance.now();
  const out = await archiveCheckpoints(
    { sql, store, log: memoryLog(), deadline: deadline({ budgetMs: 3_600_000 }) },
    { ...env.archive, timeZone: 'Europe/Madrid' },
  );
  const seconds = (performance.now() - t0) / 1000;
  const peak = sampler.stop();
  const cpu1 = await cpuSnapshot(sql, redis);
  await store.quit();
  if (out.counters.checkpoints_archived !== conversations)
    throw new Error(`archived ${out.counters.checkpoints_archived} of ${conversations}`);

  await fill(redis, baselineConversations, perConversation, 'naive');
  const t1 = performance.now();
  const naiveMessages = await naive(sql, redis);
  const naiveSeconds = (performance.now() - t1) / 1000;
  redis.disconnect();
  const cores = availableParallelism();
  const cpu2 = await cpuSnapshot(sql);
  const db = await databaseOnly(sql, Math.min(4_000, conversations), cores);
  const cpu3 = await cpuSnapshot(sql);
  const ceiling = db.rows / db.seconds;
  const rate = out.counters.messages_archived / seconds;
  const naiveRate = naiveMessages / naiveSeconds;
  return {
    conversations,
    messagesPerConversation: perConversation,
    optimized: { seconds, messagesPerSecond: rate, peakRssMb: peak, messages: out.counters.messages_archived },
    cpuMicrosPerMessage: cpuPerItem(cpu0, cpu1, out.counters.messages_archived),
    baseline: { conversations: baselineConversations, seconds: naiveSeconds, messagesPerSecond: naiveRate, messages: naiveMessages },
    speedup: rate / naiveRate,
    databaseOnly: {
      rows: db.rows,
      cores,
      microsPerRowPerCore: (cores * db.seconds * 1e6) / db.rows,
      ceilingMessagesPerSecond: ceiling,
      ceilingSpeedup: ceiling / naiveRate,
      achievedShare: rate / ceiling,
      postgresCpuMicrosPerRow: cpuPerItem(cpu2, cpu3, db.rows).postgres,
    },
  };
}
