/**
 * One message, as LangChain stores it (serialized class or plain dict) or as seed 000 writes it,
 * into the row shape. Text is what LangChain's own `message.text` shows (text parts concatenated
 * with nothing between); everything else of the message (non-text parts, additional_kwargs, tool
 * calls) is kept in metadata. Pure: no I/O.
 */
import { describe, isObject } from './values';

export type Role = 'user' | 'assistant' | 'system' | 'tool';

/** A message of one checkpoint, before the thread gives it its key and time. */
export interface ParsedMessage {
  /** The LangChain message id, when it has a string one. */
  readonly id: string | undefined;
  readonly role: Role;
  readonly content: string;
  /** Seed layout: the message's own time. */
  readonly time?: Date;
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

/** A name from the data, shown only when it looks like an identifier. */
const shown = (v: unknown) => (typeof v === 'string' && /^[A-Za-z_][\w.-]{0,63}$/.test(v) ? v : `(${describe(v)})`);

/** LangChain's `message.text`: a string as is; of a list, the text parts concatenated. */
export function contentText(content: unknown): { text: string; nonText: boolean } | undefined {
  if (typeof content === 'string') return { text: content, nonText: false };
  if (!Array.isArray(content)) return undefined;
  let text = '';
  let nonText = false;
  for (const part of content) {
    if (typeof part === 'string') text += part;
    else if (isObject(part) && part.type === 'text' && typeof part.text === 'string') text += part.text;
    else nonText = true;
  }
  return { text, nonText };
}

const nonNegInt = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.min(Math.round(v), 2_147_483_647) : 0);

/** LangChain serialized (`{lc, type:"constructor", id:[..., "AIMessage"], kwargs}`) or dict messages. */
export function parseLangChainMessage(m: unknown): ParsedMessage | { reason: string } {
  if (!isObject(m)) return { reason: 'message is not an object' };
  let role: Role | undefined;
  let body: Record<string, unknown>;
  if (m.lc !== undefined && Array.isArray(m.id) && isObject(m.kwargs)) {
    const cls = String(m.id[m.id.length - 1] ?? '');
    body = m.kwargs;
    role = LC_CLASS_ROLES[cls] ?? (cls.startsWith('ChatMessage') && typeof body.role === 'string' ? ROLE_ALIASES[body.role] : undefined);
    if (!role) return { reason: `unknown message class ${shown(cls)}` };
  } else {
    body = isObject(m.data) ? m.data : m;
    const t = typeof m.type === 'string' ? m.type : typeof m.role === 'string' ? m.role : undefined;
    role = t ? ROLE_ALIASES[t.toLowerCase()] : undefined;
    if (!role) return { reason: `unknown message type ${shown(m.type ?? m.role)}` };
  }
  const content = contentText(body.content);
  if (content === undefined) return { reason: `content is neither text nor a list of parts (${describe(body.content)})` };
  const usage = isObject(body.usage_metadata) ? body.usage_metadata : {};
  const inDetails = isObject(usage.input_token_details) ? usage.input_token_details : {};
  const outDetails = isObject(usage.output_token_details) ? usage.output_token_details : {};
  const response = isObject(body.response_metadata) ? body.response_metadata : {};
  const model = response.model_name ?? response.model ?? body.model;
  const metadata: Record<string, unknown> = {};
  if (Array.isArray(body.tool_calls) && body.tool_calls.length > 0) metadata.tool_calls = body.tool_calls;
  if (Array.isArray(body.invalid_tool_calls) && body.invalid_tool_calls.length > 0) metadata.invalid_tool_calls = body.invalid_tool_calls;
  if (typeof body.tool_call_id === 'string') metadata.tool_call_id = body.tool_call_id;
  if (typeof body.name === 'string') metadata.name = body.name;
  if (content.nonText) metadata.content_parts = body.content;
  if (isObject(body.additional_kwargs) && Object.keys(body.additional_kwargs).length > 0)
    metadata.additional_kwargs = body.additional_kwargs;
  if (body.id !== undefined && body.id !== null && typeof body.id !== 'string') metadata.original_id = body.id;
  return {
    id: typeof body.id === 'string' && body.id ? body.id : undefined,
    role,
    content: content.text,
    inputTokens: nonNegInt(usage.input_tokens),
    outputTokens: nonNegInt(usage.output_tokens),
    cachedTokens: nonNegInt(inDetails.cache_read),
    reasoningTokens: nonNegInt(outDetails.reasoning),
    model: typeof model === 'string' ? model : null,
    metadata,
  };
}

/** Seed 000's message: `{role, content, timestamp, metadata}`. */
export function parseSeedMessage(m: unknown, toTime: (v: unknown) => Date | undefined): ParsedMessage | { reason: string } {
  if (!isObject(m)) return { reason: 'message is not an object' };
  const role = typeof m.role === 'string' ? ROLE_ALIASES[m.role.toLowerCase()] : undefined;
  if (!role) return { reason: `unknown role ${shown(m.role)}` };
  const content = contentText(m.content);
  if (content === undefined) return { reason: `content is not text (${describe(m.content)})` };
  const metadata: Record<string, unknown> = isObject(m.metadata) ? { ...m.metadata } : {};
  if (content.nonText) metadata.content_parts = m.content;
  return {
    id: typeof m.id === 'string' && m.id ? m.id : undefined,
    role,
    content: content.text,
    time: toTime(m.timestamp),
    inputTokens: nonNegInt(metadata.input_tokens),
    outputTokens: nonNegInt(metadata.output_tokens),
    cachedTokens: 0,
    reasoningTokens: 0,
    model: typeof metadata.model === 'string' ? metadata.model : null,
    metadata,
  };
}
