import type { Redis } from 'ioredis';
import { CheckpointStore } from '../../lambdas/archive/redis-store';
import { HOUR_MS, lc, putWithAge, saverDoc, seedValue } from '../../local/fixtures';
import { archiveOnce, useArchiveWorld } from '../support/archive-harness';
import { DRIVERS, type TestDb } from '../support/db';
import { putPython, pyFullV01, pyMessage, pyVersion, pyWritesV01 } from '../support/python-saver';

const PREFIX = 'langgraph:checkpoint:';
const secondsAgo = (ms: number) => Math.floor((Date.now() - ms) / 1000);

describe.each(DRIVERS)('archive job through the %s driver (real Redis and PostgreSQL)', (driver) => {
  let redis: Redis;
  let db: TestDb;
  useArchiveWorld(driver, (w) => ({ redis, db } = w));

  const history = (id: string) =>
    db.direct.query<{ customer_id: string | null; message_role: string; message_content: string }>(
      'SELECT customer_id, message_role, message_content FROM conversation_history WHERE conversation_id = $1::text ORDER BY timestamp, id',
      [id],
    );

  it("behaves like seed 000's worker: 24 h and 23.5 h archived, 1 h kept; ids with colons; NULL customer; summary; invalid messages", async () => {
    // Prepare
    const msgs = (n: string) => [
      { role: 'human', content: `hola ${n}`, timestamp: '2025-10-27T10:00:00+01:00' },
      { role: 'ai', content: `buenos días ${n}`, timestamp: '2025-10-27T10:00:05+01:00' },
    ];
    await putWithAge(
      redis,
      `${PREFIX}wa-msg-24h:1698765432`,
      seedValue({ conversationId: 'wa-msg-24h', customerId: 'cust-1', messages: msgs('a'), ts: secondsAgo(24 * HOUR_MS - 60_000) }),
      24 * HOUR_MS - 60_000,
    );
    await putWithAge(
      redis,
      `${PREFIX}wa:msg:colon:1698765433`,
      seedValue({
        conversationId: 'wa:msg:colon',
        messages: msgs('b'),
        summary: 'El cliente quiere una cita.',
        ts: secondsAgo(23.5 * HOUR_MS),
      }),
      23.5 * HOUR_MS,
    );
    await putWithAge(
      redis,
      `${PREFIX}wa-msg-1h:1698765434`,
      seedValue({ conversationId: 'wa-msg-1h', customerId: 'cust-3', messages: msgs('c'), ts: secondsAgo(HOUR_MS) }),
      HOUR_MS,
    );
    await putWithAge(
      redis,
      `${PREFIX}wa-msg-invalid:1698765435`,
      seedValue({
        conversationId: 'wa-msg-invalid',
        customerId: 'cust-4',
        ts: secondsAgo(23.2 * HOUR_MS),
        messages: [
          { role: 'user', content: 'ok' },
          { role: 'martian', content: 'x' },
          'junk' as never,
          { role: 'assistant', content: { nested: true } },
          { role: 'assistant', content: 'vale' },
        ],
      }),
      23.2 * HOUR_MS,
    );
    // Act
    const out = await archiveOnce(db.sql, redis);
    // Assess
    expect(out.counters).toMatchObject({
      checkpoints_fresh: 1,
      checkpoints_expired: 3,
      checkpoints_archived: 3,
      messages_archived: 7,
      messages_invalid: 3,
      conversations_failed: 0,
    });
    expect(await redis.keys(`${PREFIX}*`)).toEqual([`${PREFIX}wa-msg-1h:1698765434`]);
    expect(await history('wa-msg-24h')).toEqual([
      { customer_id: 'cust-1', message_role: 'user', message_content: 'hola a' },
      { customer_id: 'cust-1', message_role: 'assistant', message_content: 'buenos días a' },
    ]);
    expect(await history('wa:msg:colon')).toEqual([
      { customer_id: null, message_role: 'user', message_content: 'hola b' },
      { customer_id: null, message_role: 'assistant', message_content: 'buenos días b' },
      { customer_id: null, message_role: 'system', message_content: 'El cliente quiere una cita.' },
    ]);
    expect((await history('wa-msg-invalid')).map((r) => r.message_content)).toEqual(['ok', 'vale']);
    // the skipped messages are not lost: the checkpoint was copied to quarantine before Redis lost it
    const q = await db.direct.query<{ redis_key: string; error: string; raw_value: string }>(
      "SELECT redis_key, error, convert_from(raw_bytes, 'UTF8') AS raw_value FROM checkpoint_quarantine",
    );
    expect(q).toHaveLength(1);
    expect(q[0]?.redis_key).toBe(`${PREFIX}wa-msg-invalid:1698765435`);
    expect(q[0]?.error).toMatch(
      /3 invalid message\(s\) skipped: #1 unknown role martian; #2 message is not an object; #3 content is not text \(an object\)/,
    );
    expect(q[0]?.raw_value).toContain('martian');
    expect(await history('wa-msg-1h')).toEqual([]);
    expect(out.log.lines.map((l) => l.message)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Starting conversation archival run at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00$/),
        'Found 3 expired checkpoints to archive',
        expect.stringMatching(/^Completed archival run in \d+(\.\d{1,3})? s$/),
      ]),
    );
  });

  it('uses 24 h − PTTL when the checkpoint has no time and a non-numeric ns', async () => {
    await putWithAge(
      redis,
      `${PREFIX}conv-ttl:ns-a`,
      seedValue({ conversationId: 'conv-ttl', messages: [{ role: 'user', content: 'old' }] }),
      23.5 * HOUR_MS,
    );
    await putWithAge(
      redis,
      `${PREFIX}conv-ttl-new:ns-b`,
      seedValue({ conversationId: 'conv-ttl-new', messages: [{ role: 'user', content: 'new' }] }),
      2 * HOUR_MS,
    );
    const out = await archiveOnce(db.sql, redis);
    expect(out.counters).toMatchObject({ checkpoints_archived: 1, checkpoints_fresh: 1 });
    expect(await redis.exists(`${PREFIX}conv-ttl-new:ns-b`)).toBe(1);
  });

  it('archives the LangGraph saver layout exactly: roles, text parts, tool calls, tokens, model; companions removed', async () => {
    // Prepare: a Python-saver thread (≥ 0.1 full saver: two documents, messages inline, metadata as JSON text;
    // test/support/python-saver.ts) and a thread whose messages are only in a blob (`{type, blob}` form)
    const old = Date.now() - 23.5 * HOUR_MS;
    const messages = [
      pyMessage('SystemMessage', { content: 'Eres un asistente de peluquería.', id: 'sys-1' }),
      pyMessage('HumanMessage', {
        content: [
          { type: 'text', text: 'Quiero cita' },
          { type: 'image_url', image_url: 'x' },
          { type: 'text', text: 'mañana' },
        ],
        id: 'h-1',
      }),
      pyMessage('AIMessage', {
        content: '',
        id: 'ai-1',
        tool_calls: [{ name: 'find_slots', args: { day: 'tomorrow' }, id: 'call-1' }],
        usage_metadata: {
          input_tokens: 120,
          output_tokens: 15,
          total_tokens: 135,
          input_token_details: { cache_read: 100 },
          output_token_details: { reasoning: 4 },
        },
        response_metadata: { model_name: 'gpt-4o-mini' },
      }),
      pyMessage('ToolMessage', { content: '["10:00","12:30"]', tool_call_id: 'call-1', id: 'tool-1', name: 'find_slots' }),
      pyMessage('AIMessage', {
        content: 'Tengo huecos a las 10:00 y 12:30.',
        id: 'ai-2',
        usage_metadata: { input_tokens: 160, output_tokens: 12 },
      }),
    ];
    const cp1 = { id: 'cp-1', tsMs: old - 60_000, values: { messages: messages.slice(0, 2) }, versions: { messages: pyVersion(2) } };
    const cp2 = { id: 'cp-2', tsMs: old, values: { messages }, versions: { messages: pyVersion(5) } };
    const first = pyFullV01({ thread: 'thread-py', checkpoint: cp1, metadata: { customer_id: 'cust-py' } });
    const second = pyFullV01({ thread: 'thread-py', parentId: 'cp-1', checkpoint: cp2, metadata: { customer_id: 'cust-py' } });
    const writes = pyWritesV01({ thread: 'thread-py', checkpointId: 'cp-2', taskId: 'task-1', channel: 'messages', value: [] });
    await putPython(redis, [first.doc, second.doc, second.latest, ...writes], 23.5 * HOUR_MS);
    await putWithAge(
      redis,
      'checkpoint:thread-js::cp-9',
      saverDoc({ thread: 'thread-js', id: 'cp-9', tsMs: old, messagesVersion: '7', checkpointAsString: true }),
      23.5 * HOUR_MS,
    );
    await redis.set(
      'checkpoint_blob:thread-js::messages:7',
      JSON.stringify({
        type: 'json',
        blob: JSON.stringify([lc('HumanMessage', { content: 'hello', id: 'js-h' }), lc('AIMessage', { content: 'hi there', id: 'js-a' })]),
      }),
    );
    // an active thread: its newest document is 1 h old, so nothing of it moves
    await putWithAge(
      redis,
      'checkpoint:thread-live::cp-a',
      saverDoc({ thread: 'thread-live', id: 'cp-a', tsMs: old, messages: messages.slice(0, 1) }),
      23.5 * HOUR_MS,
    );
    await putWithAge(
      redis,
      'checkpoint:thread-live::cp-b',
      saverDoc({ thread: 'thread-live', id: 'cp-b', tsMs: Date.now() - HOUR_MS, messages: messages.slice(0, 2) }),
      HOUR_MS,
    );
    await redis.set('checkpoint_blob:thread-live::messages:2', '[]');
    // Act
    const out = await archiveOnce(db.sql, redis);
    // Assess
    expect(out.counters).toMatchObject({ checkpoints_archived: 2, checkpoints_fresh: 1, messages_archived: 7 });
    const rows = await db.direct.query(
      `SELECT m.message_key, m.role, m.content, m.input_tokens, m.output_tokens, m.cached_tokens, m.reasoning_tokens, m.model, m.metadata, c.customer_id
       FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.conversation_key = 'thread-py' ORDER BY m.created_at, m.seq`,
    );
    expect(rows).toEqual([
      {
        message_key: 'sys-1',
        role: 'system',
        content: 'Eres un asistente de peluquería.',
        input_tokens: 0,
        output_tokens: 0,
        cached_tokens: 0,
        reasoning_tokens: 0,
        model: null,
        metadata: {},
        customer_id: 'cust-py',
      },
      {
        message_key: 'h-1',
        role: 'user',
        // LangChain's own message.text: the text parts with nothing between (issue 13, defect 15)
        content: 'Quiero citamañana',
        input_tokens: 0,
        output_tokens: 0,
        cached_tokens: 0,
        reasoning_tokens: 0,
        model: null,
        // the non-text part is kept (issue 13, defect 11)
        metadata: {
          content_parts: [
            { type: 'text', text: 'Quiero cita' },
            { type: 'image_url', image_url: 'x' },
            { type: 'text', text: 'mañana' },
          ],
        },
        customer_id: 'cust-py',
      },
      {
        message_key: 'ai-1',
        role: 'assistant',
        content: '',
        input_tokens: 120,
        output_tokens: 15,
        cached_tokens: 100,
        reasoning_tokens: 4,
        model: 'gpt-4o-mini',
        metadata: { tool_calls: [{ name: 'find_slots', args: { day: 'tomorrow' }, id: 'call-1', type: 'tool_call' }] },
        customer_id: 'cust-py',
      },
      {
        message_key: 'tool-1',
        role: 'tool',
        content: '["10:00","12:30"]',
        input_tokens: 0,
        output_tokens: 0,
        cached_tokens: 0,
        reasoning_tokens: 0,
        model: null,
        metadata: { tool_call_id: 'call-1', name: 'find_slots' },
        customer_id: 'cust-py',
      },
      {
        message_key: 'ai-2',
        role: 'assistant',
        content: 'Tengo huecos a las 10:00 y 12:30.',
        input_tokens: 160,
        output_tokens: 12,
        cached_tokens: 0,
        reasoning_tokens: 0,
        model: null,
        metadata: {},
        customer_id: 'cust-py',
      },
    ]);
    expect((await history('thread-js')).map((r) => [r.message_role, r.message_content])).toEqual([
      ['user', 'hello'],
      ['assistant', 'hi there'],
    ]);
    expect((await redis.keys('*')).sort()).toEqual([
      'checkpoint:thread-live::cp-a',
      'checkpoint:thread-live::cp-b',
      'checkpoint_blob:thread-live::messages:2',
    ]);
  });

  it('keeps a malformed checkpoint in Redis and quarantines it once per key and version', async () => {
    await putWithAge(redis, `${PREFIX}broken:1`, '{"v":1,"data":', 23.5 * HOUR_MS);
    await putWithAge(redis, 'checkpoint:t-bad::c1', JSON.stringify({ thread_id: 't-bad', checkpoint: 42 }), 23.5 * HOUR_MS);
    const first = await archiveOnce(db.sql, redis);
    const second = await archiveOnce(db.sql, redis);
    expect(first.counters.checkpoints_malformed).toBe(2);
    expect(first.errors).toBe(2);
    expect(second.errors).toBe(0); // already quarantined: counted, not a new error
    expect(await redis.exists(`${PREFIX}broken:1`, 'checkpoint:t-bad::c1')).toBe(2);
    const q = await db.direct.query<{ redis_key: string; seen_count: number; error: string }>(
      'SELECT redis_key, seen_count, error FROM checkpoint_quarantine ORDER BY redis_key',
    );
    expect(q).toEqual([
      { redis_key: 'checkpoint:t-bad::c1', seen_count: 2, error: 'Checkpoint document has no "checkpoint" object' },
      { redis_key: `${PREFIX}broken:1`, seen_count: 2, error: expect.stringMatching(/^Checkpoint value is not valid JSON/) },
    ]);
    await redis.set(`${PREFIX}broken:1`, '{"v":1,"data":{"messages":"nope"}}', 'PX', HOUR_MS);
    await archiveOnce(db.sql, redis, { cutoffHours: 22 });
    const [n] = await db.direct.query<{ c: number }>('SELECT count(*) AS c FROM checkpoint_quarantine');
    expect(n?.c).toBe(3); // a new version of the key is a new row
  });

  it('re-archiving the same or a longer checkpoint adds only the new messages; two runs at once duplicate nothing', async () => {
    const m = (i: number) => ({ role: i % 2 ? 'assistant' : 'user', content: i === 3 ? 'ok' : `m${i}`, timestamp: 1_761_000_000 + i });
    const value = (n: number) =>
      seedValue({ conversationId: 'c-grow', messages: Array.from({ length: n }, (_, i) => m(i)), ts: secondsAgo(23.5 * HOUR_MS) });
    await putWithAge(redis, `${PREFIX}c-grow:1`, value(4), 23.5 * HOUR_MS);
    const [a, b] = await Promise.all([archiveOnce(db.sql, redis), archiveOnce(db.sql, redis)]);
    expect(a.counters.messages_archived + b.counters.messages_archived).toBe(4);
    await putWithAge(redis, `${PREFIX}c-grow:2`, value(6), 23.5 * HOUR_MS);
    await putWithAge(redis, `${PREFIX}c-grow:1`, value(4), 23.5 * HOUR_MS);
    const again = await archiveOnce(db.sql, redis);
    expect(again.counters).toMatchObject({ messages_archived: 2, checkpoints_archived: 2 });
    const rows = await history('c-grow');
    expect(rows.map((r) => r.message_content)).toEqual(['m0', 'm1', 'm2', 'ok', 'm4', 'm5']);
  });

  it('does not delete a checkpoint rewritten between read and delete', async () => {
    await putWithAge(
      redis,
      `${PREFIX}c-race:1`,
      seedValue({ conversationId: 'c-race', messages: [{ role: 'user', content: 'first' }], ts: secondsAgo(23.5 * HOUR_MS) }),
      23.5 * HOUR_MS,
    );
    const store = new CheckpointStore(redis);
    const read = store.read.bind(store);
    store.read = async (keys) => {
      const entries = await read(keys);
      // the app writes a new version right after the archiver read it
      await redis.set(
        `${PREFIX}c-race:1`,
        seedValue({
          conversationId: 'c-race',
          messages: [
            { role: 'user', content: 'first' },
            { role: 'assistant', content: 'second' },
          ],
        }),
        'PX',
        23 * HOUR_MS,
      );
      return entries;
    };
    const out = await archiveOnce(db.sql, redis, {}, store);
    expect(out.counters).toMatchObject({ checkpoints_changed: 1, checkpoints_archived: 0, messages_archived: 1 });
    expect(await redis.get(`${PREFIX}c-race:1`)).toContain('second');
  });

  it('an older checkpoint archived after a newer one leaves the newer version (soak: "cold holds an earlier version")', async () => {
    // Prepare: the newer checkpoint (25 h old) is archived first; the older one (30 h) shows up afterwards
    // (a key the app wrote again after a fault).
    const msg = (content: string) => [{ id: 'm-1', role: 'user', content, timestamp: '2025-10-27T10:00:00+01:00' }];
    await putWithAge(
      redis,
      `${PREFIX}c-versions:2`,
      seedValue({ conversationId: 'c-versions', messages: msg('quiero la doble'), ts: secondsAgo(25 * HOUR_MS) }),
      25 * HOUR_MS,
    );
    expect((await archiveOnce(db.sql, redis)).counters).toMatchObject({ checkpoints_archived: 1, messages_archived: 1 });
    await putWithAge(
      redis,
      `${PREFIX}c-versions:1`,
      seedValue({ conversationId: 'c-versions', messages: msg('quiero la individual'), ts: secondsAgo(30 * HOUR_MS) }),
      30 * HOUR_MS,
    );
    // Act
    const out = await archiveOnce(db.sql, redis);
    // Assess: archived (its keys go), and the row keeps the newer text and its own version time.
    expect(out.counters).toMatchObject({ checkpoints_archived: 1, conversations_failed: 0 });
    expect(await redis.exists(`${PREFIX}c-versions:1`)).toBe(0);
    const rows = await db.direct.query<{ content: string; previous: unknown; newer: boolean }>(
      `SELECT content, metadata -> 'previous_versions' AS previous, version_at > now() - interval '26 hours' AS newer
         FROM messages WHERE message_key = 'm-1'`,
    );
    expect(rows).toEqual([{ content: 'quiero la doble', previous: null, newer: true }]);
  });
});
