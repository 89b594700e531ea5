/** Realistic checkpoints in both layouts, for tests, the demo and the benchmarks. */
import type { Redis } from 'ioredis';

export const HOUR_MS = 3_600_000;

/**
 * The fields of a model's answer that calls a tool, as LangChain's `AIMessage` carries them: the
 * tool call, token usage (with cache and reasoning details) and the model's name.
 */
export const toolCallAnswer = (callId: string) => ({
  tool_calls: [{ name: 'find_slots', args: { day: 'tue' }, id: callId, type: 'tool_call' as const }],
  usage_metadata: {
    input_tokens: 120,
    output_tokens: 15,
    total_tokens: 135,
    input_token_details: { cache_read: 100 },
    output_token_details: { reasoning: 4 },
  },
  response_metadata: { model_name: 'gpt-4o-mini' },
});

export interface SeedMessage {
  role: string;
  content: unknown;
  timestamp?: string | number;
  metadata?: Record<string, unknown>;
}

/** Seed 000's value: `{"v":1,"ts":...,"data":{conversation_id, customer_id, messages, conversation_summary}}`. */
export function seedValue(o: {
  conversationId: string;
  customerId?: string | null;
  messages: SeedMessage[];
  summary?: string;
  ts?: string | number;
}): string {
  return JSON.stringify({
    v: 1,
    ts: o.ts,
    data: {
      conversation_id: o.conversationId,
      ...(o.customerId === undefined ? {} : { customer_id: o.customerId }),
      messages: o.messages,
      ...(o.summary ? { conversation_summary: o.summary } : {}),
    },
  });
}

/** A LangChain serialized message, as the savers store them. */
export function lc(cls: 'HumanMessage' | 'AIMessage' | 'SystemMessage' | 'ToolMessage', kwargs: Record<string, unknown>) {
  return {
    lc: 1,
    type: 'constructor',
    id: ['langchain_core', 'messages', cls],
    kwargs: { additional_kwargs: {}, response_metadata: {}, ...kwargs },
  };
}

/** A `checkpoint:{thread}:{ns}:{id}` document of the LangGraph Redis savers. */
export function saverDoc(o: {
  thread: string;
  ns?: string;
  id: string;
  tsMs: number;
  messages?: unknown[];
  messagesVersion?: string;
  customerId?: string;
  checkpointAsString?: boolean;
}): string {
  const checkpoint = {
    v: 1,
    id: o.id,
    ts: new Date(o.tsMs).toISOString(),
    channel_values: o.messages ? { messages: o.messages } : {},
    channel_versions: { __start__: '1', messages: o.messagesVersion ?? '2' },
    versions_seen: {},
  };
  return JSON.stringify({
    thread_id: o.thread,
    checkpoint_ns: o.ns ?? '',
    checkpoint_id: o.id,
    parent_checkpoint_id: null,
    checkpoint: o.checkpointAsString ? JSON.stringify(checkpoint) : checkpoint,
    metadata: { source: 'loop', step: 3, ...(o.customerId ? { customer_id: o.customerId } : {}) },
    checkpoint_ts: o.tsMs,
  });
}

/** SET with the 24 h TTL the app uses, reduced by the checkpoint's age. */
export async function putWithAge(redis: Redis, key: string, value: string, ageMs: number, ttlMs = 24 * HOUR_MS): Promise<void> {
  const remaining = Math.max(1_000, Math.round(ttlMs - ageMs));
  await redis.set(key, value, 'PX', remaining);
}

const WORDS = [
  'hola',
  'quiero',
  'reservar',
  'una',
  'cita',
  'para',
  'mañana',
  'corte',
  'de',
  'pelo',
  'precio',
  'gracias',
  'hello',
  'booking',
  'tomorrow',
  'haircut',
  'price',
  'please',
  'available',
  'morning',
  'afternoon',
  'confirm',
];

/** Deterministic pseudo-random text. */
export function sentence(seed: number, words = 12): string {
  let x = seed * 2654435761;
  const out: string[] = [];
  for (let i = 0; i < words; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out.push(WORDS[x % WORDS.length] as string);
  }
  return out.join(' ');
}
