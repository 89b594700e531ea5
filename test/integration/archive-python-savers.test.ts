/**
 * The Python savers of `langgraph-checkpoint-redis`, built from the package's source
 * (test/support/python-saver.ts: ≥ 0.1 full and shallow, ≤ 0.0.8 full and shallow). Real Redis and
 * PostgreSQL, both SQL drivers. Messages are archived exactly when they can be decoded; a thread
 * whose only copy of its messages is a blob the archive cannot decode stays in Redis, quarantined
 * with the reason.
 */
import type { Redis } from 'ioredis';
import { HOUR_MS } from '../../local/fixtures';
import { archivedRows, archiveOnce, quarantineRows, useArchiveWorld } from '../support/archive-harness';
import { DRIVERS, type TestDb } from '../support/db';
import {
  PY_EMPTY_ID,
  type PyCheckpoint,
  putPython,
  pyBlobV008,
  pyFullV01,
  pyFullV008,
  pyMessage,
  pyShallowV01,
  pyShallowV008,
  pyShallowWriteRegistryV01,
  pyVersion,
  pyWritesV01,
} from '../support/python-saver';

const OLD = 23.5 * HOUR_MS;

const human = pyMessage('HumanMessage', { content: 'Quiero cita mañana', id: 'h-1' });
const call = pyMessage('AIMessage', {
  content: '',
  id: 'ai-1',
  tool_calls: [{ name: 'find_slots', args: { day: 'tomorrow' }, id: 'call-1' }],
  usage_metadata: { input_tokens: 120, output_tokens: 15, total_tokens: 135 },
  response_metadata: { model_name: 'gpt-4o-mini' },
});
const tool = pyMessage('ToolMessage', { content: '["10:00"]', tool_call_id: 'call-1', id: 'tool-1', name: 'find_slots' });
const answer = pyMessage('AIMessage', { content: 'A las 10:00.', id: 'ai-2', usage_metadata: { input_tokens: 160, output_tokens: 6 } });

/** The conversation after each of three steps, as LangGraph hands it to the saver. */
function steps(tsMs: number, customer?: unknown): PyCheckpoint[] {
  return [
    { id: '1f0a-0001', tsMs: tsMs - 2_000, values: { messages: [human] }, versions: { messages: pyVersion(2) } },
    { id: '1f0a-0002', tsMs: tsMs - 1_000, values: { messages: [human, call, tool] }, versions: { messages: pyVersion(3) } },
    {
      id: '1f0a-0003',
      tsMs,
      values: { messages: [human, call, tool, answer], ...(customer === undefined ? {} : { customer_id: customer }) },
      versions: { messages: pyVersion(4), ...(customer === undefined ? {} : { customer_id: pyVersion(1) }) },
    },
  ];
}

describe.each(DRIVERS)('the Python savers (built from the package source) through the %s driver', (driver) => {
  let redis: Redis;
  let db: TestDb;
  useArchiveWorld(driver, (w) => ({ redis, db } = w));

  const rows = (conversation: string) => archivedRows(db.direct, conversation);
  const expectConversation = async (conversation: string, customer: string | null) => {
    const got = await rows(conversation);
    expect(got.map((r) => [r.message_key, r.role, r.content])).toEqual([
      ['h-1', 'user', 'Quiero cita mañana'],
      ['ai-1', 'assistant', ''],
      ['tool-1', 'tool', '["10:00"]'],
      ['ai-2', 'assistant', 'A las 10:00.'],
    ]);
    expect(got[1]?.metadata).toEqual({
      tool_calls: [{ name: 'find_slots', args: { day: 'tomorrow' }, id: 'call-1', type: 'tool_call' }],
    });
    expect(new Set(got.map((r) => r.customer_id))).toEqual(new Set([customer]));
  };

  it('≥ 0.1 full saver: every checkpoint archived once, customer from the metadata text, subgraph, pointers and writes removed', async () => {
    const thread = 'wa:msg:py01';
    const cps = steps(Date.now() - OLD);
    const docs = cps.map((checkpoint, i) =>
      pyFullV01({ thread, checkpoint, parentId: cps[i - 1]?.id, metadata: i === 2 ? { customer_id: 'cust-01' } : {} }),
    );
    const sub = pyFullV01({
      thread,
      ns: 'booking:0a1b-task',
      checkpoint: { id: '1f0a-0009', tsMs: Date.now() - OLD, values: { messages: [human] }, versions: { messages: pyVersion(1) } },
    });
    const writes = pyWritesV01({ thread, checkpointId: '1f0a-0003', taskId: 'task-7', channel: 'messages', value: [answer] });
    await putPython(redis, [...docs.map((d) => d.doc), (docs[2] as (typeof docs)[0]).latest, sub.doc, sub.latest, ...writes], OLD);
    expect((await redis.keys('*')).sort()).toEqual(
      [
        'checkpoint:wa:msg:py01:__empty__:1f0a-0001',
        'checkpoint:wa:msg:py01:__empty__:1f0a-0002',
        'checkpoint:wa:msg:py01:__empty__:1f0a-0003',
        'checkpoint:wa:msg:py01:booking:0a1b-task:1f0a-0009',
        'checkpoint_latest:wa:msg:py01:__empty__',
        'checkpoint_latest:wa:msg:py01:booking:0a1b-task',
        'checkpoint_write:wa:msg:py01:__empty__:1f0a-0003:task-7:0',
        'write_keys_zset:wa:msg:py01::1f0a-0003',
      ].sort(),
    );
    const out = await archiveOnce(db.sql, redis);
    expect(out.counters).toMatchObject({ checkpoints_archived: 1, messages_archived: 4, checkpoints_malformed: 0, messages_invalid: 0 });
    await expectConversation(thread, 'cust-01');
    expect(await redis.keys('*')).toEqual([]);
  });

  it('≥ 0.1 shallow saver: `checkpoint:{thread}:` per customer, each filed under its own conversation; companions removed', async () => {
    const now = Date.now() - OLD;
    const a = pyShallowV01({ thread: 'wa:msg:AAA', checkpoint: steps(now)[2] as PyCheckpoint, metadata: { customer_id: 'cust-A' } });
    const b = pyShallowV01({
      thread: 'wa:msg:BBB',
      checkpoint: {
        id: '1f0b-0001',
        tsMs: now,
        values: { messages: [pyMessage('HumanMessage', { content: 'soy B', id: 'b-1' })] },
        versions: {},
      },
    });
    const sub = pyShallowV01({
      thread: 'wa:msg:AAA',
      ns: 'booking:0a1b-task',
      checkpoint: { id: '1f0a-0009', tsMs: now, values: { messages: [human] }, versions: {} },
    });
    const writes = pyWritesV01({ thread: 'wa:msg:AAA', checkpointId: '1f0a-0003', taskId: 'task-7', channel: 'messages', value: [] });
    const write = writes[0] as { key: string; value: string };
    await putPython(redis, [a, b, sub, write, pyShallowWriteRegistryV01('wa:msg:AAA', '', [write.key])], OLD);
    expect(a.key).toBe('checkpoint:wa:msg:AAA:');
    const out = await archiveOnce(db.sql, redis);
    expect(out.counters).toMatchObject({ checkpoints_archived: 2, messages_archived: 5, checkpoints_malformed: 0 });
    await expectConversation('wa:msg:AAA', 'cust-A');
    expect((await rows('wa:msg:BBB')).map((r) => [r.content, r.customer_id])).toEqual([['soy B', null]]);
    // v0.1.0 … 0.3.x's shallow write registry is not a key family the archive reads (nor its ACL allows):
    // it lists write keys only, and expires with the saver's TTL.
    expect(await redis.keys('*')).toEqual(['write_registry:wa:msg:AAA::shallow']);
  });

  it('≤ 0.0.8 full saver: documents keyed by the parent id, values inline, json blobs read and removed', async () => {
    const thread = 'wa:msg:py008';
    const cps = steps(Date.now() - OLD, 12345);
    const saved = cps.map((checkpoint, i) => pyFullV008({ thread, checkpoint, configId: cps[i - 1]?.id }));
    const keys = saved.flatMap((s) => [s.doc, ...s.blobs]);
    await putPython(redis, keys, OLD);
    expect(saved.map((s) => s.doc.key)).toEqual([
      `checkpoint:${thread}:__empty__:${PY_EMPTY_ID}`,
      `checkpoint:${thread}:__empty__:1f0a-0001`,
      `checkpoint:${thread}:__empty__:1f0a-0002`,
    ]);
    // a shallow thread of the same release: raw namespace in the key and the document, blobs under `__empty__`
    const shallow = pyShallowV008({ thread: 'wa:msg:s008', checkpoint: steps(Date.now() - OLD, 'cust-s')[2] as PyCheckpoint });
    await putPython(redis, [shallow.doc, ...shallow.blobs], OLD);
    expect(shallow.blobs.map((b) => b.key)).toContain(`checkpoint_blob:wa:msg:s008:__empty__:customer_id:${pyVersion(1)}`);
    const out = await archiveOnce(db.sql, redis);
    expect(out.counters).toMatchObject({ checkpoints_archived: 2, messages_archived: 8, checkpoints_malformed: 0 });
    await expectConversation(thread, '12345');
    await expectConversation('wa:msg:s008', 'cust-s');
    expect(await redis.keys('*')).toEqual([]);
  });

  it('≤ 0.0.8, messages only in a blob: a json blob is archived; a blob that cannot be decoded keeps the thread, quarantined with the reason', async () => {
    const tsMs = Date.now() - OLD;
    // Not what the saver writes (it keeps the values inline as well): documents whose only copy is the blob.
    const readable = pyFullV008({
      thread: 'wa:msg:blob-ok',
      checkpoint: steps(tsMs, 777)[2] as PyCheckpoint,
      dropInline: ['messages', 'customer_id'],
    });
    const version = pyVersion(4);
    const unreadable = pyFullV008({
      thread: 'wa:msg:blob-bytes',
      checkpoint: { id: '1f0c-0001', tsMs, values: { messages: [human] }, versions: { messages: version } },
      dropInline: ['messages'],
    });
    // ≤ 0.0.8 stores a bytes value as type "base64": readable bytes, but no list of messages
    const bytesBlob = pyBlobV008({ thread: 'wa:msg:blob-bytes', channel: 'messages', version, bytes: Buffer.from([0x91, 0xa1, 0x78]) });
    await putPython(redis, [readable.doc, ...readable.blobs, unreadable.doc, bytesBlob], OLD);
    const out = await archiveOnce(db.sql, redis);
    expect(out.counters).toMatchObject({ checkpoints_archived: 1, checkpoints_blocked: 1, messages_archived: 4 });
    await expectConversation('wa:msg:blob-ok', '777');
    expect(await rows('wa:msg:blob-bytes')).toEqual([]);
    expect((await redis.keys('*')).sort()).toEqual([unreadable.doc.key, bytesBlob.key].sort());
    const q = await quarantineRows(db.direct);
    expect(q.map((r) => r.redis_key).sort()).toEqual([unreadable.doc.key, bytesBlob.key].sort());
    expect(q.find((r) => r.redis_key === bytesBlob.key)).toMatchObject({
      error: 'Channel blob of type base64 cannot be decoded here',
      value_bytes: Buffer.byteLength(bytesBlob.value),
      ok: true,
    });
  });
});
