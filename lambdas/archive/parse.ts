/**
 * Parsing of the two checkpoint layouts (DESIGN.md, "Checkpoint sources") into one shape.
 * Pure functions: no I/O. A checkpoint that cannot be understood throws CheckpointFormatError;
 * a message that cannot be understood is skipped and reported in `invalid`.
 */
import { createHash } from 'node:crypto';

export type Role = 'user' | 'assistant' | 'system' | 'tool';

export interface ArchivedMessage {
  /** Idempotency key, unique within the conversation. */
  readonly key: string;
  readonly seq: number;
  readonly role: Role;
  readonly content: string;
  /** ISO-8601. */
  readonly createdAt: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedTokens: number;
  readonly reasoningTokens: number;
  readonly model: string | null;
  readonly metadata: Record<string, unknown>;
}

export interface InvalidMessage {
  readonly index: number;
  readonly reason: string;
}

export interface ParsedCheckpoint {
  readonly layout: 'seed' | 'saver';
  readonly conversationKey: string;
  readonly customerId: string | null;
  /** The checkpoint's own time, when it has one. */
  readonly time: Date | undefined;
  readonly messages: ArchivedMessage[];
  readonly invalid: InvalidMessage[];
  /** Saver layout: channel version of `messages` when the messages live in a blob. */
  readonly messagesBlobVersion?: string;
  readonly namespace?: string;
  readonly checkpointId?: string;
}

export class CheckpointFormatError extends Error {
  override readonly name = 'CheckpointFormatError';
}

const ROLE_ALIASES: Record<string, Role> = {
  user: 'user',
  human: 'user',
  customer: 'user',
  assistant: 'assistant',
  ai: 'assistant',
  agent: 'assistant',
  bot: 'assistant',
  system: 'system',
  developer: 'system',
  tool: 'tool',
  function: 'tool',
};

const LC_CLASS_ROLES: Record<string, Role> = {
  HumanMessage: 'user',
  HumanMessageChunk: 'user',
  AIMessage: 'assistant',
  AIMessageChunk: 'assistant',
  SystemMessage: 'system',
  SystemMessageChunk: 'system',
  ToolMessage: 'tool',
  ToolMessageChunk: 'tool',
  FunctionMessage: 'tool',
  FunctionMessageChunk: 'tool',
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJson(raw: string, what: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new CheckpointFormatError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/** A time from epoch seconds, epoch milliseconds or an ISO string. */
export function toDate(v: unknown): Date | undefined {
  let d: Date | undefined;
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) d = new Date(v < 1e11 ? v * 1000 : v);
  else if (typeof v === 'string' && v.trim() !== '') {
    d = /^\d+(\.\d+)?$/.test(v.trim()) ? toDate(Number(v)) : new Date(v);
  }
  return d && !Number.isNaN(d.getTime()) && d.getUTCFullYear() > 1990 && d.getUTCFullYear() < 3000 ? d : undefined;
}

const hash = (...parts: string[]) => createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);

/** Text of a message content: a string, or the text parts of a list of content parts. */
function contentText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    const texts = content
      .map((part) =>
        typeof part === 'string' ? part : isObject(part) && part.type === 'text' && typeof part.text === 'string' ? part.text : undefined,
      )
      .filter((t): t is string => t !== undefined);
    return texts.length > 0 || content.length === 0 ? texts.join('\n') : undefined;
  }
  return undefined;
}

const nonNegInt = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.min(Math.round(v), 2_147_483_647) : 0);

/** Gives identical (role, content, time) triples distinct keys: the 2nd "ok" is not the 1st. */
class ContentKeys {
  private readonly seen = new Map<string, number>();
  next(role: string, content: string, time: string): string {
    const base = hash(role, content, time);
    const n = this.seen.get(base) ?? 0;
    this.seen.set(base, n + 1);
    return `sha:${base}${n > 0 ? `:${n}` : ''}`;
  }
}

// ---------------------------------------------------------------- seed 000 layout

/**
 * `langgraph:checkpoint:{conversation_id}:{checkpoint_ns}` with
 * `{"v":1,"ts":...,"data":{conversation_id, customer_id, messages:[...], conversation_summary}}`.
 */
export function parseSeedCheckpoint(key: string, raw: string, prefix: string): ParsedCheckpoint {
  const doc = parseJson(raw, 'Checkpoint value');
  if (!isObject(doc)) throw new CheckpointFormatError('Checkpoint value is not a JSON object');
  if (doc.v !== undefined && doc.v !== 1) throw new CheckpointFormatError(`Unsupported checkpoint version ${JSON.stringify(doc.v)}`);
  const data = doc.data;
  if (!isObject(data)) throw new CheckpointFormatError('Checkpoint has no "data" object');
  const fromKey = seedKeyParts(key, prefix);
  const conversationKey = typeof data.conversation_id === 'string' && data.conversation_id ? data.conversation_id : fromKey?.conversationId;
  if (!conversationKey) throw new CheckpointFormatError('Checkpoint has no conversation_id');
  if (!Array.isArray(data.messages)) throw new CheckpointFormatError('Checkpoint data.messages is not an array');
  const time = toDate(doc.ts);
  const fallbackTime = (time ?? (fromKey?.ns ? toDate(fromKey.ns) : undefined) ?? new Date(0)).toISOString();
  const messages: ArchivedMessage[] = [];
  const invalid: InvalidMessage[] = [];
  const keys = new ContentKeys();
  for (const [index, m] of data.messages.entries()) {
    if (!isObject(m)) {
      invalid.push({ index, reason: 'message is not an object' });
      continue;
    }
    const role = typeof m.role === 'string' ? ROLE_ALIASES[m.role.toLowerCase()] : undefined;
    if (!role) {
      invalid.push({ index, reason: `unknown role ${JSON.stringify(m.role)}` });
      continue;
    }
    const content = contentText(m.content);
    if (content === undefined) {
      invalid.push({ index, reason: 'content is not text' });
      continue;
    }
    const at = toDate(m.timestamp)?.toISOString() ?? fallbackTime;
    const metadata = isObject(m.metadata) ? m.metadata : {};
    const id = typeof m.id === 'string' && m.id ? m.id : undefined;
    messages.push({
      key: id ?? keys.next(role, content, at),
      seq: index,
      role,
      content,
      createdAt: at,
      inputTokens: nonNegInt(metadata.input_tokens),
      outputTokens: nonNegInt(metadata.output_tokens),
      cachedTokens: 0,
      reasoningTokens: 0,
      model: typeof metadata.model === 'string' ? metadata.model : null,
      metadata,
    });
  }
  if (typeof data.conversation_summary === 'string' && data.conversation_summary.trim()) {
    messages.push(summaryMessage(data.conversation_summary, data.messages.length, fallbackTime));
  }
  const customer = data.customer_id;
  return {
    layout: 'seed',
    conversationKey,
    customerId: typeof customer === 'string' && customer ? customer : typeof customer === 'number' ? String(customer) : null,
    time,
    messages,
    invalid,
  };
}

function summaryMessage(summary: string, seq: number, at: string): ArchivedMessage {
  return {
    key: `summary:${hash(summary)}`,
    seq,
    role: 'system',
    content: summary,
    createdAt: at,
    inputTokens: 0,
    outputTokens: 0,
    cachedTokens: 0,
    reasoningTokens: 0,
    model: null,
    metadata: { summary: true },
  };
}

/** `langgraph:checkpoint:wa:msg:abc:1698765432` → conversation `wa:msg:abc`, ns `1698765432`. */
export function seedKeyParts(key: string, prefix: string): { conversationId: string; ns: string } | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const rest = key.slice(prefix.length);
  const i = rest.lastIndexOf(':');
  if (i <= 0) return rest ? { conversationId: rest, ns: '' } : undefined;
  return { conversationId: rest.slice(0, i), ns: rest.slice(i + 1) };
}

// ---------------------------------------------------------------- LangGraph Redis savers

/**
 * `checkpoint:{thread}:{ns}:{id}` documents of `langgraph-checkpoint-redis` (Python) and
 * `@langchain/langgraph-checkpoint-redis` (JS). `blob` is the messages channel blob, when the
 * checkpoint does not carry its messages inline (the JS saver stores unchanged channels apart).
 */
export function parseSaverCheckpoint(raw: string, blob?: string): ParsedCheckpoint {
  const doc = parseJson(raw, 'Checkpoint document');
  if (!isObject(doc)) throw new CheckpointFormatError('Checkpoint document is not a JSON object');
  let checkpoint: unknown = doc.checkpoint;
  if (typeof checkpoint === 'string') checkpoint = parseJson(checkpoint, 'checkpoint field');
  if (!isObject(checkpoint)) throw new CheckpointFormatError('Checkpoint document has no "checkpoint" object');
  const thread = doc.thread_id;
  if (typeof thread !== 'string' || !thread) throw new CheckpointFormatError('Checkpoint document has no thread_id');
  const time = toDate(doc.checkpoint_ts) ?? toDate(checkpoint.ts);
  const at = (time ?? new Date(0)).toISOString();
  const channelValues = isObject(checkpoint.channel_values) ? checkpoint.channel_values : {};
  const versions = isObject(checkpoint.channel_versions) ? checkpoint.channel_versions : {};
  let list: unknown = channelValues.messages;
  let messagesBlobVersion: string | undefined;
  if (list === undefined) {
    const v = versions.messages;
    if (v !== undefined && v !== null) {
      messagesBlobVersion = String(v);
      if (blob === undefined) {
        return partial(doc, thread, time, messagesBlobVersion);
      }
      list = decodeBlob(blob);
    } else list = [];
  }
  if (!Array.isArray(list)) throw new CheckpointFormatError('checkpoint.channel_values.messages is not an array');
  const metadata = isObject(doc.metadata) ? doc.metadata : {};
  const messages: ArchivedMessage[] = [];
  const invalid: InvalidMessage[] = [];
  const keys = new ContentKeys();
  for (const [index, m] of list.entries()) {
    const parsed = parseLangChainMessage(m);
    if ('reason' in parsed) invalid.push({ index, reason: parsed.reason });
    else messages.push({ ...parsed, key: parsed.id ?? keys.next(parsed.role, parsed.content, at), seq: index, createdAt: at });
  }
  const summary = channelValues.summary ?? channelValues.conversation_summary;
  if (typeof summary === 'string' && summary.trim()) messages.push(summaryMessage(summary, list.length, at));
  const customer = metadata.customer_id ?? channelValues.customer_id;
  return {
    layout: 'saver',
    conversationKey: thread,
    customerId: typeof customer === 'string' && customer ? customer : null,
    time,
    messages,
    invalid,
    messagesBlobVersion,
    namespace: typeof doc.checkpoint_ns === 'string' ? doc.checkpoint_ns : '',
    checkpointId: typeof doc.checkpoint_id === 'string' ? doc.checkpoint_id : undefined,
  };
}

function partial(doc: Record<string, unknown>, thread: string, time: Date | undefined, version: string): ParsedCheckpoint {
  return {
    layout: 'saver',
    conversationKey: thread,
    customerId: null,
    time,
    messages: [],
    invalid: [],
    messagesBlobVersion: version,
    namespace: typeof doc.checkpoint_ns === 'string' ? doc.checkpoint_ns : '',
    checkpointId: typeof doc.checkpoint_id === 'string' ? doc.checkpoint_id : undefined,
  };
}

/** A messages blob: a JSON array, or `{type: "json", blob: <array | JSON text>}`. */
function decodeBlob(blob: string): unknown {
  let v = parseJson(blob, 'Messages blob');
  if (isObject(v) && 'blob' in v) v = typeof v.blob === 'string' ? parseJson(v.blob, 'Messages blob payload') : v.blob;
  if (isObject(v) && Array.isArray(v.messages)) v = v.messages;
  return v;
}

type LcParsed = Omit<ArchivedMessage, 'key' | 'seq' | 'createdAt'> & { id?: string };

/** LangChain serialized (`{lc, type:"constructor", id:[..., "AIMessage"], kwargs}`) or dict messages. */
export function parseLangChainMessage(m: unknown): LcParsed | { reason: string } {
  if (!isObject(m)) return { reason: 'message is not an object' };
  let role: Role | undefined;
  let body: Record<string, unknown>;
  if (m.lc !== undefined && Array.isArray(m.id) && isObject(m.kwargs)) {
    const cls = String(m.id[m.id.length - 1] ?? '');
    body = m.kwargs;
    role = LC_CLASS_ROLES[cls] ?? (cls.startsWith('ChatMessage') && typeof body.role === 'string' ? ROLE_ALIASES[body.role] : undefined);
    if (!role) return { reason: `unknown message class ${cls}` };
  } else {
    body = isObject(m.data) ? m.data : m;
    const t = typeof m.type === 'string' ? m.type : typeof m.role === 'string' ? m.role : undefined;
    role = t ? ROLE_ALIASES[t.toLowerCase()] : undefined;
    if (!role) return { reason: `unknown message type ${JSON.stringify(m.type ?? m.role)}` };
  }
  const content = contentText(body.content);
  if (content === undefined) return { reason: 'content is neither text nor text parts' };
  const usage = isObject(body.usage_metadata) ? body.usage_metadata : {};
  const inDetails = isObject(usage.input_token_details) ? usage.input_token_details : {};
  const outDetails = isObject(usage.output_token_details) ? usage.output_token_details : {};
  const response = isObject(body.response_metadata) ? body.response_metadata : {};
  const model = response.model_name ?? response.model ?? body.model;
  const metadata: Record<string, unknown> = {};
  if (Array.isArray(body.tool_calls) && body.tool_calls.length > 0) metadata.tool_calls = body.tool_calls;
  if (typeof body.tool_call_id === 'string') metadata.tool_call_id = body.tool_call_id;
  if (typeof body.name === 'string') metadata.name = body.name;
  if (Array.isArray(body.content)) metadata.content_parts = body.content.length;
  return {
    id: typeof body.id === 'string' && body.id ? body.id : undefined,
    role,
    content,
    inputTokens: nonNegInt(usage.input_tokens),
    outputTokens: nonNegInt(usage.output_tokens),
    cachedTokens: nonNegInt(inDetails.cache_read),
    reasoningTokens: nonNegInt(outDetails.reasoning),
    model: typeof model === 'string' ? model : null,
    metadata,
  };
}

/** `checkpoint:{thread}:{ns}:{id}` → thread and ns (the id is the last segment, ns the one before). */
export function saverKeyParts(key: string, prefix: string): { thread: string; ns: string; id: string } | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const parts = key.slice(prefix.length).split(':');
  if (parts.length < 3) return undefined;
  const id = parts.pop() as string;
  const ns = parts.pop() as string;
  return { thread: parts.join(':'), ns, id };
}
