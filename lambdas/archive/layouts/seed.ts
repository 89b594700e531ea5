/**
 * Seed 000's layout: `langgraph:checkpoint:{conversation_id}:{checkpoint_ns}` holding
 * `{"v":1,"ts":...,"data":{conversation_id, customer_id, messages:[...], conversation_summary}}`.
 */
import type { Snapshot } from '../thread';
import { CheckpointFormatError, describe, isObject, parseJson, toDate } from '../values';

/** `langgraph:checkpoint:wa:msg:abc:1698765432` → conversation `wa:msg:abc`, ns `1698765432`. */
export function seedKeyParts(key: string, prefix: string): { conversationId: string; ns: string } | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const rest = key.slice(prefix.length);
  const i = rest.lastIndexOf(':');
  if (i <= 0) return rest ? { conversationId: rest, ns: '' } : undefined;
  return { conversationId: rest.slice(0, i), ns: rest.slice(i + 1) };
}

export interface SeedCheckpoint {
  readonly conversationKey: string;
  readonly customerId: string | null;
  /** The checkpoint's own time, else its numeric namespace. */
  readonly time: Date | undefined;
  readonly snapshot: Snapshot;
}

export function parseSeedCheckpoint(key: string, raw: string, prefix: string): SeedCheckpoint {
  const doc = parseJson(raw, 'Checkpoint value');
  if (!isObject(doc)) throw new CheckpointFormatError('Checkpoint value is not a JSON object');
  if (doc.v !== undefined && doc.v !== 1)
    throw new CheckpointFormatError(`Unsupported checkpoint version ${typeof doc.v === 'number' ? doc.v : `(${describe(doc.v)})`}`);
  const data = doc.data;
  if (!isObject(data)) throw new CheckpointFormatError('Checkpoint has no "data" object');
  const fromKey = seedKeyParts(key, prefix);
  const conversationKey = typeof data.conversation_id === 'string' && data.conversation_id ? data.conversation_id : fromKey?.conversationId;
  if (!conversationKey) throw new CheckpointFormatError('Checkpoint has no conversation_id');
  if (!Array.isArray(data.messages)) throw new CheckpointFormatError('Checkpoint data.messages is not an array');
  const own = toDate(doc.ts);
  const nsTime = fromKey?.ns && /^\d+$/.test(fromKey.ns) ? toDate(Number(fromKey.ns)) : undefined;
  const customer = data.customer_id;
  const summary = typeof data.conversation_summary === 'string' && data.conversation_summary.trim() ? data.conversation_summary : undefined;
  return {
    conversationKey,
    customerId: typeof customer === 'string' && customer ? customer : typeof customer === 'number' ? String(customer) : null,
    time: own ?? nsTime,
    snapshot: { source: key, format: 'seed', time: own ?? nsTime, list: data.messages, summary },
  };
}
