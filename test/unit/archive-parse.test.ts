import {
  CheckpointFormatError,
  parseLangChainMessage,
  parseSaverCheckpoint,
  parseSeedCheckpoint,
  saverKeyParts,
  seedKeyParts,
  toDate,
} from '../../lambdas/archive/parse';

describe('checkpoint keys', () => {
  it('splits seed keys on the last colon: conversation ids may contain colons', () => {
    expect(seedKeyParts('langgraph:checkpoint:wa:msg:abc123:1698765432', 'langgraph:checkpoint:')).toEqual({
      conversationId: 'wa:msg:abc123',
      ns: '1698765432',
    });
    expect(seedKeyParts('other:key', 'langgraph:checkpoint:')).toBeUndefined();
  });

  it('reads thread, ns and id from saver keys', () => {
    expect(saverKeyParts('checkpoint:thread-1::cp-9', 'checkpoint:')).toEqual({ thread: 'thread-1', ns: '', id: 'cp-9' });
    expect(saverKeyParts('checkpoint:too-short', 'checkpoint:')).toBeUndefined();
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
  it('refuses what it cannot understand, saying why', () => {
    const parse = (raw: string) => () => parseSeedCheckpoint('langgraph:checkpoint:c:1', raw, 'langgraph:checkpoint:');
    expect(parse('nope')).toThrow(CheckpointFormatError);
    expect(parse('[]')).toThrow('Checkpoint value is not a JSON object');
    expect(parse('{"v":2,"data":{}}')).toThrow('Unsupported checkpoint version 2');
    expect(parse('{"v":1}')).toThrow('Checkpoint has no "data" object');
    expect(parse('{"v":1,"data":{"messages":{}}}')).toThrow('Checkpoint data.messages is not an array');
  });

  it('gives repeated identical messages distinct keys, stable across runs', () => {
    const raw = JSON.stringify({
      v: 1,
      ts: 1698765432,
      data: {
        conversation_id: 'c',
        messages: [
          { role: 'user', content: 'ok' },
          { role: 'user', content: 'ok' },
        ],
      },
    });
    const a = parseSeedCheckpoint('k', raw, 'langgraph:checkpoint:');
    const b = parseSeedCheckpoint('k', raw, 'langgraph:checkpoint:');
    expect(a.messages.map((m) => m.key)).toEqual(b.messages.map((m) => m.key));
    expect(new Set(a.messages.map((m) => m.key)).size).toBe(2);
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
    expect(parseLangChainMessage({ type: 'human', content: 42 })).toEqual({ reason: 'content is neither text nor text parts' });
  });
});

describe('parseSaverCheckpoint', () => {
  it('asks for the messages blob when the checkpoint does not carry its messages', () => {
    const doc = JSON.stringify({
      thread_id: 't',
      checkpoint_ns: '',
      checkpoint: { ts: '2025-10-28T13:00:00Z', channel_values: {}, channel_versions: { messages: 5 } },
    });
    expect(parseSaverCheckpoint(doc)).toMatchObject({ messages: [], messagesBlobVersion: '5' });
    const withBlob = parseSaverCheckpoint(doc, JSON.stringify([{ type: 'human', content: 'from blob' }]));
    expect(withBlob.messages.map((m) => m.content)).toEqual(['from blob']);
    expect(withBlob.time?.toISOString()).toBe('2025-10-28T13:00:00.000Z');
  });
});
