/**
 * Archive benchmark: N expired conversations × M messages, end to end with the pg driver
 * (Redis SCAN → parse → PostgreSQL → compare-and-delete), against a naive baseline written the
 * way seed 000's worker works (per-key GET, per-message INSERT, per-conversation commit).
 */
import type { Redis } from 'ioredis';
import { archiveCheckpoints } from '../lambdas/archive/archive';
import { parseSeedCheckpoint } from '../lambdas/archive/parse';
import { CheckpointStore } from '../lambdas/archive/redis-store';
import { memoryLog } from '../lambdas/shared/observability';
import { deadline } from '../lambdas/shared/runtime';
import type { PgSql } from '../lambdas/shared/sql/pg-driver';
import { getEnvironment } from '../lib/config';
import { HOUR_MS, seedValue, sentence } from '../local/fixtures';
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
    await sql.transaction(async (tx) => {
      const [conv] = await tx.query<{ id: string }>(
        `INSERT INTO conversations (conversation_key, source, customer_id, started_at) VALUES ($1::text, 'redis_archive', $2::text, now())
         ON CONFLICT (conversation_key) DO UPDATE SET updated_at = now() RETURNING id`,
        [cp.conversationKey, cp.customerId],
      );
      for (const m of cp.messages) {
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
  baseline: { conversations: number; seconds: number; messagesPerSecond: number; messages: number };
  speedup: number;
}

export async function benchArchive(
  sql: PgSql,
  redis: Redis,
  conversations: number,
  perConversation: number,
  baselineConversations: number,
): Promise<ArchiveBenchResult> {
  const env = getEnvironment('dev');
  await fill(redis, conversations, perConversation, 'opt');
  const sampler = new RssSampler();
  const t0 = performance.now();
  const out = await archiveCheckpoints(
    { sql, store: new CheckpointStore(redis, 1000), log: memoryLog(), deadline: deadline({ budgetMs: 3_600_000 }) },
    { ...env.archive, timeZone: 'Europe/Madrid' },
  );
  const seconds = (performance.now() - t0) / 1000;
  const peak = sampler.stop();
  if (out.counters.checkpoints_archived !== conversations)
    throw new Error(`archived ${out.counters.checkpoints_archived} of ${conversations}`);

  await fill(redis, baselineConversations, perConversation, 'naive');
  const t1 = performance.now();
  const naiveMessages = await naive(sql, redis);
  const naiveSeconds = (performance.now() - t1) / 1000;
  const rate = out.counters.messages_archived / seconds;
  const naiveRate = naiveMessages / naiveSeconds;
  return {
    conversations,
    messagesPerConversation: perConversation,
    optimized: { seconds, messagesPerSecond: rate, peakRssMb: peak, messages: out.counters.messages_archived },
    baseline: { conversations: baselineConversations, seconds: naiveSeconds, messagesPerSecond: naiveRate, messages: naiveMessages },
    speedup: rate / naiveRate,
  };
}
