/**
 * What the Python savers of `langgraph-checkpoint-redis` (github.com/redis-developer/langgraph-redis)
 * write to Redis, built by hand: the Python package has no runtime here. Each builder was written
 * from reading the package's source at the tag named above it (mirror read with `git show <tag>:<path>`),
 * not copied from it; docs/decisions.md (2026-11-22, "Python saver fixtures") lists what was read.
 *
 * Documents are returned as the JSON text that `JSON.GET` gives back; the tests store them with SET
 * (the test Redis has no RedisJSON module; the archive reads both).
 *
 * Two layouts:
 * - ≥ 0.1 (v0.1.0 … 0.5.2): channel values inline in the document, no blobs; a `checkpoint_latest:`
 *   pointer; the full saver keeps one document per checkpoint, the shallow saver one per thread.
 * - ≤ 0.0.8 (v0.0.3 … v0.0.8): channel values inline in the document AND every channel the step
 *   changed in a `checkpoint_blob:` document (`type` "json" with the value as JSON text, "base64"
 *   for a bytes value, "empty"); the full saver's document is keyed by the checkpoint id of the
 *   config it was given (the parent's, or the zero UUID for a thread's first checkpoint).
 */
import type { Redis } from 'ioredis';
import { HOUR_MS } from '../../local/fixtures';

/** One Redis key as the saver leaves it: a string (documents, pointers) or a sorted set. */
export type PyKey = { key: string; value: string } | { key: string; zset: string[] };

/**
 * `to_storage_safe_str` / `to_storage_safe_id` (langgraph/checkpoint/redis/util.py, v0.0.3 … 0.5.2):
 * an empty namespace is stored as `__empty__`, an empty id as the zero UUID.
 */
export const PY_EMPTY_NS = '__empty__';
export const PY_EMPTY_ID = '00000000-0000-0000-0000-000000000000';
const safeNs = (ns: string) => (ns === '' ? PY_EMPTY_NS : ns);

/**
 * A channel version as `BaseRedisSaver.get_next_version` makes it (base.py, v0.0.8 and 0.5.2):
 * the counter zero-padded to 32 digits, a dot, and a random float.
 */
export const pyVersion = (n: number, random = 0.4187546281532126) => `${String(n).padStart(32, '0')}.${random}`;

type MessageClass = 'HumanMessage' | 'AIMessage' | 'SystemMessage' | 'ToolMessage';
const MESSAGE_TYPE: Record<MessageClass, string> = { HumanMessage: 'human', AIMessage: 'ai', SystemMessage: 'system', ToolMessage: 'tool' };

/**
 * A message inside a Python checkpoint. The savers serialize LangChain objects with
 * `Serializable.to_json()` (jsonplus_redis.py, v0.0.8 through langgraph-checkpoint's
 * JsonPlusSerializer; 0.5.2 `_default_handler`), which gives langchain_core's constructor form:
 * `id` is the class's lc namespace `["langchain", "schema", "messages", <class>]` and `kwargs` holds
 * the fields that are required or differ from their default (`_is_field_useful`): `content` always,
 * `type` always, no empty `additional_kwargs` / `response_metadata` / `tool_calls`. A ToolMessage
 * carries `status: "success"`; each tool call its `type: "tool_call"`.
 */
export function pyMessage(cls: MessageClass, fields: Record<string, unknown>) {
  const all: Record<string, unknown> = { ...fields, type: MESSAGE_TYPE[cls] };
  if (cls === 'ToolMessage') all.status ??= 'success';
  if (Array.isArray(all.tool_calls)) all.tool_calls = all.tool_calls.map((c) => ({ ...(c as Record<string, unknown>), type: 'tool_call' }));
  const kwargs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(all)) {
    const empty =
      v === undefined ||
      v === null ||
      v === '' ||
      v === false ||
      (Array.isArray(v) && v.length === 0) ||
      (typeof v === 'object' && Object.keys(v).length === 0);
    if (k === 'content' || !empty) kwargs[k] = v;
  }
  return { lc: 1, type: 'constructor', id: ['langchain', 'schema', 'messages', cls], kwargs };
}

export interface PyCheckpoint {
  /** The checkpoint's own id (LangGraph Python: a uuid6). */
  readonly id: string;
  readonly tsMs: number;
  /** Channel values; the saver writes them all inline. */
  readonly values: Record<string, unknown>;
  /** Channel → version, for the channels the checkpoint declares. */
  readonly versions: Record<string, string>;
}

/**
 * The `checkpoint` field: `BaseRedisSaver._dump_checkpoint` (base.py, v0.0.8 and v0.1.0 … 0.5.2)
 * serializes the whole LangGraph checkpoint, channel_values included, and stores the parsed JSON
 * with the serializer's type tag in front and `pending_sends: []` after. The tag is "json" (0.5.2
 * may say "msgpack" for a checkpoint holding nested bytes, with the content still normalized to
 * JSON). `ts` is Python's `datetime.isoformat()` with microseconds and `+00:00`.
 */
function checkpointField(c: PyCheckpoint, typeTag = 'json') {
  return {
    type: typeTag,
    v: 1, // LangGraph's own checkpoint format version: the archive does not read it
    id: c.id,
    ts: new Date(c.tsMs).toISOString().replace('Z', '000+00:00'),
    channel_values: c.values,
    channel_versions: c.versions,
    versions_seen: {},
    pending_sends: [],
  };
}

/**
 * Full `RedisSaver.put`, ≥ 0.1 (langgraph/checkpoint/redis/__init__.py at v0.1.0 and 0.5.2):
 * key `checkpoint:{thread}:{ns, root __empty__}:{checkpoint_id}`; document fields `thread_id`,
 * `run_id` (0.5.x; "" when the config has none), `checkpoint_ns` (`__empty__` for the root),
 * `checkpoint_id`, `parent_checkpoint_id` ("" for the first), `checkpoint_ts` (milliseconds; LangGraph's
 * uuid6 ids are no ULID, so the saver's fallback, the write time), `checkpoint` (channel values
 * inline), `metadata` as JSON TEXT (`_dump_metadata` returns a string), `has_writes: false`, and
 * `source` / `step` copied from the metadata. Then `checkpoint_latest:{thread}:{ns}` is SET to the
 * document's key. No blobs.
 */
export function pyFullV01(o: {
  thread: string;
  ns?: string;
  parentId?: string;
  checkpoint: PyCheckpoint;
  metadata?: Record<string, unknown>;
  checkpointType?: string;
}): { doc: PyKey & { value: string }; latest: PyKey } {
  const ns = safeNs(o.ns ?? '');
  const metadata = { source: 'loop', step: 1, parents: {}, ...(o.metadata ?? {}) };
  const key = `checkpoint:${o.thread}:${ns}:${o.checkpoint.id}`;
  const value = JSON.stringify({
    thread_id: o.thread,
    run_id: '',
    checkpoint_ns: ns,
    checkpoint_id: o.checkpoint.id,
    parent_checkpoint_id: o.parentId ?? '',
    checkpoint_ts: o.checkpoint.tsMs + 0.123,
    checkpoint: checkpointField(o.checkpoint, o.checkpointType),
    metadata: JSON.stringify(metadata),
    has_writes: false,
    source: metadata.source,
    step: metadata.step,
  });
  return { doc: { key, value }, latest: { key: `checkpoint_latest:${o.thread}:${ns}`, value: key } };
}

/**
 * Pending writes of the ≥ 0.1 full saver (`put_writes`, __init__.py v0.1.0): one document per write
 * at `checkpoint_write:{thread}:{ns, root __empty__}:{checkpoint_id}:{task_id}:{idx}`, and the
 * key registry's sorted set `write_keys_zset:{thread}:{ns}:{checkpoint_id}` (key_registry.py: the
 * raw namespace at v0.1.0, `__empty__` in later releases) naming them.
 */
export function pyWritesV01(o: {
  thread: string;
  ns?: string;
  checkpointId: string;
  taskId: string;
  channel: string;
  value: unknown;
}): PyKey[] {
  const ns = safeNs(o.ns ?? '');
  const key = `checkpoint_write:${o.thread}:${ns}:${o.checkpointId}:${o.taskId}:0`;
  const value = JSON.stringify({
    thread_id: o.thread,
    checkpoint_ns: ns,
    checkpoint_id: o.checkpointId,
    task_id: o.taskId,
    task_path: '',
    idx: 0,
    channel: o.channel,
    type: 'json',
    blob: JSON.stringify(o.value),
  });
  return [
    { key, value },
    { key: `write_keys_zset:${o.thread}:${o.ns ?? ''}:${o.checkpointId}`, zset: [key] },
  ];
}

/**
 * `ShallowRedisSaver.put`, ≥ 0.1 (langgraph/checkpoint/redis/shallow.py at v0.1.0 and 0.5.2): one
 * document per thread and namespace at `checkpoint:{thread}:{ns}` with the RAW namespace (so the
 * root graph's key ends in a bare `:`), while the document says `__empty__`; fields `thread_id`,
 * `run_id` (0.5.x), `checkpoint_ns`, `checkpoint_id`, `checkpoint_ts`, `checkpoint` (channel values
 * inline), `metadata` as an OBJECT (parsed back from `_dump_metadata`'s text), `source`, `step`; no
 * parent id, no pointer, no blobs. Its pending writes (v0.1.0 … 0.3.x) are listed in the sorted set
 * `write_registry:{thread}:{raw ns}:shallow`.
 */
export function pyShallowV01(o: { thread: string; ns?: string; checkpoint: PyCheckpoint; metadata?: Record<string, unknown> }): PyKey & {
  value: string;
} {
  const metadata = { source: 'loop', step: 1, parents: {}, ...(o.metadata ?? {}) };
  return {
    key: `checkpoint:${o.thread}:${o.ns ?? ''}`,
    value: JSON.stringify({
      thread_id: o.thread,
      run_id: '',
      checkpoint_ns: safeNs(o.ns ?? ''),
      checkpoint_id: o.checkpoint.id,
      checkpoint_ts: o.checkpoint.tsMs + 0.123,
      checkpoint: checkpointField(o.checkpoint),
      metadata,
      source: metadata.source,
      step: metadata.step,
    }),
  };
}

/** The shallow saver's write registry (shallow.py v0.1.0 `put_writes`). */
export const pyShallowWriteRegistryV01 = (thread: string, ns: string, writeKeys: string[]): PyKey => ({
  key: `write_registry:${thread}:${ns}:shallow`,
  zset: writeKeys,
});

/**
 * A channel blob, ≤ 0.0.8 (`BaseRedisSaver._dump_blobs`, base.py v0.0.8; values through
 * `JsonPlusRedisSerializer.dumps_typed`, jsonplus_redis.py v0.0.8): key
 * `checkpoint_blob:{thread}:{ns, root __empty__}:{channel}:{version}`, document `{thread_id,
 * checkpoint_ns (__empty__ for the root), channel, version, type, blob}` where `type` is "json" and
 * `blob` the value as JSON TEXT (a JSON string inside the document, not base64), or "base64" and
 * the base64 of a bytes value, or "empty" with `blob: null` for a channel with no value. No msgpack
 * at any tag up to v0.0.8. The shallow saver (shallow.py v0.0.8) writes the same key but the raw
 * namespace in the document.
 */
export function pyBlobV008(o: {
  thread: string;
  ns?: string;
  channel: string;
  version: string;
  value?: unknown;
  bytes?: Buffer;
  shallow?: boolean;
}): PyKey & { value: string } {
  const ns = safeNs(o.ns ?? '');
  const [type, blob] =
    o.bytes !== undefined
      ? ['base64', o.bytes.toString('base64')]
      : o.value === undefined
        ? ['empty', null]
        : ['json', JSON.stringify(o.value)];
  return {
    key: `checkpoint_blob:${o.thread}:${ns}:${o.channel}:${o.version}`,
    value: JSON.stringify({
      thread_id: o.thread,
      checkpoint_ns: o.shallow ? (o.ns ?? '') : ns,
      channel: o.channel,
      version: o.version,
      type,
      blob,
    }),
  };
}

/**
 * Full `RedisSaver.put`, ≤ 0.0.8 (langgraph/checkpoint/redis/__init__.py and aio.py at v0.0.8, the
 * same since v0.0.3): the document is keyed by the checkpoint id of the CONFIG it was given — the
 * parent's id, or the zero UUID for the thread's first checkpoint — at
 * `checkpoint:{thread}:{ns, root __empty__}:{that id}`, with `checkpoint_id` and
 * `parent_checkpoint_id` both set to it (the checkpoint's own id is only `checkpoint.id`); fields
 * `thread_id`, `checkpoint_ns`, `checkpoint` (channel values inline, `ts` the only time), `metadata`
 * as JSON text, `source`, `step`; no `checkpoint_ts`, no pointer. Every channel in `new_versions`
 * also gets a blob (pyBlobV008). `dropInline` removes the inline channel values: NOT what the
 * saver writes, for tests of a document whose only copy of a channel is its blob.
 */
export function pyFullV008(o: {
  thread: string;
  ns?: string;
  configId?: string;
  checkpoint: PyCheckpoint;
  newVersions?: readonly string[];
  metadata?: Record<string, unknown>;
  dropInline?: readonly string[];
}): { doc: PyKey & { value: string }; blobs: (PyKey & { value: string })[] } {
  const ns = safeNs(o.ns ?? '');
  const id = o.configId || PY_EMPTY_ID;
  const metadata = { source: 'loop', step: 1, writes: null, parents: {}, ...(o.metadata ?? {}) };
  const inline = { ...o.checkpoint.values };
  for (const ch of o.dropInline ?? []) delete inline[ch];
  const doc = {
    key: `checkpoint:${o.thread}:${ns}:${id}`,
    value: JSON.stringify({
      thread_id: o.thread,
      checkpoint_ns: ns,
      checkpoint_id: id,
      parent_checkpoint_id: id,
      checkpoint: checkpointField({ ...o.checkpoint, values: inline }),
      metadata: JSON.stringify(metadata),
      source: metadata.source,
      step: metadata.step,
    }),
  };
  const blobs = (o.newVersions ?? Object.keys(o.checkpoint.versions)).map((channel) =>
    pyBlobV008({
      thread: o.thread,
      ns: o.ns,
      channel,
      version: o.checkpoint.versions[channel] as string,
      value: o.checkpoint.values[channel],
    }),
  );
  return { doc, blobs };
}

/**
 * `ShallowRedisSaver.put`, ≤ 0.0.8 (shallow.py v0.0.8): `checkpoint:{thread}:{raw ns}` holding
 * `{thread_id, checkpoint_ns (RAW, "" for the root), checkpoint_id, checkpoint, metadata (JSON
 * text), source, step}`, and blobs for the channels in `new_versions`.
 */
export function pyShallowV008(o: { thread: string; ns?: string; checkpoint: PyCheckpoint; metadata?: Record<string, unknown> }): {
  doc: PyKey & { value: string };
  blobs: (PyKey & { value: string })[];
} {
  const metadata = { source: 'loop', step: 1, writes: null, parents: {}, ...(o.metadata ?? {}) };
  const doc = {
    key: `checkpoint:${o.thread}:${o.ns ?? ''}`,
    value: JSON.stringify({
      thread_id: o.thread,
      checkpoint_ns: o.ns ?? '',
      checkpoint_id: o.checkpoint.id,
      checkpoint: checkpointField(o.checkpoint),
      metadata: JSON.stringify(metadata),
      source: metadata.source,
      step: metadata.step,
    }),
  };
  const blobs = Object.entries(o.checkpoint.versions).map(([channel, version]) =>
    pyBlobV008({ thread: o.thread, ns: o.ns, channel, version, value: o.checkpoint.values[channel], shallow: true }),
  );
  return { doc, blobs };
}

/** Store keys as the saver leaves them, with the app's 24 h TTL reduced by their age. */
export async function putPython(redis: Redis, keys: readonly PyKey[], ageMs: number, ttlMs = 24 * HOUR_MS): Promise<void> {
  const px = Math.max(1_000, Math.round(ttlMs - ageMs));
  for (const k of keys) {
    if ('zset' in k) {
      await redis.zadd(k.key, ...k.zset.flatMap((m, i) => [i + 1, m]));
      await redis.pexpire(k.key, px);
    } else await redis.set(k.key, k.value, 'PX', px);
  }
}
