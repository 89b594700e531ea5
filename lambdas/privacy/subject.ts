/**
 * One person's data (GDPR Art. 15, 17, 20): found in every store from any identifier the system
 * knows, handed over, and erased for good — with a receipt that holds no personal data.
 *
 * Finding resolves identifiers into each other (a lead's phone → its conversations → their messages
 * → the events of those conversations → the checkpoints of those threads) without scanning the cold
 * tier: the subject index says which objects hold whom. Erasure runs in phases, each idempotent, so
 * an erasure interrupted anywhere completes on the next call with the same identifiers (its request
 * id is derived from them): tombstones first (nothing of the subject from before the erasure can come
 * back: sql/020's triggers), then Redis (compare-and-delete, as the archive deletes), PostgreSQL (one
 * transaction), cold objects (copy-on-write under the retention lease, then every version of the old
 * object removed), and the receipt (table `erasures` and S3 `_erasures/<request>.json`).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { strToU8, zipSync } from 'fflate';
import type { RetentionPolicy } from '../../lib/config';
import type { CheckpointStore, RawEntry } from '../archive/redis-store';
import type { ColdStore } from '../retention/cold-store';
import { type ObjectFooter, readBack, type TextRow } from '../retention/parquet';
import { tableShape } from '../retention/policies';
import { retireObject } from '../retention/retire';
import { supersede } from '../retention/rewrite';
import { DatabaseLease, type Fence, holdFence } from '../shared/db-lease';
import type { Log } from '../shared/observability';
import { type Clock, systemClock } from '../shared/runtime';
import type { Sql, SqlExecutor } from '../shared/sql/types';
import { INDEXED } from './subject-index';
import { type Identifier, identifiersOf, SUBJECT_COLUMNS, type SubjectKind } from './subjects';

export interface SubjectDeps {
  readonly sql: Sql;
  readonly store: ColdStore;
  /** Live checkpoints (absent: Redis is not searched, and the result says so). */
  readonly redis?: CheckpointStore;
  readonly log: Log;
  readonly clock?: Clock;
  readonly policies: readonly RetentionPolicy[];
  readonly rowGroupRows?: number;
}

export class SubjectError extends Error {
  override readonly name = 'SubjectError';
}

/** A contact (phone, PSID) as compared everywhere: without spaces, dashes, dots or parentheses (as `subject_digest`). */
export const normalizeContact = (v: string): string => v.replace(/[\s().-]/g, '');

/** Everything one person is known by, resolved. */
export class Subject {
  readonly ids: Record<SubjectKind, Set<string>> = {
    conversation: new Set(),
    conversation_id: new Set(),
    customer: new Set(),
    contact: new Set(),
    lead: new Set(),
    guest: new Set(),
  };

  add(kind: SubjectKind, value: string | null | undefined): boolean {
    if (value === null || value === undefined || value === '') return false;
    const v = kind === 'contact' ? normalizeContact(value) : value;
    const set = this.ids[kind];
    if (set.has(v)) return false;
    set.add(v);
    return true;
  }

  has(id: Identifier): boolean {
    return this.ids[id.kind].has(id.kind === 'contact' ? normalizeContact(id.value) : id.value);
  }

  get size(): number {
    return Object.values(this.ids).reduce((a, s) => a + s.size, 0);
  }

  identifiers(): Identifier[] {
    return (Object.entries(this.ids) as [SubjectKind, Set<string>][]).flatMap(([kind, set]) => [...set].map((value) => ({ kind, value })));
  }

  list(kind: SubjectKind): string {
    return JSON.stringify([...this.ids[kind]]);
  }
}

/** Where the subject's data is: per store, what holds it and how much. */
export interface Findings {
  /** Digests of the identifiers resolved (no personal data). */
  readonly identifiers: number;
  readonly postgres: Record<string, number>;
  readonly redis: { readonly searched: boolean; readonly keys: string[] };
  readonly cold: { table: string; key: string; rows: number }[];
  /** Cold objects read to find them (only those the subject index names). */
  readonly objectsRead: number;
}

const HOT: readonly { table: string; where: string }[] = [
  { table: 'conversations', where: `id::text IN (SELECT jsonb_array_elements_text($conversation_id))` },
  { table: 'messages', where: `conversation_id::text IN (SELECT jsonb_array_elements_text($conversation_id))` },
  { table: 'leads', where: `id::text IN (SELECT jsonb_array_elements_text($lead))` },
  { table: 'audits', where: `lead_id::text IN (SELECT jsonb_array_elements_text($lead))` },
  // which audit became which backfilled message (sql/022), by the lead's conversation key
  { table: 'backfill_audit_messages', where: `conversation_key IN (SELECT jsonb_array_elements_text($conversation))` },
  {
    table: 'analytics_events',
    where: `guest_id IN (SELECT jsonb_array_elements_text($guest)) OR conversation_id IN (SELECT jsonb_array_elements_text($conversation))`,
  },
  // The dashboard's per-conversation state (sql/010), kept by triggers on analytics_events; its entity is the conversation key.
  { table: 'analytics_lifecycle_state', where: `kind = 'conversation' AND entity_id IN (SELECT jsonb_array_elements_text($conversation))` },
  { table: 'analytics_events_rejected', where: `EXISTS (SELECT 1 FROM jsonb_array_elements_text($needles) n WHERE strpos(raw, n) > 0)` },
  {
    table: 'checkpoint_quarantine',
    where: `EXISTS (SELECT 1 FROM jsonb_array_elements_text($conversation) n WHERE strpos(redis_key, n) > 0 OR strpos(coalesce(raw_value, ''), n) > 0)`,
  },
];

/** `$kind` placeholders → JSON array parameters (the Data API has no arrays). */
function bind(where: string, s: Subject): { text: string; params: { sqlType: 'jsonb'; value: unknown }[] } {
  const params: { sqlType: 'jsonb'; value: unknown }[] = [];
  const at = new Map<string, number>();
  const text = where.replace(/\$(conversation_id|conversation|customer|contact|lead|guest|needles)\b/g, (_, name: string) => {
    let n = at.get(name);
    if (n === undefined) {
      const values = name === 'needles' ? needles(s) : [...s.ids[name as SubjectKind]];
      params.push({ sqlType: 'jsonb', value: values });
      n = params.length;
      at.set(name, n);
    }
    return `$${n}::jsonb`;
  });
  return { text, params };
}

/** Strings whose presence in raw text means the subject (rejected events keep bytes, not columns). */
function needles(s: Subject): string[] {
  return [...s.ids.guest, ...s.ids.conversation, ...s.ids.contact, ...s.ids.customer].filter((v) => v.length >= 4);
}

/** Resolves identifiers into each other, hot and cold, until nothing new appears. */
export async function resolve(deps: SubjectDeps, given: readonly Identifier[]): Promise<{ subject: Subject; objectsRead: number }> {
  if (given.length === 0) throw new SubjectError('Name the subject by at least one identifier');
  const s = new Subject();
  for (const g of given) s.add(g.kind, g.value);
  const coldSeen = new Set<string>();
  for (let round = 0; round < 6; round++) {
    const before = s.size;
    const leads = await deps.sql.query<{ id: string; customer_id: string | null; phone: string | null; messenger_psid: string | null }>(
      `SELECT id::text AS id, customer_id, phone, messenger_psid FROM leads
        WHERE id::text IN (SELECT jsonb_array_elements_text($1::jsonb)) OR customer_id IN (SELECT jsonb_array_elements_text($2::jsonb))
           OR regexp_replace(phone, '[\\s().-]', '', 'g') IN (SELECT jsonb_array_elements_text($3::jsonb))
           OR regexp_replace(messenger_psid, '[\\s().-]', '', 'g') IN (SELECT jsonb_array_elements_text($3::jsonb))`,
      [json(s.ids.lead), json(s.ids.customer), json(s.ids.contact)],
    );
    for (const l of leads) {
      s.add('lead', l.id);
      s.add('customer', l.customer_id);
      s.add('contact', l.phone);
      s.add('contact', l.messenger_psid);
      s.add('conversation', `lead:${l.id}`);
    }
    const convs = await deps.sql.query<{
      id: string;
      k: string;
      customer_id: string | null;
      external_id: string | null;
      lead_id: string | null;
    }>(
      `SELECT id::text AS id, conversation_key AS k, customer_id, external_id, lead_id::text AS lead_id FROM conversations
        WHERE conversation_key IN (SELECT jsonb_array_elements_text($1::jsonb)) OR id::text IN (SELECT jsonb_array_elements_text($2::jsonb))
           OR customer_id IN (SELECT jsonb_array_elements_text($3::jsonb))
           OR regexp_replace(external_id, '[\\s().-]', '', 'g') IN (SELECT jsonb_array_elements_text($4::jsonb))
           OR lead_id::text IN (SELECT jsonb_array_elements_text($5::jsonb))`,
      [json(s.ids.conversation), json(s.ids.conversation_id), json(s.ids.customer), json(s.ids.contact), json(s.ids.lead)],
    );
    for (const c of convs) {
      s.add('conversation_id', c.id);
      s.add('conversation', c.k);
      s.add('customer', c.customer_id);
      s.add('contact', c.external_id);
      s.add('lead', c.lead_id);
    }
    const events = await deps.sql.query<{ g: string | null; c: string | null }>(
      `SELECT DISTINCT guest_id AS g, conversation_id AS c FROM analytics_events
        WHERE guest_id IN (SELECT jsonb_array_elements_text($1::jsonb)) OR conversation_id IN (SELECT jsonb_array_elements_text($2::jsonb))`,
      [json(s.ids.guest), json(s.ids.conversation)],
    );
    for (const e of events) {
      s.add('guest', e.g);
      s.add('conversation', e.c);
    }
    // Cold: only the objects the subject index names, of the tables that link identifiers.
    for (const o of await coldObjects(deps.sql, s, ['conversations', 'analytics_events'])) {
      if (coldSeen.has(o.object_key)) continue;
      coldSeen.add(o.object_key);
      const { rows, columns } = await readObject(deps.store, o);
      for (const r of rows) {
        const ids = new Map<string, Identifier>();
        identifiersOf(o.table_name, columns, [r], ids);
        const mine = [...ids.values()];
        if (mine.some((i) => s.has(i))) for (const i of mine) s.add(i.kind, i.value);
      }
    }
    if (s.size === before) break;
  }
  return { subject: s, objectsRead: coldSeen.size };
}

const json = (set: Set<string>) => ({ sqlType: 'jsonb' as const, value: [...set] });

type LiveObject = { table_name: string; object_key: string; row_count: number; sha256: string; day: string };

/**
 * Live cold objects that the subject index says hold any of the subject's identifiers, and objects
 * of those tables written before there was an index (no `INDEXED` row: read, to be sure).
 */
async function coldObjects(sql: SqlExecutor, s: Subject, tables: readonly string[] = Object.keys(SUBJECT_COLUMNS)): Promise<LiveObject[]> {
  const records = s.identifiers().map((i) => ({ k: i.kind, v: i.kind === 'contact' ? normalizeContact(i.value) : i.value }));
  if (records.length === 0) return [];
  return sql.query<LiveObject>(
    `WITH wanted AS (SELECT DISTINCT subject_digest(x.k, x.v) AS d FROM jsonb_to_recordset($1::jsonb) AS x(k text, v text))
     SELECT m.table_name, m.object_key, m.row_count, m.sha256, m.day::text AS day
       FROM archive_manifest m
      WHERE m.superseded_at IS NULL AND m.table_name IN (SELECT jsonb_array_elements_text($2::jsonb))
        AND (EXISTS (SELECT 1 FROM subject_index i JOIN wanted w ON i.digest = w.d WHERE i.object_key = m.object_key)
             OR NOT EXISTS (SELECT 1 FROM subject_index i WHERE i.object_key = m.object_key AND i.digest = $3::text))
      ORDER BY m.id`,
    [{ sqlType: 'jsonb', value: records }, { sqlType: 'jsonb', value: tables }, INDEXED],
  );
}

async function readObject(
  store: ColdStore,
  o: LiveObject,
): Promise<{ rows: TextRow[]; columns: readonly string[]; footer?: ObjectFooter }> {
  const head = await store.head(o.object_key);
  if (!head) throw new SubjectError(`s3://${store.bucket}/${o.object_key} is missing (the manifest holds it)`);
  const rows: TextRow[] = [];
  const r = await readBack(store.reader(o.object_key, head.size), async (page) => {
    rows.push(...page);
  });
  if (r.rows !== Number(o.row_count) || r.sha256 !== o.sha256)
    throw new SubjectError(`s3://${store.bucket}/${o.object_key} does not match its manifest row: nothing done with it`);
  return { rows, columns: r.columns, footer: r.footer };
}

/** The rows of an object that belong to the subject (any identifier of the row is the subject's). */
function subjectRows(table: string, columns: readonly string[], rows: TextRow[], s: Subject): boolean[] {
  return rows.map((r) => {
    const ids = new Map<string, Identifier>();
    identifiersOf(table, columns, [r], ids);
    return [...ids.values()].some((i) => s.has(i));
  });
}

/** Redis keys of the subject's threads, with their values as read (for compare-and-delete). */
async function redisEntries(redis: CheckpointStore, s: Subject): Promise<RawEntry[]> {
  const glob = (v: string) => v.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
  const prefixes = [
    'langgraph:checkpoint:',
    'checkpoint:',
    'checkpoint_blob:',
    'checkpoint_write:',
    'checkpoint_latest:',
    'write_keys_zset:',
  ];
  const keys = new Set<string>();
  for (const thread of s.ids.conversation)
    for (const p of prefixes) for await (const page of redis.scan(`${p}${glob(thread)}:*`)) for (const k of page) keys.add(k);
  const entries = keys.size === 0 ? [] : await redis.read([...keys]);
  // The thread is the document's, never the key's (`a:b` is another thread than `a`): a document naming
  // another thread is not the subject's. Keys without a document (sorted sets) go with their prefix.
  return entries.filter((e) => {
    if (e.kind === 'missing') return false;
    if (e.value === null || e.kind === 'zset') return true;
    try {
      const d = JSON.parse(e.value) as { thread_id?: unknown; data?: { conversation_id?: unknown } };
      const thread =
        typeof d.thread_id === 'string' ? d.thread_id : typeof d.data?.conversation_id === 'string' ? d.data.conversation_id : undefined;
      return thread === undefined || s.ids.conversation.has(thread);
    } catch {
      return true;
    }
  });
}

export async function find(deps: SubjectDeps, given: readonly Identifier[]): Promise<{ subject: Subject; findings: Findings }> {
  const { subject, objectsRead } = await resolve(deps, given);
  const postgres: Record<string, number> = {};
  for (const h of HOT) {
    const { text, params } = bind(h.where, subject);
    const [r] = await deps.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${h.table} WHERE ${text}`, params);
    postgres[h.table] = Number(r?.n ?? 0);
  }
  const cold: Findings['cold'] = [];
  for (const o of await coldObjects(deps.sql, subject)) {
    const { rows, columns } = await readObject(deps.store, o);
    const n = subjectRows(o.table_name, columns, rows, subject).filter(Boolean).length;
    if (n > 0) cold.push({ table: o.table_name, key: o.object_key, rows: n });
  }
  const keys = deps.redis ? (await redisEntries(deps.redis, subject)).map((e) => e.key).sort() : [];
  return {
    subject,
    findings: {
      identifiers: subject.size,
      postgres,
      redis: { searched: deps.redis !== undefined, keys },
      cold,
      objectsRead: objectsRead + cold.length,
    },
  };
}

/** Everything found, as the person receives it: JSON per store and the conversations as text, in a zip. */
export async function exportSubject(deps: SubjectDeps, given: readonly Identifier[]): Promise<{ zip: Uint8Array; findings: Findings }> {
  const { subject, findings } = await find(deps, given);
  const files: Record<string, Uint8Array> = {};
  const postgres: Record<string, unknown[]> = {};
  for (const h of HOT) {
    const { text, params } = bind(h.where, subject);
    postgres[h.table] = (
      await deps.sql.query<{ r: unknown }>(`SELECT to_jsonb(t) - 'search_vector' AS r FROM ${h.table} t WHERE ${text}`, params)
    ).map((x) => x.r);
  }
  const cold: Record<string, Record<string, string | null>[]> = {};
  for (const o of await coldObjects(deps.sql, subject)) {
    const { rows, columns } = await readObject(deps.store, o);
    const mine = subjectRows(o.table_name, columns, rows, subject);
    const list = cold[o.table_name] ?? [];
    cold[o.table_name] = list;
    rows.forEach((r, i) => {
      if (mine[i]) list.push(Object.fromEntries(columns.map((c, j) => [c, r[j] ?? null])));
    });
  }
  const redis: Record<string, string | null> = {};
  if (deps.redis) for (const e of await redisEntries(deps.redis, subject)) redis[e.key] = e.value;
  files['postgres.json'] = strToU8(JSON.stringify(postgres, null, 2));
  files['cold-storage.json'] = strToU8(JSON.stringify(cold, null, 2));
  files['live-checkpoints.json'] = strToU8(JSON.stringify(redis, null, 2));
  // Conversations as a person reads them: every message, hot or cold, in time order.
  const messages = [
    ...(postgres.messages as { conversation_id: string; created_at: string; role: string; content: string }[]),
    ...((cold.messages ?? []) as unknown as { conversation_id: string; created_at: string; role: string; content: string }[]),
  ].sort((a, b) => a.conversation_id.localeCompare(b.conversation_id) || String(a.created_at).localeCompare(String(b.created_at)));
  let text = '';
  let current = '';
  for (const m of messages) {
    if (m.conversation_id !== current) {
      current = m.conversation_id;
      text += `\n=== Conversation ${current} ===\n`;
    }
    text += `[${m.created_at}] ${m.role}: ${m.content}\n`;
  }
  files['conversations.txt'] = strToU8(text.trimStart());
  files['README.txt'] = strToU8(
    'Your data as this service holds it: postgres.json (the database), cold-storage.json (archived rows), live-checkpoints.json (conversations in progress), conversations.txt (your conversations, readable).\n',
  );
  return { zip: zipSync(files, { level: 6 }), findings };
}

/** What an erasure removed, per store: counts, object keys and checksums, identifier digests — no personal data. */
export interface Receipt {
  readonly requestId: string;
  readonly requestedAt: string;
  finishedAt?: string;
  identifierDigests: string[];
  tombstones: number;
  redis: { searched: boolean; keysDeleted: number; keysChanged: number };
  postgres: Record<string, number>;
  cold: {
    table: string;
    oldKey: string;
    oldSha256: string;
    newKey?: string;
    newSha256?: string;
    rowsRemoved: number;
    versionsRemoved: number;
  }[];
  receiptKey?: string;
}

/** The request id of an erasure: derived from its identifiers, so the same request resumes. */
export function requestIdOf(given: readonly Identifier[]): string {
  const canon = [...given]
    .map((g) => `${g.kind}:${g.kind === 'contact' ? normalizeContact(g.value) : g.value}`)
    .sort()
    .join('\n');
  return `erasure-${createHash('sha256').update(canon).digest('hex').slice(0, 24)}`;
}

export async function erase(
  deps: SubjectDeps,
  given: readonly Identifier[],
  options: { dryRun?: boolean; holder?: string; beforePhase?: (phase: string) => Promise<void> } = {},
): Promise<{ receipt: Receipt; findings?: Findings; resumed: boolean }> {
  const { sql } = deps;
  const requestId = requestIdOf(given);
  if (options.dryRun) {
    const { findings } = await find(deps, given);
    return { receipt: emptyReceipt(requestId, new Date().toISOString(), []), findings, resumed: false };
  }
  const phase = async (name: string) => options.beforePhase?.(name);
  const now = (deps.clock ?? systemClock).now().toISOString();
  await sql.execute(
    `INSERT INTO erasures (request_id, requested_at, receipt) VALUES ($1::text, $2::text::timestamptz, '{}') ON CONFLICT (request_id) DO NOTHING`,
    [requestId, now],
  );
  const [row] = await sql.query<{ status: string; requested_at: string; receipt: Receipt | Record<string, never> }>(
    `SELECT status, to_char(requested_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS requested_at, receipt FROM erasures WHERE request_id = $1::text`,
    [requestId],
  );
  if (row?.status === 'done') return { receipt: row.receipt as Receipt, resumed: true };
  const resumed = Object.keys(row?.receipt ?? {}).length > 0;
  const { subject } = await resolve(deps, given);
  const receipt: Receipt = resumed ? (row?.receipt as Receipt) : emptyReceipt(requestId, row?.requested_at ?? now, []);
  const save = () =>
    sql.execute('UPDATE erasures SET receipt = $2::jsonb WHERE request_id = $1::text', [requestId, { sqlType: 'jsonb', value: receipt }]);

  // 1. Tombstones first: from here on nothing of the subject from before the request can come back.
  await phase('tombstones');
  const digests = await sql.query<{ d: string }>(
    `WITH x AS (SELECT DISTINCT subject_digest(k, v) AS d, k FROM jsonb_to_recordset($1::jsonb) AS r(k text, v text)),
          ins AS (INSERT INTO erasure_tombstones (digest, kind, erased_at, request_id)
                  SELECT d, k, $2::text::timestamptz, $3::text FROM x ON CONFLICT (digest) DO NOTHING RETURNING 1)
     SELECT d FROM x ORDER BY d`,
    [
      {
        sqlType: 'jsonb',
        value: subject.identifiers().map((i) => ({ k: i.kind, v: i.kind === 'contact' ? normalizeContact(i.value) : i.value })),
      },
      receipt.requestedAt,
      requestId,
    ],
  );
  receipt.identifierDigests = [...new Set([...receipt.identifierDigests, ...digests.map((d) => d.d)])].sort();
  receipt.tombstones = receipt.identifierDigests.length;
  await save();

  // 2. Live checkpoints: compare-and-delete, the archive's discipline (a key that changed since it was read stays, counted).
  await phase('redis');
  if (deps.redis) {
    receipt.redis.searched = true;
    for (const e of await redisEntries(deps.redis, subject)) {
      if (e.raw === null || (e.kind !== 'string' && e.kind !== 'json' && e.kind !== 'zset')) continue;
      if (await deps.redis.compareAndDelete(e.key, e.raw, e.kind)) receipt.redis.keysDeleted++;
      else receipt.redis.keysChanged++;
    }
    await save();
  }

  // 3. PostgreSQL, in one transaction: messages before their conversations (no cascade), audits before leads.
  await phase('postgres');
  await sql.transaction(async (tx) => {
    for (const h of [
      'messages',
      'conversations',
      'audits',
      'backfill_audit_messages',
      'leads',
      'analytics_events',
      'analytics_lifecycle_state',
      'analytics_events_rejected',
      'checkpoint_quarantine',
    ]) {
      const def = HOT.find((x) => x.table === h) as { table: string; where: string };
      const { text, params } = bind(def.where, subject);
      const r = await tx.execute(`DELETE FROM ${h} WHERE ${text}`, params);
      receipt.postgres[h] = (receipt.postgres[h] ?? 0) + r.rowCount;
    }
  });
  await save();

  // 4. Cold objects holding the subject: rewritten without their rows, under the retention lease; then every version of the old one goes.
  await phase('cold');
  const lease = new DatabaseLease(sql, 'retention', options.holder ?? `erasure ${requestId}`);
  const taken = await lease.acquire(`erasure-${requestId}-${Date.now()}`);
  if (!taken.ok) throw new SubjectError(`Cannot rewrite cold objects now: ${taken.reason}. Run the erasure again later: it resumes.`);
  try {
    const fence = lease.fence as Fence;
    for (const o of await coldObjects(sql, subject)) {
      const policy = deps.policies.find((p) => p.table === o.table_name);
      if (!policy) continue;
      const shape = await tableShape(sql, policy);
      const { rows, columns, footer } = await readObject(deps.store, o);
      const mine = subjectRows(o.table_name, columns, rows, subject);
      const removed = mine.filter(Boolean).length;
      await phase(`cold:${o.object_key}`);
      const done = await sql.transaction(async (tx) => {
        await holdFence(tx, fence);
        const live = await tx.query('SELECT 1 FROM archive_manifest WHERE object_key = $1::text AND superseded_at IS NULL FOR UPDATE', [
          o.object_key,
        ]);
        if (live.length === 0) return undefined;
        const ctx = { store: deps.store, sql, rowGroupRows: deps.rowGroupRows ?? 10_000, runId: requestId };
        const r = await supersede(tx, ctx, shape, o, columns, removed === 0 ? rows : rows.filter((_, i) => !mine[i]), footer);
        await tx.execute('DELETE FROM subject_index WHERE object_key = $1::text', [o.object_key]);
        return r;
      });
      if (!done) continue;
      const entry = {
        table: o.table_name,
        oldKey: o.object_key,
        oldSha256: o.sha256,
        newKey: done.successor,
        newSha256: done.successorSha256,
        rowsRemoved: removed,
        versionsRemoved: 0,
      };
      receipt.cold.push(entry);
      await save();
      await phase(`retire:${o.object_key}`);
    }
    // Every superseded object of this erasure (and any left by an interrupted one) leaves S3 with all its versions.
    for (const entry of receipt.cold) {
      const versions = await retireObject({ sql, store: deps.store, log: deps.log, fence }, entry.oldKey);
      if (versions !== undefined) entry.versionsRemoved = versions;
    }
  } finally {
    await lease.release();
  }
  await save();

  // 5. The receipt: in S3 under its own prefix and in the erasures table.
  await phase('receipt');
  receipt.finishedAt = new Date().toISOString();
  receipt.receiptKey = `_erasures/${requestId}.json`;
  const existing = await deps.store.head(receipt.receiptKey);
  await deps.store.upload(
    receipt.receiptKey,
    Readable.from([Buffer.from(JSON.stringify(receipt, null, 2))]),
    existing ? { etag: existing.etag } : 'absent',
  );
  await sql.execute(`UPDATE erasures SET status = 'done', finished_at = now(), receipt = $2::jsonb WHERE request_id = $1::text`, [
    requestId,
    { sqlType: 'jsonb', value: receipt },
  ]);
  deps.log.info('Erasure done', {
    requestId,
    postgres: receipt.postgres,
    objects: receipt.cold.length,
    redisKeys: receipt.redis.keysDeleted,
  });
  return { receipt, resumed };
}

function emptyReceipt(requestId: string, requestedAt: string, digests: string[]): Receipt {
  return {
    requestId,
    requestedAt,
    identifierDigests: digests,
    tombstones: 0,
    redis: { searched: false, keysDeleted: 0, keysChanged: 0 },
    postgres: {},
    cold: [],
  };
}

/**
 * Re-checks an erasure by its request id alone (the receipt holds digests, not identifiers): no row
 * from before the erasure in PostgreSQL carries an erased identifier, no live cold object is indexed
 * under one, and its superseded objects are gone from S3.
 */
export async function verify(deps: SubjectDeps, requestId: string): Promise<{ ok: boolean; remaining: Record<string, number> }> {
  const [row] = await deps.sql.query<{ receipt: Receipt }>('SELECT receipt FROM erasures WHERE request_id = $1::text', [requestId]);
  if (!row) throw new SubjectError(`No erasure ${requestId}`);
  const digests = { sqlType: 'jsonb' as const, value: row.receipt.identifierDigests };
  const at = row.receipt.requestedAt;
  const checks: [string, string][] = [
    [
      'conversations',
      `(subject_digest('conversation', conversation_key) IN (SELECT jsonb_array_elements_text($1::jsonb)) OR subject_digest('conversation_id', id::text) IN (SELECT jsonb_array_elements_text($1::jsonb)) OR subject_digest('customer', customer_id) IN (SELECT jsonb_array_elements_text($1::jsonb)) OR subject_digest('contact', external_id) IN (SELECT jsonb_array_elements_text($1::jsonb))) AND started_at <= $2::text::timestamptz`,
    ],
    [
      'messages',
      `subject_digest('conversation_id', conversation_id::text) IN (SELECT jsonb_array_elements_text($1::jsonb)) AND created_at <= $2::text::timestamptz`,
    ],
    [
      'leads',
      `(subject_digest('lead', id::text) IN (SELECT jsonb_array_elements_text($1::jsonb)) OR subject_digest('contact', phone) IN (SELECT jsonb_array_elements_text($1::jsonb))) AND created_at <= $2::text::timestamptz`,
    ],
    [
      'audits',
      `subject_digest('lead', lead_id::text) IN (SELECT jsonb_array_elements_text($1::jsonb)) AND created_at <= $2::text::timestamptz`,
    ],
    [
      'analytics_events',
      `(subject_digest('guest', guest_id) IN (SELECT jsonb_array_elements_text($1::jsonb)) OR subject_digest('conversation', conversation_id) IN (SELECT jsonb_array_elements_text($1::jsonb))) AND occurred_at <= $2::text::timestamptz`,
    ],
  ];
  const remaining: Record<string, number> = {};
  for (const [table, where] of checks) {
    const [r] = await deps.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, [digests, at]);
    remaining[table] = Number(r?.n ?? 0);
  }
  const [cold] = await deps.sql.query<{ n: number }>(
    `SELECT count(DISTINCT m.object_key)::int AS n FROM subject_index i JOIN archive_manifest m ON m.object_key = i.object_key AND m.superseded_at IS NULL
      WHERE i.digest IN (SELECT jsonb_array_elements_text($1::jsonb))`,
    [digests],
  );
  remaining['cold objects'] = Number(cold?.n ?? 0);
  let left = 0;
  for (const c of row.receipt.cold) if (await deps.store.head(c.oldKey)) left++;
  remaining['superseded objects still in S3'] = left;
  return { ok: Object.values(remaining).every((n) => n === 0), remaining };
}
