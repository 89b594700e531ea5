/**
 * A conversation's messages from all the checkpoints of its thread (assemble stage, pure).
 *
 * Idempotency keys are stable whatever checkpoint a message is read from: the message id; for
 * id-less messages, role + content + occurrence index within the list (never a checkpoint time).
 * The same id twice in one list with different messages: both kept, the second as `{id}~{n}`
 * (counted). A message whose content changed under the same id takes the newest checkpoint's
 * version; the earlier versions go to `metadata.previous_versions`.
 */
import { type InvalidMessage, type ParsedMessage, parseLangChainMessage, parseSeedMessage, type Role } from './messages';
import { hash, toDate } from './values';

/** One checkpoint's view of the conversation. */
export interface Snapshot {
  /** The Redis key it was read from. */
  readonly source: string;
  readonly format: 'seed' | 'langchain';
  readonly time: Date | undefined;
  /** Its messages; undefined when the checkpoint declares none. */
  readonly list: readonly unknown[] | undefined;
  readonly summary?: string;
}

export interface ArchivedMessage {
  readonly key: string;
  readonly seq: number;
  readonly role: Role;
  readonly content: string;
  /** ISO-8601: the message's own time, else when a checkpoint first held it. */
  readonly createdAt: string;
  /** ISO-8601: the time of the checkpoint this version comes from (newer versions replace older ones). */
  readonly versionAt: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedTokens: number;
  readonly reasoningTokens: number;
  readonly model: string | null;
  readonly metadata: Record<string, unknown>;
}

export interface AssembledMessages {
  readonly messages: ArchivedMessage[];
  readonly invalid: (InvalidMessage & { source: string })[];
  /** Different messages found under one id (kept under disambiguated keys). */
  readonly idConflicts: number;
}

const same = (a: ParsedMessage, b: ParsedMessage) =>
  a.role === b.role && a.content === b.content && JSON.stringify(a.metadata) === JSON.stringify(b.metadata);

export function assembleMessages(snapshots: readonly Snapshot[], fallback: Date): AssembledMessages {
  const ordered = [...snapshots].sort(
    (a, b) => (a.time?.getTime() ?? 0) - (b.time?.getTime() ?? 0) || (a.source < b.source ? -1 : a.source > b.source ? 1 : 0),
  );
  const byKey = new Map<string, { m: ParsedMessage; seq: number; first: Date; at: Date; previous: { content: string; at: string }[] }>();
  const invalid = new Map<string, InvalidMessage & { source: string }>();
  let idConflicts = 0;
  const conflictKeys = new Set<string>();
  const iso = new Map<Date, string>();
  const isoOf = (d: Date) => {
    let s = iso.get(d);
    if (s === undefined) {
      s = d.toISOString();
      iso.set(d, s);
    }
    return s;
  };
  for (const snap of ordered) {
    const at = snap.time ?? fallback;
    const list = snap.list ?? [];
    const ids = new Map<string, number>();
    const contents = new Map<string, number>();
    for (const [index, raw] of list.entries()) {
      const parsed = snap.format === 'seed' ? parseSeedMessage(raw, toDate) : parseLangChainMessage(raw);
      if ('reason' in parsed) {
        invalid.set(hash(JSON.stringify(raw) ?? 'undefined'), { index, reason: parsed.reason, source: snap.source });
        continue;
      }
      let key: string;
      if (parsed.id !== undefined) {
        const n = ids.get(parsed.id) ?? 0;
        ids.set(parsed.id, n + 1);
        const base = parsed.id.length > 400 ? `id:${hash(parsed.id)}` : parsed.id;
        key = n === 0 ? base : `${base}~${n}`;
        if (n > 0 && !conflictKeys.has(key)) {
          conflictKeys.add(key);
          idConflicts++;
        }
      } else {
        const base = hash(parsed.role, parsed.content);
        const n = contents.get(base) ?? 0;
        contents.set(base, n + 1);
        key = `sha:${base}${n > 0 ? `:${n}` : ''}`;
      }
      const seen = byKey.get(key);
      if (!seen) byKey.set(key, { m: parsed, seq: index, first: parsed.time ?? at, at, previous: [] });
      else {
        if (!same(seen.m, parsed)) {
          seen.previous.push({ content: seen.m.content, at: isoOf(seen.at) });
          seen.m = parsed;
        }
        seen.seq = index;
        seen.at = at;
      }
    }
    if (snap.summary) {
      const key = `summary:${hash(snap.summary)}`;
      if (!byKey.has(key))
        byKey.set(key, {
          m: {
            id: undefined,
            role: 'system',
            content: snap.summary,
            inputTokens: 0,
            outputTokens: 0,
            cachedTokens: 0,
            reasoningTokens: 0,
            model: null,
            metadata: { summary: true },
          },
          seq: list.length,
          first: at,
          at,
          previous: [],
        });
    }
  }
  const messages: ArchivedMessage[] = [];
  for (const [key, { m, seq, first, at, previous }] of byKey) {
    messages.push({
      key,
      seq,
      role: m.role,
      content: m.content,
      createdAt: first.toISOString(),
      versionAt: isoOf(at),
      inputTokens: m.inputTokens,
      outputTokens: m.outputTokens,
      cachedTokens: m.cachedTokens,
      reasoningTokens: m.reasoningTokens,
      model: m.model,
      metadata: previous.length > 0 ? { ...m.metadata, previous_versions: previous } : m.metadata,
    });
  }
  return { messages, invalid: [...invalid.values()], idConflicts };
}
