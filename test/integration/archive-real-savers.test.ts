/**
 * Fixtures made by the real libraries: a real StateGraph run with the real JS RedisSaver and
 * ShallowRedisSaver (test/support/real-savers.ts). After the archive, the rows in PostgreSQL are
 * the graph's own state: roles, contents, order, tool calls, tokens, model; the subgraph's
 * namespace (`booking:<task id>`) files under the thread; nothing of the thread is left in Redis.
 */
import type { BaseMessage } from '@langchain/core/messages';
import type { Redis } from 'ioredis';
import { archiveCheckpoints } from '../../lambdas/archive/archive';
import { CheckpointStore } from '../../lambdas/archive/redis-store';
import { memoryLog } from '../../lambdas/shared/observability';
import { deadline } from '../../lambdas/shared/runtime';
import { settings, useArchiveWorld } from '../support/archive-harness';
import { DRIVERS, type TestDb } from '../support/db';
import { runRealConversation, type SaverKind } from '../support/real-savers';

const ROLE: Record<string, string> = { human: 'user', ai: 'assistant', tool: 'tool', system: 'system' };

describe.each(DRIVERS)('the real LangGraph savers through the %s driver', (driver) => {
  let redis: Redis;
  let db: TestDb;
  useArchiveWorld(driver, (w) => ({ redis, db } = w));

  it.each<SaverKind>(['full', 'shallow'])('%s saver: rows equal graph.getState(), subgraph namespace included', async (kind) => {
    // Prepare
    const thread = `wa:msg:${kind}-1`;
    const state = await runRealConversation(redis, kind, thread);
    const keys = await redis.keys('*');
    expect(keys.some((k) => /^checkpoint:wa:msg:[a-z]+-1:booking:[^:]+/.test(k))).toBe(true); // the subgraph namespace has a colon
    expect(Math.min(...(await Promise.all(keys.map((k) => redis.pttl(k)))))).toBeGreaterThan(23 * 3_600_000); // TTLs kept
    if (kind === 'full') {
      // the last step wrote only customer_id: its checkpoint carries no messages inline (they are in a blob)
      const root = keys.filter((k) => k.startsWith(`checkpoint:${thread}::`)).sort();
      const last = JSON.parse((await redis.get(root[root.length - 1] as string)) as string);
      expect(Object.keys(last.checkpoint.channel_values)).toEqual(['customer_id']);
    }
    // Act: a day later
    const later = new Date(Date.now() + 24 * 3_600_000);
    const log = memoryLog();
    const out = await archiveCheckpoints(
      { sql: db.sql, store: new CheckpointStore(redis), log, deadline: deadline({ budgetMs: 60_000 }), clock: { now: () => later } },
      settings,
    );
    // Assess
    expect(out.counters).toMatchObject({ checkpoints_archived: 1, checkpoints_malformed: 0, conversations_failed: 0 });
    const rows = await db.direct.query<{
      role: string;
      content: string;
      input_tokens: number;
      output_tokens: number;
      cached_tokens: number;
      reasoning_tokens: number;
      model: string | null;
      tool_calls: unknown;
      message_key: string;
      customer_id: string | null;
    }>(
      `SELECT m.role, m.content, m.input_tokens, m.output_tokens, m.cached_tokens, m.reasoning_tokens, m.model,
              m.metadata -> 'tool_calls' AS tool_calls, m.message_key, c.customer_id
       FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.conversation_key = $1::text ORDER BY m.created_at, m.seq, m.id`,
      [thread],
    );
    const expected = state.messages.map((m: BaseMessage) => {
      const usage = (m as { usage_metadata?: Record<string, number & Record<string, number>> }).usage_metadata;
      const tc = (m as { tool_calls?: unknown[] }).tool_calls;
      return {
        role: ROLE[m.getType()],
        content: m.text,
        input_tokens: usage?.input_tokens ?? 0,
        output_tokens: usage?.output_tokens ?? 0,
        cached_tokens: (usage?.input_token_details as Record<string, number> | undefined)?.cache_read ?? 0,
        reasoning_tokens: (usage?.output_token_details as Record<string, number> | undefined)?.reasoning ?? 0,
        model: ((m.response_metadata as Record<string, unknown> | undefined)?.model_name as string | undefined) ?? null,
        tool_calls: tc && tc.length > 0 ? tc : null,
        message_key: m.id,
        customer_id: state.customerId ?? null,
      };
    });
    expect(state.messages).toHaveLength(4); // the question, the tool call, its result, the subgraph’s answer
    expect(state.customerId).toBe(`cust-${thread}`);
    expect(rows).toEqual(expected);
    expect(await redis.keys('*')).toEqual([]);
  });
});
