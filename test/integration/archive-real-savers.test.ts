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
import { archivedRows, quarantineRows, settings, useArchiveWorld } from '../support/archive-harness';
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

  /**
   * A Redis restart between the saver's writes of one step can leave a checkpoint whose declared
   * messages blob is absent (the soak's K). Two turns of the real graph: turn 1's last step and
   * turn 2's input declare the same messages version, kept in a blob; turn 2's steps hold their
   * lists inline. That blob gone, the later lists hold every message (the channel accumulates):
   * the thread is archived whole, the two incomplete documents kept in quarantine. The newest
   * checkpoint's blob gone, nothing later holds its messages: the thread stays, every key quarantined.
   */
  describe('a checkpoint whose declared messages blob is absent', () => {
    const run = async () => {
      const later = new Date(Date.now() + 24 * 3_600_000);
      return archiveCheckpoints(
        {
          sql: db.sql,
          store: new CheckpointStore(redis),
          log: memoryLog(),
          deadline: deadline({ budgetMs: 60_000 }),
          clock: { now: () => later },
        },
        settings,
      );
    };
    /** The root namespace's documents that keep their messages in a blob: key, version, and whether the blob is there. */
    const blobDeclarants = async (thread: string) => {
      const docs = (await redis.keys(`checkpoint:${thread}::*`)).sort();
      const out: { key: string; blob: string }[] = [];
      for (const key of docs) {
        const d = JSON.parse((await redis.get(key)) as string);
        const v = d.checkpoint.channel_versions.messages;
        if (v !== undefined && !('messages' in d.checkpoint.channel_values))
          out.push({ key, blob: `checkpoint_blob:${thread}::messages:${v}` });
      }
      return out;
    };

    it('superseded by a later checkpoint of the thread: archived whole, the incomplete documents quarantined', async () => {
      // Prepare
      const thread = 'wa:msg:blob-gone-1';
      const state = await runRealConversation(redis, 'full', thread, 2);
      const declarants = await blobDeclarants(thread);
      const newest = declarants[declarants.length - 1] as { blob: string };
      const older = declarants.filter((d) => d.blob !== newest.blob);
      expect(older).toHaveLength(2); // turn 1's last step and turn 2's input
      expect(new Set(older.map((d) => d.blob)).size).toBe(1);
      expect(await redis.del((older[0] as { blob: string }).blob)).toBe(1);
      // Act
      const out = await run();
      // Assess
      expect(out.counters).toMatchObject({ checkpoints_archived: 1, checkpoints_blocked: 0, checkpoints_superseded_incomplete: 2 });
      expect(state.messages).toHaveLength(8); // per turn: the question, the tool call, its result, the answer
      expect((await archivedRows(db.direct, thread)).map((r) => [r.message_key, r.content])).toEqual(
        state.messages.map((m: BaseMessage) => [m.id, m.text]),
      );
      expect(await redis.keys('*')).toEqual([]);
      const q = await quarantineRows(db.direct);
      expect(q.map((r) => r.redis_key).sort()).toEqual(older.map((d) => d.key).sort());
      for (const r of q) {
        expect(r.ok).toBe(true);
        expect(r.error).toMatch(
          /^Declared messages blob checkpoint_blob:wa:msg:blob-gone-1::messages:\S+ absent; superseded by checkpoint:wa:msg:blob-gone-1::/,
        );
      }
      // Once archived, a second run finds nothing of the thread.
      expect((await run()).counters).toMatchObject({ checkpoints_examined: 0 });
    });

    it('a later branch from an earlier checkpoint does not supersede it: the thread stays', async () => {
      // Prepare: one turn, then a branch from the checkpoint before its last (its list inline).
      const thread = 'wa:msg:blob-gone-3';
      await runRealConversation(redis, 'full', thread, 1, true);
      const declarants = await blobDeclarants(thread);
      expect(declarants).toHaveLength(1); // the last step of the turn
      const branch = (await redis.keys(`checkpoint:${thread}::*`)).map((k) => k.split('::')[1] as string).sort();
      expect(branch.length).toBeGreaterThan(0);
      expect(await redis.del((declarants[0] as { blob: string }).blob)).toBe(1);
      // Act
      const out = await run();
      // Assess: had any later readable checkpoint counted, the thread would have gone
      expect(out.counters).toMatchObject({ checkpoints_archived: 0, checkpoints_blocked: 1, checkpoints_superseded_incomplete: 0 });
      expect(await archivedRows(db.direct, thread)).toEqual([]);
    });

    it("the newest checkpoint's: nothing later holds its messages, so the thread stays in Redis, quarantined", async () => {
      // Prepare
      const thread = 'wa:msg:blob-gone-2';
      await runRealConversation(redis, 'full', thread, 2);
      const declarants = await blobDeclarants(thread);
      const newest = declarants[declarants.length - 1] as { blob: string };
      expect(await redis.del(newest.blob)).toBe(1);
      const before = (await redis.keys('*')).sort();
      // Act
      const out = await run();
      // Assess
      expect(out.counters).toMatchObject({ checkpoints_archived: 0, checkpoints_blocked: 1, checkpoints_superseded_incomplete: 0 });
      expect(await archivedRows(db.direct, thread)).toEqual([]);
      expect((await redis.keys('*')).sort()).toEqual(before);
      const q = await quarantineRows(db.direct);
      expect(q.map((r) => r.redis_key).sort()).toEqual(before);
      expect(q.every((r) => r.ok && r.error.includes('1 declared message blob(s) absent'))).toBe(true);
    });
  });
});
