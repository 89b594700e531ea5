/**
 * Issue 13: one test per way a checkpoint could still be lost or misfiled, named after the defect.
 * Real Redis and PostgreSQL, both SQL drivers. Saver documents are written as the savers write
 * them (see layouts/ for the sources); test/integration/archive-real-savers.test.ts runs the
 * real JS savers themselves.
 */
import type { Redis } from 'ioredis';
import { CheckpointStore } from '../../lambdas/archive/redis-store';
import { HOUR_MS, lc, putWithAge, seedValue } from '../../local/fixtures';
import { archivedRows, archiveOnce, quarantineRows, useArchiveWorld } from '../support/archive-harness';
import { DRIVERS, type TestDb } from '../support/db';
import { type PyKey, putPython, pyFullV008, pyMessage, pyShallowV01, pyVersion } from '../support/python-saver';

const OLD = 23.5 * HOUR_MS;
const old = () => Date.now() - OLD;

/** A JS saver document: raw namespace in the key, `__empty__` in the document. */
function jsDoc(o: {
  thread: string;
  ns?: string;
  id: string;
  tsMs: number;
  values?: Record<string, unknown>;
  versions?: Record<string, string>;
  metadata?: Record<string, unknown>;
}) {
  return JSON.stringify({
    thread_id: o.thread,
    checkpoint_ns: o.ns ? o.ns : '__empty__',
    checkpoint_id: o.id,
    parent_checkpoint_id: null,
    checkpoint: {
      v: 4,
      id: o.id,
      ts: new Date(o.tsMs).toISOString(),
      channel_values: o.values ?? {},
      channel_versions: o.versions ?? {},
      versions_seen: {},
    },
    metadata: { source: 'loop', step: 1, ...(o.metadata ?? {}) },
    checkpoint_ts: o.tsMs,
    has_writes: 'false',
  });
}
const jsBlob = (thread: string, ns: string, channel: string, version: string, value: unknown) =>
  JSON.stringify({ thread_id: thread, checkpoint_ns: ns || '__empty__', checkpoint_id: 'x', channel, version, type: 'json', value });

describe.each(DRIVERS)('issue 13 defects through the %s driver', (driver) => {
  let redis: Redis;
  let db: TestDb;
  useArchiveWorld(driver, (w) => ({ redis, db } = w));

  const rows = (conversation: string) => archivedRows(db.direct, conversation);
  const quarantined = () => quarantineRows(db.direct);

  it('defect 1: JS saver blob fallback — messages read from the blob the JS saver really writes (raw namespace, `value`)', async () => {
    const t = old();
    await putWithAge(
      redis,
      'checkpoint:T1::cp-1',
      jsDoc({
        thread: 'T1',
        id: 'cp-1',
        tsMs: t - 1000,
        values: { messages: [lc('HumanMessage', { content: 'hola', id: 'h' })] },
        versions: { messages: '2' },
      }),
      OLD,
    );
    await putWithAge(
      redis,
      'checkpoint:T1::cp-2',
      jsDoc({ thread: 'T1', id: 'cp-2', tsMs: t, values: { step: 3 }, versions: { messages: '3', step: '3' } }),
      OLD,
    );
    await putWithAge(
      redis,
      'checkpoint_blob:T1::messages:2',
      jsBlob('T1', '', 'messages', '2', [lc('HumanMessage', { content: 'hola', id: 'h' })]),
      OLD,
    );
    await putWithAge(
      redis,
      'checkpoint_blob:T1::messages:3',
      jsBlob('T1', '', 'messages', '3', [
        lc('HumanMessage', { content: 'hola', id: 'h' }),
        lc('AIMessage', { content: 'buenas', id: 'a' }),
      ]),
      OLD,
    );
    const out = await archiveOnce(db.sql, redis);
    expect(out.counters).toMatchObject({ checkpoints_archived: 1, messages_archived: 2 });
    expect((await rows('T1')).map((r) => r.content)).toEqual(['hola', 'buenas']);
    expect(await redis.keys('*')).toEqual([]);
  });

  it('defect 2: a blob found but undecodable (msgpack) keeps the thread in Redis and the blob is quarantined', async () => {
    // A Python ≤ 0.0.8 document whose only copy of the messages is its blob (the saver also writes them
    // inline; here they are dropped), the blob of a type the archive cannot decode. No Python release
    // writes msgpack blobs (≤ 0.0.8: json, base64, empty): this stands for any undecodable blob.
    const { doc, blobs } = pyFullV008({
      thread: 'T2',
      configId: 'cp-0',
      checkpoint: { id: 'cp-1', tsMs: old(), values: { messages: [] }, versions: { messages: pyVersion(4) } },
      dropInline: ['messages'],
    });
    const blobKey = (blobs[0] as PyKey).key;
    const blob = JSON.stringify({ ...JSON.parse((blobs[0] as { value: string }).value), type: 'msgpack', blob: 'kZOkaGVsbG8=' });
    await putPython(redis, [doc, { key: blobKey, value: blob }], OLD);
    const out = await archiveOnce(db.sql, redis);
    expect(out.counters).toMatchObject({ checkpoints_archived: 0, checkpoints_blocked: 1, messages_archived: 0 });
    expect((await redis.keys('*')).sort()).toEqual([doc.key, blobKey].sort());
    const q = await quarantined();
    expect(q.map((r) => r.redis_key).sort()).toEqual([doc.key, blobKey].sort());
    expect(q.find((r) => r.redis_key === blobKey)).toMatchObject({
      error: 'Channel blob of type msgpack cannot be decoded here',
      value_bytes: Buffer.byteLength(blob),
      stored: Buffer.byteLength(blob),
      ok: true,
    });
  });

  it('defect 3: namespaces with colons — a subgraph document files under its thread, and an active thread keeps its subgraph checkpoints', async () => {
    const t = old();
    const h = lc('HumanMessage', { content: 'reserva', id: 'h3' });
    const a = lc('AIMessage', { content: 'hecho', id: 'a3' });
    await putWithAge(
      redis,
      'checkpoint:T3::cp-1',
      jsDoc({ thread: 'T3', id: 'cp-1', tsMs: t - 10, values: { messages: [h] }, versions: { messages: '1' } }),
      OLD,
    );
    await putWithAge(
      redis,
      'checkpoint:T3:booking:task-9:cp-2',
      jsDoc({ thread: 'T3', ns: 'booking:task-9', id: 'cp-2', tsMs: t, values: { messages: [h, a] }, versions: { messages: '2' } }),
      OLD,
    );
    await putWithAge(redis, 'checkpoint_blob:T3:booking:task-9:messages:2', jsBlob('T3', 'booking:task-9', 'messages', '2', [h, a]), OLD);
    // an active thread: an old subgraph document, a fresh root one
    await putWithAge(
      redis,
      'checkpoint:L3:booking:task-1:cp-1',
      jsDoc({ thread: 'L3', ns: 'booking:task-1', id: 'cp-1', tsMs: t, values: { messages: [h] } }),
      OLD,
    );
    await putWithAge(
      redis,
      'checkpoint:L3::cp-2',
      jsDoc({ thread: 'L3', id: 'cp-2', tsMs: Date.now() - HOUR_MS, values: { messages: [h] } }),
      HOUR_MS,
    );
    const out = await archiveOnce(db.sql, redis);
    expect(out.counters).toMatchObject({ checkpoints_archived: 1, checkpoints_fresh: 1 });
    expect((await rows('T3')).map((r) => r.content)).toEqual(['reserva', 'hecho']);
    expect(await rows('T3:booking')).toEqual([]);
    expect((await redis.keys('*')).sort()).toEqual(['checkpoint:L3::cp-2', 'checkpoint:L3:booking:task-1:cp-1']);
  });

  it('defect 4: shallow savers — one document per thread, each customer under their own conversation; a thread id without colons is archived', async () => {
    const shallow = (thread: string, content: string, ns = '') =>
      JSON.stringify({
        thread_id: thread,
        checkpoint_ns: ns,
        checkpoint_id: `cp-${thread}`,
        checkpoint: {
          v: 4,
          ts: new Date(old()).toISOString(),
          channel_values: { messages: [lc('HumanMessage', { content, id: `${thread}-h` })] },
          channel_versions: { messages: '2' },
        },
        metadata: {},
        checkpoint_ts: old(),
      });
    // The Python shallow saver's keys, `checkpoint:{thread}:{raw ns}` (test/support/python-saver.ts):
    // grouping by key segments filed C's messages under D.
    const python = (thread: string, content: string) =>
      pyShallowV01({
        thread,
        checkpoint: {
          id: `cp-${thread}`,
          tsMs: old(),
          values: { messages: [pyMessage('HumanMessage', { content, id: `${thread}-h` })] },
          versions: { messages: pyVersion(2) },
        },
      });
    await putWithAge(redis, 'checkpoint:wa:msg:AAA::shallow', shallow('wa:msg:AAA', 'soy A'), OLD);
    await putWithAge(redis, 'checkpoint:wa:msg:BBB::shallow', shallow('wa:msg:BBB', 'soy B'), OLD);
    await putPython(redis, [python('solo', 'soy solo'), python('wa:msg:CCC', 'soy C'), python('wa:msg:DDD', 'soy D')], OLD);
    const out = await archiveOnce(db.sql, redis);
    expect(out.counters).toMatchObject({ checkpoints_archived: 5, messages_archived: 5 });
    expect((await rows('wa:msg:AAA')).map((r) => r.content)).toEqual(['soy A']);
    expect((await rows('wa:msg:BBB')).map((r) => r.content)).toEqual(['soy B']);
    expect((await rows('wa:msg:CCC')).map((r) => r.content)).toEqual(['soy C']);
    expect((await rows('wa:msg:DDD')).map((r) => r.content)).toEqual(['soy D']);
    expect((await rows('solo')).map((r) => r.content)).toEqual(['soy solo']);
    expect(await redis.keys('*')).toEqual([]);
  });

  it('defect 5: one junk key (a NUL byte; over 4 MiB) is quarantined as bytes and stops nothing', async () => {
    const nul = Buffer.from('{"v":1,"data":\u0000"x"}');
    await redis.set('langgraph:checkpoint:junk-nul:1', nul, 'PX', HOUR_MS);
    const big = Buffer.alloc(4_700_000, 0x61);
    big[0] = 0xff; // not even UTF-8
    await redis.set('langgraph:checkpoint:junk-big:1', big, 'PX', HOUR_MS);
    await putWithAge(
      redis,
      'langgraph:checkpoint:fine:1',
      seedValue({ conversationId: 'fine', messages: [{ role: 'user', content: 'ok' }], ts: Math.floor(old() / 1000) }),
      OLD,
    );
    const out = await archiveOnce(db.sql, redis);
    expect(out.counters).toMatchObject({ checkpoints_archived: 1, checkpoints_malformed: 2, quarantine_failed: 0 });
    const q = await quarantined();
    expect(q.map((r) => [r.redis_key, r.value_bytes, r.stored, r.ok])).toEqual([
      ['langgraph:checkpoint:junk-big:1', big.length, big.length, true],
      ['langgraph:checkpoint:junk-nul:1', nul.length, nul.length, true],
    ]);
    const [bytes] = await db.direct.query<{ same: boolean }>(
      "SELECT raw_bytes = decode($1::text, 'base64') AS same FROM checkpoint_quarantine WHERE redis_key = 'langgraph:checkpoint:junk-nul:1'",
      [nul.toString('base64')],
    );
    expect(bytes?.same).toBe(true);
    expect(await redis.exists('langgraph:checkpoint:junk-nul:1', 'langgraph:checkpoint:junk-big:1')).toBe(2);
  });

  it('defect 6: NUL, a lone surrogate and a 4.5 MB tool output are written (losslessly), not skipped', async () => {
    const huge = 'x'.repeat(4_500_000);
    const messages = [
      lc('HumanMessage', { content: 'a\u0000b', id: 'nul' }),
      lc('AIMessage', { content: 'half \ud83d pair', id: 'sur' }),
      lc('ToolMessage', { content: huge, id: 'big', tool_call_id: 'c1' }),
    ];
    await putWithAge(redis, 'checkpoint:T6::cp', jsDoc({ thread: 'T6', id: 'cp', tsMs: old(), values: { messages } }), OLD);
    const out = await archiveOnce(db.sql, redis);
    expect(out.counters).toMatchObject({ checkpoints_archived: 1, messages_archived: 3, conversations_failed: 0 });
    const r = await db.direct.query<{ message_key: string; content: string; len: number; original: string | null }>(
      `SELECT m.message_key, left(m.content, 20) AS content, length(m.content)::int AS len, m.metadata ->> 'original_json' AS original
       FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.conversation_key = 'T6' ORDER BY m.seq`,
    );
    expect(r.map((x) => [x.message_key, x.content, x.len])).toEqual([
      ['nul', 'a\uFFFDb', 3],
      ['sur', 'half \uFFFD pair', 11],
      ['big', 'x'.repeat(20), 4_500_000],
    ]);
    expect((JSON.parse(r[0]?.original as string) as { content: string }).content).toBe('a\u0000b');
    expect((JSON.parse(r[1]?.original as string) as { content: string }).content).toBe('half \ud83d pair');
  });

  it('defect 7: live state — a pointer rewritten during the run (the user resumed) keeps the whole thread', async () => {
    const t = old();
    await putWithAge(
      redis,
      'checkpoint:T7:__empty__:cp-1',
      jsDoc({ thread: 'T7', id: 'cp-1', tsMs: t, values: { messages: [lc('HumanMessage', { content: 'hi', id: 'h' })] } }),
      OLD,
    );
    await putWithAge(redis, 'checkpoint_latest:T7:__empty__', 'checkpoint:T7:__empty__:cp-1', OLD);
    const store = new CheckpointStore(redis);
    const read = store.read.bind(store);
    let calls = 0;
    store.read = async (keys) => {
      const entries = await read(keys);
      if (++calls === 2) await redis.set('checkpoint_latest:T7:__empty__', 'checkpoint:T7:__empty__:cp-2'); // the app resumes
      return entries;
    };
    const out = await archiveOnce(db.sql, redis, {}, store);
    expect(out.counters).toMatchObject({ checkpoints_archived: 0, checkpoints_changed: 1, keys_deleted: 0 });
    expect(await redis.get('checkpoint_latest:T7:__empty__')).toBe('checkpoint:T7:__empty__:cp-2');
    expect(await redis.exists('checkpoint:T7:__empty__:cp-1')).toBe(1);
  });

  it('defect 8: an unparseable newest document keeps an active thread; a key of an unexpected type is counted and quarantined', async () => {
    await putWithAge(
      redis,
      'checkpoint:T8::cp-1',
      jsDoc({ thread: 'T8', id: 'cp-1', tsMs: old(), values: { messages: [lc('HumanMessage', { content: 'hi', id: 'h' })] } }),
      OLD,
    );
    await putWithAge(redis, 'checkpoint:T8::cp-2', '{"thread_id":"T8","checkpoint":', HOUR_MS);
    await redis.hset('checkpoint:T8::cp-3', 'field', 'value');
    const out = await archiveOnce(db.sql, redis);
    expect(out.counters).toMatchObject({ checkpoints_archived: 0, checkpoints_fresh: 1, checkpoints_malformed: 2 });
    expect((await redis.keys('*')).sort()).toEqual(['checkpoint:T8::cp-1', 'checkpoint:T8::cp-2', 'checkpoint:T8::cp-3']);
    expect((await quarantined()).map((r) => [r.redis_key, r.error])).toEqual([
      ['checkpoint:T8::cp-2', expect.stringMatching(/^Checkpoint document is not valid JSON \(31 bytes, fault at character 31\)$/)],
      ['checkpoint:T8::cp-3', 'Unreadable checkpoint document (a key of type hash)'],
    ]);
  });

  it('defect 9: id-less messages keep one key across checkpoints of different times', async () => {
    const msgs = [
      { role: 'user', content: 'hola' },
      { role: 'assistant', content: 'hola' },
      { role: 'user', content: 'hola' },
    ];
    await putWithAge(
      redis,
      'langgraph:checkpoint:c9:1',
      seedValue({ conversationId: 'c9', messages: msgs.slice(0, 2), ts: Math.floor((old() - 60_000) / 1000) }),
      OLD,
    );
    await putWithAge(
      redis,
      'langgraph:checkpoint:c9:2',
      seedValue({ conversationId: 'c9', messages: msgs, ts: Math.floor(old() / 1000) }),
      OLD,
    );
    await archiveOnce(db.sql, redis, { batchSize: 1 });
    expect((await rows('c9')).map((r) => `${r.role}:${r.content}`).sort()).toEqual(['assistant:hola', 'user:hola', 'user:hola']);
  });

  it('defect 10: the newest version wins (the earlier one kept in metadata); two messages under one id are both kept and counted', async () => {
    const t = old();
    const v1 = [lc('HumanMessage', { content: '¿cita?', id: 'h' }), lc('AIMessage', { content: 'Procesando…', id: 'a' })];
    const v2 = [
      lc('HumanMessage', { content: '¿cita?', id: 'h' }),
      lc('AIMessage', { content: 'Tu cita es el martes a las 10:00', id: 'a' }),
      lc('HumanMessage', { content: 'otra', id: 'h' }),
    ];
    await putWithAge(redis, 'checkpoint:T10::cp-1', jsDoc({ thread: 'T10', id: 'cp-1', tsMs: t - 1000, values: { messages: v1 } }), OLD);
    await putWithAge(redis, 'checkpoint:T10::cp-2', jsDoc({ thread: 'T10', id: 'cp-2', tsMs: t, values: { messages: v2 } }), OLD);
    const out = await archiveOnce(db.sql, redis);
    expect(out.counters).toMatchObject({ messages_archived: 3, messages_id_conflicts: 1 });
    const r = await rows('T10');
    expect(r.map((x) => [x.message_key, x.content])).toEqual([
      ['h', '¿cita?'],
      ['a', 'Tu cita es el martes a las 10:00'],
      ['h~1', 'otra'],
    ]);
    expect(r[1]?.metadata.previous_versions).toEqual([{ content: 'Procesando…', at: new Date(t - 1000).toISOString() }]);
    // a later run with a newer version updates the row and keeps the one it replaces
    const v3 = [v2[0], lc('AIMessage', { content: 'Tu cita es el miércoles', id: 'a' })];
    await putWithAge(redis, 'checkpoint:T10::cp-3', jsDoc({ thread: 'T10', id: 'cp-3', tsMs: t + 1000, values: { messages: v3 } }), OLD);
    const again = await archiveOnce(db.sql, redis);
    expect(again.counters).toMatchObject({ messages_archived: 0, messages_updated: 1 });
    const after = await rows('T10');
    expect(after[1]?.content).toBe('Tu cita es el miércoles');
    const previous = (after[1]?.metadata.previous_versions ?? []) as { content: string }[];
    expect(previous.map((p) => p.content)).toContain('Tu cita es el martes a las 10:00');
  });

  it('defect 11: non-text content parts and additional_kwargs (legacy function_call) are kept', async () => {
    const messages = [
      lc('HumanMessage', {
        content: [
          { type: 'text', text: 'mira' },
          { type: 'image_url', image_url: { url: 'https://x/y.png' } },
        ],
        id: 'h',
      }),
      lc('AIMessage', { content: '', id: 'a', additional_kwargs: { function_call: { name: 'book', arguments: '{"day":"tue"}' } } }),
    ];
    await putWithAge(redis, 'checkpoint:T11::cp', jsDoc({ thread: 'T11', id: 'cp', tsMs: old(), values: { messages } }), OLD);
    await archiveOnce(db.sql, redis);
    const r = await rows('T11');
    expect(r[0]?.metadata.content_parts).toEqual([
      { type: 'text', text: 'mira' },
      { type: 'image_url', image_url: { url: 'https://x/y.png' } },
    ]);
    expect(r[1]?.metadata.additional_kwargs).toEqual({ function_call: { name: 'book', arguments: '{"day":"tue"}' } });
  });

  it('defect 12: a batch holding two checkpoints of one conversation is written at the first attempt', async () => {
    const m = [
      { role: 'user', content: 'a', id: 'm1' },
      { role: 'assistant', content: 'b', id: 'm2' },
    ];
    await putWithAge(
      redis,
      'langgraph:checkpoint:c12:1',
      seedValue({ conversationId: 'c12', messages: m.slice(0, 1), ts: Math.floor((old() - 1000) / 1000) }),
      OLD,
    );
    await putWithAge(
      redis,
      'langgraph:checkpoint:c12:2',
      seedValue({ conversationId: 'c12', messages: m, ts: Math.floor(old() / 1000) }),
      OLD,
    );
    const out = await archiveOnce(db.sql, redis);
    expect(out.log.lines.filter((l) => l.message.startsWith('Archive write failed'))).toEqual([]);
    expect(out.counters).toMatchObject({ checkpoints_archived: 2, messages_archived: 2 });
  });

  it('defect 13: blobs of channels whose names contain colons leave with their thread', async () => {
    await putWithAge(
      redis,
      'checkpoint:T13::cp',
      jsDoc({
        thread: 'T13',
        id: 'cp',
        tsMs: old(),
        values: { messages: [lc('HumanMessage', { content: 'x', id: 'h' })] },
        versions: { 'branch:to:bot': '2' },
      }),
      OLD,
    );
    await putWithAge(redis, 'checkpoint_blob:T13::branch:to:bot:2', jsBlob('T13', '', 'branch:to:bot', '2', null), OLD);
    await putWithAge(redis, 'checkpoint_blob:T13::messages:1', jsBlob('T13', '', 'messages', '1', []), OLD);
    const out = await archiveOnce(db.sql, redis);
    expect(out.counters.keys_orphaned).toBe(0);
    expect(await redis.keys('*')).toEqual([]);
  });

  it('defect 14: a channel kept only in a blob (customer_id) is read', async () => {
    await putWithAge(
      redis,
      'checkpoint:T14::cp',
      jsDoc({
        thread: 'T14',
        id: 'cp',
        tsMs: old(),
        values: { messages: [lc('HumanMessage', { content: 'x', id: 'h' })] },
        versions: { messages: '3', customer_id: '2' },
      }),
      OLD,
    );
    await putWithAge(redis, 'checkpoint_blob:T14::customer_id:2', jsBlob('T14', '', 'customer_id', '2', 'cust-14'), OLD);
    await archiveOnce(db.sql, redis);
    expect((await rows('T14')).map((r) => r.customer_id)).toEqual(['cust-14']);
  });

  it("defect 15: multi-part text is joined as LangChain's message.text joins it (nothing between)", async () => {
    const content = [
      { type: 'text', text: 'Hola, ' },
      { type: 'text', text: 'quiero cita.' },
    ];
    await putWithAge(
      redis,
      'checkpoint:T15::cp',
      jsDoc({ thread: 'T15', id: 'cp', tsMs: old(), values: { messages: [lc('HumanMessage', { content, id: 'h' })] } }),
      OLD,
    );
    await archiveOnce(db.sql, redis);
    expect((await rows('T15')).map((r) => r.content)).toEqual(['Hola, quiero cita.']);
  });
});
