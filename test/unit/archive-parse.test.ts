import { decodeBlob } from '../../lambdas/archive/layouts/blob';
import { parseSaverDoc } from '../../lambdas/archive/layouts/saver-doc';
import { parseSeedCheckpoint, seedKeyParts } from '../../lambdas/archive/layouts/seed';
import { parseLangChainMessage } from '../../lambdas/archive/messages';
import { assembleMessages } from '../../lambdas/archive/thread';
import { CheckpointFormatError, jsonFaultPosition, toDate } from '../../lambdas/archive/values';
import { PY_EMPTY_ID, pyBlobV008, pyFullV01, pyFullV008, pyMessage, pyShallowV01, pyVersion } from '../support/python-saver';

describe('checkpoint keys', () => {
  it('splits seed keys on the last colon: conversation ids may contain colons', () => {
    expect(seedKeyParts('langgraph:checkpoint:wa:msg:abc123:1698765432', 'langgraph:checkpoint:')).toEqual({
      conversationId: 'wa:msg:abc123',
      ns: '1698765432',
    });
    expect(seedKeyParts('other:key', 'langgraph:checkpoint:')).toBeUndefined();
  });

  it('takes thread and namespace from the document, and refuses a document that does not explain its key', () => {
    const doc = (o: Record<string, unknown>) => JSON.stringify({ checkpoint: { channel_values: {} }, ...o });
    const js = parseSaverDoc(
      'checkpoint:wa:msg:1::cp-9',
      doc({ thread_id: 'wa:msg:1', checkpoint_ns: '__empty__', checkpoint_id: 'cp-9' }),
      'checkpoint:',
    );
    expect(js).toMatchObject({ thread: 'wa:msg:1', ns: '', nsKey: '', layout: 'saver-full' });
    const py = parseSaverDoc(
      'checkpoint:t:__empty__:cp-9',
      doc({ thread_id: 't', checkpoint_ns: '__empty__', checkpoint_id: 'cp-9' }),
      'checkpoint:',
    );
    expect(py).toMatchObject({ thread: 't', nsKey: '__empty__' });
    const sub = parseSaverDoc(
      'checkpoint:t:tools:abc-1:cp-2',
      doc({ thread_id: 't', checkpoint_ns: 'tools:abc-1', checkpoint_id: 'cp-2' }),
      'checkpoint:',
    );
    expect(sub).toMatchObject({ thread: 't', ns: 'tools:abc-1' });
    expect(
      parseSaverDoc('checkpoint:t::shallow', doc({ thread_id: 't', checkpoint_ns: '', checkpoint_id: 'x' }), 'checkpoint:').layout,
    ).toBe('saver-shallow');
    // the Python shallow saver keys the root graph by the raw namespace: `checkpoint:{thread}:`
    expect(
      parseSaverDoc('checkpoint:t:', doc({ thread_id: 't', checkpoint_ns: '__empty__', checkpoint_id: 'x' }), 'checkpoint:').layout,
    ).toBe('saver-shallow');
    expect(() =>
      parseSaverDoc('checkpoint:t:__empty__', doc({ thread_id: 't', checkpoint_ns: '__empty__', checkpoint_id: 'x' }), 'checkpoint:'),
    ).toThrow(/do not explain its key/);
    expect(() =>
      parseSaverDoc('checkpoint:other::cp-9', doc({ thread_id: 't', checkpoint_ns: '', checkpoint_id: 'cp-9' }), 'checkpoint:'),
    ).toThrow(/do not explain its key/);
  });
});

describe('Python saver documents, as the package writes them (test/support/python-saver.ts)', () => {
  const checkpoint = {
    id: '1efd3f7e-3b2a-6c4e-8001-0a1b2c3d4e5f',
    tsMs: Date.parse('2026-11-21T10:00:00.250Z'),
    values: { messages: [pyMessage('HumanMessage', { content: 'hola', id: 'h' })] },
    versions: { messages: pyVersion(2) },
  };

  it('≥ 0.1 full: `__empty__` in key and document, metadata as JSON text, channel values inline', () => {
    const { doc } = pyFullV01({ thread: 'wa:msg:1', checkpoint, metadata: { customer_id: 'cust-7' } });
    expect(doc.key).toBe('checkpoint:wa:msg:1:__empty__:1efd3f7e-3b2a-6c4e-8001-0a1b2c3d4e5f');
    expect(typeof JSON.parse(doc.value).metadata).toBe('string');
    const d = parseSaverDoc(doc.key, doc.value, 'checkpoint:');
    expect(d).toMatchObject({ layout: 'saver-full', thread: 'wa:msg:1', ns: '', nsKey: '__empty__', checkpointId: checkpoint.id });
    expect(d.metadata.customer_id).toBe('cust-7');
    expect(d.channelValues.messages).toEqual(checkpoint.values.messages);
    // 0.5.x tags a checkpoint that fell back to msgpack "msgpack" but stores it normalized to JSON
    const tagged = pyFullV01({ thread: 't', checkpoint, checkpointType: 'msgpack' }).doc;
    expect(parseSaverDoc(tagged.key, tagged.value, 'checkpoint:').channelValues.messages).toEqual(checkpoint.values.messages);
  });

  it('≥ 0.1 shallow: raw namespace in the key (`checkpoint:{thread}:`), metadata an object', () => {
    const doc = pyShallowV01({ thread: 'wa:msg:1', checkpoint, metadata: { customer_id: 'cust-7' } });
    expect(doc.key).toBe('checkpoint:wa:msg:1:');
    expect(parseSaverDoc(doc.key, doc.value, 'checkpoint:')).toMatchObject({
      layout: 'saver-shallow',
      thread: 'wa:msg:1',
      nsKey: '',
      metadata: expect.objectContaining({ customer_id: 'cust-7' }),
    });
  });

  it('≤ 0.0.8 full: keyed by the parent id (the zero UUID first), time from checkpoint.ts with microseconds', () => {
    const { doc } = pyFullV008({ thread: 't', checkpoint });
    expect(doc.key).toBe(`checkpoint:t:__empty__:${PY_EMPTY_ID}`);
    const d = parseSaverDoc(doc.key, doc.value, 'checkpoint:');
    expect(d).toMatchObject({ layout: 'saver-full', checkpointId: PY_EMPTY_ID });
    expect(d.time?.toISOString()).toBe('2026-11-21T10:00:00.250Z');
    const broken = JSON.stringify({ ...JSON.parse(doc.value), metadata: '{"source":' });
    expect(() => parseSaverDoc(doc.key, broken, 'checkpoint:')).toThrow(/metadata field is not valid JSON/);
  });

  it('≤ 0.0.8 blobs: the value as JSON text (any JSON value), bytes as base64 (refused), empty', () => {
    const blob = (o: Partial<Parameters<typeof pyBlobV008>[0]>) =>
      decodeBlob(pyBlobV008({ thread: 't', channel: 'c', version: pyVersion(1), ...o }).value);
    expect(blob({ value: [pyMessage('AIMessage', { content: 'ok', id: 'a' })] })).toEqual({
      empty: false,
      value: [
        {
          lc: 1,
          type: 'constructor',
          id: ['langchain', 'schema', 'messages', 'AIMessage'],
          kwargs: { content: 'ok', id: 'a', type: 'ai' },
        },
      ],
    });
    expect(blob({ value: 12345 })).toEqual({ empty: false, value: 12345 });
    expect(blob({ value: null })).toEqual({ empty: false, value: null });
    expect(blob({ value: true })).toEqual({ empty: false, value: true });
    expect(blob({})).toEqual({ empty: true });
    expect(() => blob({ bytes: Buffer.from('raw') })).toThrow('Channel blob of type base64 cannot be decoded here');
  });
});

describe('toDate', () => {
  it('accepts epoch seconds, epoch milliseconds and ISO strings; refuses junk', () => {
    expect(toDate(1698765432)?.toISOString()).toBe('2023-10-31T15:17:12.000Z');
    expect(toDate(1698765432123)?.toISOString()).toBe('2023-10-31T15:17:12.123Z');
    expect(toDate('2025-10-28T14:00:00+01:00')?.toISOString()).toBe('2025-10-28T13:00:00.000Z');
    expect(toDate('1698765432')?.toISOString()).toBe('2023-10-31T15:17:12.000Z');
    expect(toDate('soon')).toBeUndefined();
    expect(toDate(-5)).toBeUndefined();
  });
});

describe('parseSeedCheckpoint', () => {
  it('refuses what it cannot understand, saying why without quoting it', () => {
    const parse = (raw: string) => () => parseSeedCheckpoint('langgraph:checkpoint:c:1', raw, 'langgraph:checkpoint:');
    expect(parse('nope')).toThrow(CheckpointFormatError);
    expect(parse('kZOkaGVsbG8=')).toThrow('Checkpoint value is not valid JSON (12 bytes, fault at character 0)');
    expect(parse('[]')).toThrow('Checkpoint value is not a JSON object');
    expect(parse('{"v":2,"data":{}}')).toThrow('Unsupported checkpoint version 2');
    expect(parse('{"v":1}')).toThrow('Checkpoint has no "data" object');
    expect(parse('{"v":1,"data":{"messages":{}}}')).toThrow('Checkpoint data.messages is not an array');
  });

  it('gives repeated identical messages distinct keys, stable across runs and checkpoints', () => {
    const raw = (ts: number) =>
      JSON.stringify({
        v: 1,
        ts,
        data: {
          conversation_id: 'c',
          messages: [
            { role: 'user', content: 'ok' },
            { role: 'user', content: 'ok' },
          ],
        },
      });
    const keys = (ts: number) => {
      const cp = parseSeedCheckpoint('k', raw(ts), 'langgraph:checkpoint:');
      return assembleMessages([cp.snapshot], new Date()).messages.map((m) => m.key);
    };
    expect(keys(1698765432)).toEqual(keys(1698769999));
    expect(new Set(keys(1698765432)).size).toBe(2);
  });
});

describe('jsonFaultPosition', () => {
  it('finds where a value stops being JSON', () => {
    expect(jsonFaultPosition('{"a":1,}')).toBe(7);
    expect(jsonFaultPosition('[1,2')).toBe(4);
    expect(jsonFaultPosition('{"a":1} x')).toBe(8);
  });
});

describe('parseLangChainMessage', () => {
  it('reads dict-form messages as well as serialized classes', () => {
    expect(parseLangChainMessage({ type: 'human', data: { content: 'hi', id: 'x' } })).toMatchObject({
      role: 'user',
      content: 'hi',
      id: 'x',
    });
    expect(parseLangChainMessage({ type: 'ai', content: 'yo' })).toMatchObject({ role: 'assistant', content: 'yo' });
    expect(parseLangChainMessage({ lc: 1, type: 'constructor', id: ['x', 'RemoveMessage'], kwargs: {} })).toEqual({
      reason: 'unknown message class RemoveMessage',
    });
    expect(parseLangChainMessage({ type: 'human', content: 42 })).toEqual({
      reason: 'content is neither text nor a list of parts (a number)',
    });
  });
});

describe('decodeBlob', () => {
  it('reads the JS saver value, Python json blobs (JSON text, or base64 of it from older tools), and refuses msgpack', () => {
    expect(decodeBlob(JSON.stringify({ type: 'json', value: [1] }))).toEqual({ empty: false, value: [1] });
    expect(decodeBlob(JSON.stringify({ type: 'json', blob: Buffer.from('[2]').toString('base64') }))).toEqual({ empty: false, value: [2] });
    expect(decodeBlob(JSON.stringify({ type: 'json', blob: '[3]' }))).toEqual({ empty: false, value: [3] });
    expect(decodeBlob(JSON.stringify({ type: 'json', blob: '1234' }))).toEqual({ empty: false, value: 1234 });
    expect(() => decodeBlob(JSON.stringify({ type: 'json', blob: '[1,' }))).toThrow('Channel blob payload is neither JSON nor base64');
    expect(decodeBlob(JSON.stringify({ type: 'empty', blob: '' }))).toEqual({ empty: true });
    expect(() => decodeBlob(JSON.stringify({ type: 'msgpack', blob: 'kZOkaGVsbG8=' }))).toThrow(
      'Channel blob of type msgpack cannot be decoded here',
    );
  });
});
