/**
 * Where a person's identifiers live, per table: the one registry that retention's export (the
 * subject index of each cold object), restore's successor objects and the erasure read.
 */
import type { TextRow } from '../retention/parquet';

/**
 * conversation: a conversation key (LangGraph thread id, seed 000's conversation id, `lead:<id>`);
 * conversation_id: the internal uuid; customer; contact: a phone (E.164) or Messenger PSID; lead; guest.
 */
export type SubjectKind = 'conversation' | 'conversation_id' | 'customer' | 'contact' | 'lead' | 'guest';
export const SUBJECT_KINDS: readonly SubjectKind[] = ['conversation', 'conversation_id', 'customer', 'contact', 'lead', 'guest'];

export interface Identifier {
  readonly kind: SubjectKind;
  readonly value: string;
}

/** The identifiers a row holds, read from its columns (by name) as exported. */
type Extract = (get: (column: string) => string | null) => Identifier[];

const col =
  (kind: SubjectKind, column: string): Extract =>
  (get) => {
    const v = get(column);
    return v === null || v === '' ? [] : [{ kind, value: v }];
  };
const all =
  (...parts: Extract[]): Extract =>
  (get) =>
    parts.flatMap((p) => p(get));

/** Every prefix of a Redis key's tail that ends before a `:`: one of them is the thread (ids may contain `:`). */
function threadCandidates(key: string): string[] {
  const m = /^(?:langgraph:checkpoint:|checkpoint_blob:|checkpoint_write:|checkpoint_latest:|write_keys_zset:|checkpoint:)(.*)$/.exec(key);
  if (!m) return [];
  const rest = m[1] as string;
  const out = [rest];
  for (let i = rest.indexOf(':'); i > 0; i = rest.indexOf(':', i + 1)) out.push(rest.slice(0, i));
  return out;
}

/** Identifiers in a rejected event's raw text, when it parses as an event (else none: see docs/privacy.md). */
const fromRawEvent: Extract = (get) => {
  const raw = get('raw');
  if (!raw) return [];
  try {
    const e = JSON.parse(raw) as Record<string, unknown>;
    const out: Identifier[] = [];
    if (typeof e.guestId === 'string' && e.guestId) out.push({ kind: 'guest', value: e.guestId });
    if (typeof e.conversationId === 'string' && e.conversationId) out.push({ kind: 'conversation', value: e.conversationId });
    return out;
  } catch {
    return [];
  }
};

export const SUBJECT_COLUMNS: Readonly<Record<string, Extract>> = {
  messages: col('conversation_id', 'conversation_id'),
  conversations: all(
    col('conversation_id', 'id'),
    col('conversation', 'conversation_key'),
    col('customer', 'customer_id'),
    col('contact', 'external_id'),
    col('lead', 'lead_id'),
  ),
  analytics_events: all(col('guest', 'guest_id'), col('conversation', 'conversation_id')),
  analytics_events_rejected: fromRawEvent,
  checkpoint_quarantine: (get) => threadCandidates(get('redis_key') ?? '').map((value) => ({ kind: 'conversation' as const, value })),
};

/** The identifiers of `rows` (distinct), for the subject index of the object that holds them. */
export function identifiersOf(table: string, columns: readonly string[], rows: Iterable<TextRow>, into: Map<string, Identifier>): void {
  const extract = SUBJECT_COLUMNS[table];
  if (!extract) return;
  const at = new Map(columns.map((c, i) => [c, i]));
  for (const r of rows) {
    const get = (c: string) => {
      const i = at.get(c);
      return i === undefined ? null : (r[i] ?? null);
    };
    for (const id of extract(get)) into.set(`${id.kind}\u0000${id.value}`, id);
  }
}
