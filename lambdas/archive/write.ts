/**
 * Write stage: conversations upserted, messages upserted by their idempotency key. A message
 * whose content changed under its key takes the newer version (the earlier one goes to
 * `metadata.previous_versions`); NUL and lone surrogates are stored as U+FFFD with the exact
 * original in `metadata.original_json` (JSON text: `JSON.parse` gives the original back); a row
 * larger than a Data API request is written in pieces (inserted with its first piece, the rest
 * appended in the same transaction). A row is replaced only by a version at least as new as its own
 * (`version_at`, the time of the checkpoint it was read from): an older checkpoint archived after a
 * newer one changes nothing. Rows are de-duplicated per batch (a batch may hold two
 * checkpoints of one conversation) and written in key order (no deadlock between batches).
 *
 * A message row new to PostgreSQL may have an earlier version in cold storage (its thread came back
 * after retention moved part of it): the upsert notes its conversation (sql/024), and the next
 * retention run keeps only the newest version (restore.ts, foldReturned).
 */
import { createHash } from 'node:crypto';
import { jsonChunks } from '../shared/sql/bulk';
import { p, type SqlExecutor } from '../shared/sql/types';
import type { ArchivedMessage } from './thread';
import { hash, hasUnstorable, storable, storableDeep } from './values';

export interface WriteUnit {
  readonly conversationKey: string;
  readonly customerId: string | null;
  readonly layout: 'seed' | 'saver';
  readonly messages: readonly ArchivedMessage[];
  readonly fallbackTime: Date;
}

export interface WriteResult {
  readonly inserted: number;
  readonly updated: number;
}

/** Characters per piece of a large content: at most ~1 MiB of UTF-8. */
export const CONTENT_PIECE_CHARS = 300_000;

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

interface Row {
  ck: string;
  k: string;
  s: number;
  r: string;
  c: string;
  t: string;
  it: number;
  ot: number;
  ct: number;
  rt: number;
  mo: string | null;
  md: Record<string, unknown>;
  v: string;
}

/** A key PostgreSQL can store (text without NUL, valid UTF-8), the same every run. */
export const storableKey = (k: string) => (hasUnstorable(k) ? `esc:${hash(k)}` : k);

function toRow(ck: string, m: ArchivedMessage): Row {
  const meta = storableDeep(m.metadata);
  const contentChanged = hasUnstorable(m.content);
  const md = meta.value as Record<string, unknown>;
  if (contentChanged || meta.changed) md.original_json = JSON.stringify({ content: m.content, metadata: m.metadata });
  const k = storableKey(m.key);
  if (k !== m.key) md.original_key_json = JSON.stringify(m.key);
  return {
    ck,
    k,
    s: m.seq,
    r: m.role,
    c: contentChanged ? storable(m.content) : m.content,
    t: m.createdAt,
    it: m.inputTokens,
    ot: m.outputTokens,
    ct: m.cachedTokens,
    rt: m.reasoningTokens,
    mo: m.model === null ? null : storable(m.model),
    md,
    v: m.versionAt,
  };
}

const UPSERT = `WITH w AS (INSERT INTO messages (conversation_id, message_key, seq, role, content, created_at, source,
                             input_tokens, output_tokens, cached_tokens, reasoning_tokens, model, metadata, language, version_at)
       SELECT c.id, r.k, r.s, r.r, r.c, r.t, 'redis_archive', r.it, r.ot, r.ct, r.rt, r.mo, COALESCE(r.md, '{}'::jsonb), detect_language(r.c), r.v
       FROM json_to_recordset($1::json) AS r(ck text, k text, s int, r text, c text, t timestamptz,
                                               it int, ot int, ct int, rt int, mo text, md jsonb, v timestamptz)
       JOIN conversations c ON c.conversation_key = r.ck
       ON CONFLICT (conversation_id, message_key) DO UPDATE SET
         seq = EXCLUDED.seq, role = EXCLUDED.role, content = EXCLUDED.content,
         input_tokens = EXCLUDED.input_tokens, output_tokens = EXCLUDED.output_tokens,
         cached_tokens = EXCLUDED.cached_tokens, reasoning_tokens = EXCLUDED.reasoning_tokens,
         model = EXCLUDED.model, language = EXCLUDED.language, version_at = EXCLUDED.version_at, updated_at = now(),
         metadata = EXCLUDED.metadata || jsonb_build_object('previous_versions',
           COALESCE(messages.metadata -> 'previous_versions', '[]'::jsonb)
           || jsonb_build_array(jsonb_build_object('content', messages.content, 'role', messages.role, 'replaced_at', now()))
           || COALESCE(EXCLUDED.metadata -> 'previous_versions', '[]'::jsonb))
       WHERE ((CASE WHEN EXCLUDED.metadata ? 'content_md5' THEN md5(messages.content) IS DISTINCT FROM EXCLUDED.metadata ->> 'content_md5'
                    ELSE messages.content IS DISTINCT FROM EXCLUDED.content END)
              OR messages.role IS DISTINCT FROM EXCLUDED.role
              OR (messages.metadata - 'previous_versions') IS DISTINCT FROM (EXCLUDED.metadata - 'previous_versions'))
         -- never back to an earlier version: an older checkpoint archived after a newer one changes nothing (sql/026)
         AND (messages.version_at IS NULL OR EXCLUDED.version_at >= messages.version_at)
       RETURNING (xmax = 0) AS inserted, conversation_id),
     n AS (SELECT note_conversation_returns(array_agg(DISTINCT conversation_id)) AS noted FROM w WHERE inserted)
     SELECT count(*) FILTER (WHERE inserted)::int AS inserted, count(*) FILTER (WHERE NOT inserted)::int AS updated,
            (SELECT noted FROM n) AS noted FROM w`;

export async function writeUnits(tx: SqlExecutor, units: readonly WriteUnit[], runId: string | undefined): Promise<WriteResult> {
  // Conversations: one row per key even when the batch holds several checkpoints of it.
  const conversations = new Map<
    string,
    { key: string; customer_id: string | null; started_at: string; last_message_at: string | null; metadata: Record<string, unknown> }
  >();
  for (const u of units) {
    const times = u.messages.map((m) => m.createdAt).sort();
    const row = {
      key: storableKey(u.conversationKey),
      customer_id: u.customerId === null ? null : storable(u.customerId),
      started_at: times[0] ?? u.fallbackTime.toISOString(),
      last_message_at: times[times.length - 1] ?? null,
      metadata: {
        archived_from: u.layout === 'seed' ? 'langgraph_checkpoint' : 'langgraph_redis_saver',
        archive_run: runId ?? null,
        ...(storableKey(u.conversationKey) !== u.conversationKey ? { original_key_json: JSON.stringify(u.conversationKey) } : {}),
      },
    };
    const prev = conversations.get(row.key);
    conversations.set(
      row.key,
      prev
        ? {
            ...row,
            customer_id: row.customer_id ?? prev.customer_id,
            started_at: prev.started_at < row.started_at ? prev.started_at : row.started_at,
            last_message_at: (prev.last_message_at ?? '') > (row.last_message_at ?? '') ? prev.last_message_at : row.last_message_at,
          }
        : row,
    );
  }
  for (const chunk of jsonChunks([...conversations.values()].sort((a, b) => cmp(a.key, b.key)))) {
    await tx.execute(
      `INSERT INTO conversations (conversation_key, source, customer_id, started_at, last_message_at, metadata)
       SELECT r.key, 'redis_archive', r.customer_id, r.started_at, r.last_message_at, r.metadata
       FROM json_to_recordset($1::json) AS r(key text, customer_id text, started_at timestamptz, last_message_at timestamptz, metadata jsonb)
       ON CONFLICT (conversation_key) DO UPDATE SET
         customer_id     = COALESCE(EXCLUDED.customer_id, conversations.customer_id),
         started_at      = LEAST(conversations.started_at, EXCLUDED.started_at),
         last_message_at = GREATEST(conversations.last_message_at, EXCLUDED.last_message_at),
         metadata        = conversations.metadata || EXCLUDED.metadata,
         updated_at      = now()`,
      [chunk.param],
    );
  }
  // Messages: one row per (conversation, key) — the newest version when two checkpoints hold it.
  const rows = new Map<string, Row>();
  for (const u of units) {
    const ck = storableKey(u.conversationKey);
    for (const m of u.messages) {
      const row = toRow(ck, m);
      const id = `${ck}\u0000${row.k}`;
      const prev = rows.get(id);
      if (!prev || prev.v <= row.v) rows.set(id, row);
    }
  }
  const small: Row[] = [];
  const large: Row[] = [];
  for (const r of rows.values()) (r.c.length > CONTENT_PIECE_CHARS ? large : small).push(r);
  small.sort((a, b) => cmp(a.ck, b.ck) || a.s - b.s || cmp(a.k, b.k));
  let inserted = 0;
  let updated = 0;
  for (const chunk of jsonChunks(small)) {
    const [res] = await tx.query<{ inserted: number; updated: number }>(UPSERT, [chunk.param]);
    inserted += res?.inserted ?? 0;
    updated += res?.updated ?? 0;
  }
  for (const r of large) {
    const pieces = splitContent(r.c);
    const first = { ...r, c: pieces[0] ?? '', md: { ...r.md, content_md5: createHash('md5').update(r.c, 'utf8').digest('hex') } };
    const [res] = await tx.query<{ inserted: number; updated: number }>(UPSERT, [p.json([first])]);
    inserted += res?.inserted ?? 0;
    updated += res?.updated ?? 0;
    if (!res || res.inserted + res.updated === 0) continue;
    for (const piece of pieces.slice(1)) {
      await tx.execute(
        `UPDATE messages SET content = content || $3::text
         WHERE conversation_id = (SELECT id FROM conversations WHERE conversation_key = $1::text) AND message_key = $2::text`,
        [p.text(r.ck), p.text(r.k), p.text(piece)],
      );
    }
  }
  return { inserted, updated };
}

/** `s` in pieces of at most CONTENT_PIECE_CHARS, never splitting a surrogate pair. */
export function splitContent(s: string): string[] {
  const out: string[] = [];
  for (let at = 0; at < s.length; ) {
    let end = Math.min(s.length, at + CONTENT_PIECE_CHARS);
    const last = s.charCodeAt(end - 1);
    if (end < s.length && last >= 0xd800 && last <= 0xdbff) end--;
    out.push(s.slice(at, end));
    at = end;
  }
  return out;
}
