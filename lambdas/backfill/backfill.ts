/**
 * Seed 003's backfill on this project's model: one conversation per lead (`lead:<id>`), one
 * message per audit whose actor speaks (`audit:<id>`, unique per conversation: idempotent).
 *
 * Exactly once across storage tiers: every message it creates is recorded, in the same statement,
 * in `backfill_audit_messages` (sql/022, primary key the audit id), and an audit with a record never
 * gets a message again — even after retention exported and deleted the message and its emptied
 * conversation (soak bug A). Its rollback forgets the records of the messages it deletes.
 *
 * Set-based: each batch is a range of leads (keyset on lead id) written by a few INSERT … SELECT
 * statements inside PostgreSQL, so no audit crosses the wire and a lead's conversation and its
 * messages are always written together. Resumable: a call stops before its deadline and returns
 * a cursor (the last lead id and the running totals) to continue from.
 */
import type { Log } from '../shared/observability';
import type { Clock, Deadline } from '../shared/runtime';
import { p, type Sql, type SqlExecutor } from '../shared/sql/types';

export type BackfillMode = 'dry-run' | 'apply' | 'rollback';

export interface BackfillFilters {
  /** Only this lead. */
  readonly leadId?: string;
  /** Audits created at or after this instant (ISO-8601). */
  readonly from?: string;
  /** Audits created before this instant (ISO-8601). */
  readonly to?: string;
  /** At most this many leads in the whole run. */
  readonly limit?: number;
}

export interface BackfillStats {
  leadsProcessed: number;
  conversationsCreated: number;
  conversationsSkipped: number;
  messagesCreated: number;
  messagesSkipped: number;
  auditsProcessed: number;
  auditsSkipped: number;
  /** Skipped because their actor does not speak (admin, null, …). */
  auditsNonMessage: number;
  /** Skipped because they carry no text (null or empty payload). */
  auditsWithoutText: number;
  /** Turned into messages although their payload is not an object (a string, an array, …). */
  auditsPayloadNotObject: number;
  /** Skipped because their lead does not exist (counted once per run). */
  orphanAudits: number;
  conversationsDeleted: number;
  messagesDeleted: number;
  errors: number;
}

export const emptyStats = (): BackfillStats => ({
  leadsProcessed: 0,
  conversationsCreated: 0,
  conversationsSkipped: 0,
  messagesCreated: 0,
  messagesSkipped: 0,
  auditsProcessed: 0,
  auditsSkipped: 0,
  auditsNonMessage: 0,
  auditsWithoutText: 0,
  auditsPayloadNotObject: 0,
  orphanAudits: 0,
  conversationsDeleted: 0,
  messagesDeleted: 0,
  errors: 0,
});

/** Where a run stands between calls (opaque to callers: pass it back as is). */
export interface BackfillCursor {
  readonly runId: string;
  readonly startedAt: string;
  /** Last lead id done; the next batch starts after it. */
  readonly after: string | null;
  readonly totals: BackfillStats;
  readonly orphanSample: string[];
}

export interface BackfillRequest {
  readonly mode: BackfillMode;
  readonly verbose?: boolean;
  readonly filters?: BackfillFilters;
  readonly cursor?: BackfillCursor;
  /** Leads per batch. @default 2000 */
  readonly batchSize?: number;
  /** Batches written at once (disjoint lead ranges). @default 2 */
  readonly concurrency?: number;
}

export interface PreviewMessage {
  readonly auditId: string;
  readonly leadId: string;
  readonly role: string;
  readonly preview: string;
}

export interface BackfillResult {
  readonly mode: BackfillMode;
  readonly done: boolean;
  /** Present while not done: call again with it. */
  readonly cursor?: BackfillCursor;
  /** Running totals of the whole run (all calls so far). */
  readonly totals: BackfillStats;
  /** This call's own numbers. */
  readonly call: BackfillStats;
  /** Up to 10 messages created (or, in a dry run, that would be). */
  readonly preview: PreviewMessage[];
  /** Up to 10 orphan audit ids. */
  readonly orphanSample: string[];
  /** Verbose: per lead, messages created / skipped in this call. */
  readonly perLead?: Record<string, { created: number; skipped: number }>;
}

export interface BackfillDeps {
  readonly sql: Sql;
  readonly log: Log;
  readonly deadline: Deadline;
  readonly clock: Clock;
  readonly runId: string;
}

/** Rolls a dry-run batch back after it measured everything. */
class DryRunRollback<T> extends Error {
  constructor(readonly value: T) {
    super('dry run: rolled back');
  }
}

const RUN_ACTION = 'backfill_conversations_messages';
const ROLLBACK_ACTION = 'backfill_rollback';

function add(into: BackfillStats, from: Partial<BackfillStats>): void {
  for (const [k, v] of Object.entries(from)) if (typeof v === 'number') into[k as keyof BackfillStats] += v;
}

/** Filter parameters in a fixed order: $1 lead, $2 from, $3 to. */
function filterParams(f: BackfillFilters) {
  return [p.uuid(f.leadId ?? null), p.ts(f.from ?? null), p.ts(f.to ?? null)];
}
const AUDIT_IN_SCOPE = `($2::timestamptz IS NULL OR a.created_at >= $2::timestamptz) AND ($3::timestamptz IS NULL OR a.created_at < $3::timestamptz)`;
const LEAD_IN_SCOPE = `($1::uuid IS NULL OR l.id = $1::uuid)`;
/**
 * The lead a conversation was backfilled for, read from what the backfill wrote and nobody changes:
 * its key `lead:<uuid>` (not `lead_id`, which `ON DELETE SET NULL` empties when the lead is deleted).
 * One definition, in SQL (sql/009_roles.sql), shared with the rollback function.
 */
const BACKFILL_LEAD = 'backfill_lead_of(c.conversation_key)';
/** What marks a message as the backfill's: its source and its `audit:<id>` key. */
const BACKFILL_MESSAGE = `m.source = 'audit_backfill' AND m.message_key LIKE 'audit:%'`;
/**
 * The audit `a` has no record of its message (sql/022 `backfill_audit_messages`): the backfill never
 * created it. A record outlives the message's move to cold storage (retention never touches it), so
 * an audit becomes one message once, wherever that message lives.
 */
const NOT_RECORDED = `NOT EXISTS (SELECT 1 FROM backfill_audit_messages b WHERE b.audit_id = a.id)`;
/** $4 = after (exclusive), $5 = last (inclusive). */
const LEAD_RANGE = `($4::uuid IS NULL OR l.id > $4::uuid) AND l.id <= $5::uuid`;

export function validateFilters(f: BackfillFilters): void {
  const problems: string[] = [];
  if (f.leadId !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(f.leadId))
    problems.push(`lead "${f.leadId}" is not a UUID`);
  for (const [k, v] of [
    ['from', f.from],
    ['to', f.to],
  ] as const)
    if (v !== undefined && Number.isNaN(Date.parse(v))) problems.push(`${k} "${v}" is not a date`);
  if (f.from && f.to && Date.parse(f.from) >= Date.parse(f.to)) problems.push('from must be before to');
  if (f.limit !== undefined && (!Number.isInteger(f.limit) || f.limit < 1)) problems.push('limit must be a positive integer');
  if (problems.length) throw new RangeError(`Invalid backfill filters: ${problems.join('; ')}`);
}

export async function backfill(deps: BackfillDeps, req: BackfillRequest): Promise<BackfillResult> {
  const filters = req.filters ?? {};
  validateFilters(filters);
  const batchSize = req.batchSize ?? 2_000;
  const concurrency = Math.max(1, req.concurrency ?? 2);
  const { sql, log } = deps;
  const cursor: BackfillCursor = req.cursor ?? {
    runId: deps.runId,
    startedAt: deps.clock.now().toISOString(),
    after: null,
    totals: emptyStats(),
    orphanSample: [],
  };
  const totals = { ...emptyStats(), ...cursor.totals };
  const call = emptyStats();
  const preview: PreviewMessage[] = [];
  const perLead: Record<string, { created: number; skipped: number }> = {};
  let orphanSample = cursor.orphanSample;
  let after = cursor.after;

  if (!req.cursor && req.mode !== 'rollback') {
    const [o] = await sql.query<{ n: number; sample: string[] }>(
      `SELECT count(*)::int AS n, COALESCE(jsonb_agg(id) FILTER (WHERE rn <= 10), '[]'::jsonb) AS sample
       FROM (SELECT a.id, row_number() OVER (ORDER BY a.created_at, a.id) AS rn
             FROM audits a
             WHERE a.lead_id IS NOT NULL AND ($1::uuid IS NULL OR a.lead_id = $1::uuid) AND ${AUDIT_IN_SCOPE}
               AND NOT EXISTS (SELECT 1 FROM leads l WHERE l.id = a.lead_id)) x`,
      filterParams(filters),
    );
    call.orphanAudits = o?.n ?? 0;
    call.auditsSkipped += call.orphanAudits;
    orphanSample = o?.sample ?? [];
    if (call.orphanAudits > 0)
      log.warn(`${call.orphanAudits} audits reference a missing lead: skipped (e.g. ${orphanSample.slice(0, 3).join(', ')})`);
  }

  let done = false;
  for (;;) {
    const remainingLeads =
      filters.limit === undefined ? Number.POSITIVE_INFINITY : filters.limit - totals.leadsProcessed - call.leadsProcessed;
    if (remainingLeads <= 0) {
      done = true;
      break;
    }
    if (deps.deadline.shouldStop()) break;
    const want = Math.min(batchSize * concurrency, remainingLeads);
    const bounds = await nextBounds(sql, req.mode, filters, after, want, Math.min(batchSize, want));
    if (bounds.length === 0) {
      done = true;
      break;
    }
    const ranges = bounds.map((last, i) => ({ after: i === 0 ? after : (bounds[i - 1] as string), last }));
    const results = await Promise.all(ranges.map((r) => runBatch(deps, req.mode, filters, r, cursor.runId, req.verbose === true)));
    for (const r of results) {
      add(call, r.stats);
      for (const m of r.preview) if (preview.length < 10) preview.push(m);
      if (r.perLead) Object.assign(perLead, r.perLead);
    }
    after = bounds[bounds.length - 1] as string;
    const verb = req.mode === 'rollback' ? 'removed' : req.mode === 'dry-run' ? 'would create' : 'created';
    log.info(
      req.mode === 'rollback'
        ? `Batch up to lead ${after}: ${verb} ${call.messagesDeleted} messages, ${call.conversationsDeleted} conversations so far`
        : `Batch up to lead ${after}: ${verb} ${call.conversationsCreated} conversations, ${call.messagesCreated} messages so far`,
    );
  }
  add(totals, call);
  if (done && req.mode !== 'dry-run') await recordRun(sql, req.mode, filters, totals, cursor);
  const result: BackfillResult = {
    mode: req.mode,
    done,
    ...(done ? {} : { cursor: { ...cursor, after, totals, orphanSample } }),
    totals,
    call,
    preview,
    orphanSample,
    ...(req.verbose ? { perLead } : {}),
  };
  return result;
}

/** The last lead id of each of the next batches (at most `want` leads, `size` per batch). */
async function nextBounds(
  sql: Sql,
  mode: BackfillMode,
  f: BackfillFilters,
  after: string | null,
  want: number,
  size: number,
): Promise<string[]> {
  const pick = (candidates: string, params: unknown[]) =>
    sql.query<{ id: string }>(
      `SELECT id::text AS id FROM (
         SELECT id, row_number() OVER (ORDER BY id) AS rn, count(*) OVER () AS n FROM (${candidates}) c
       ) x WHERE rn % $${params.length + 1}::int = 0 OR rn = n ORDER BY id`,
      [...(params as never[]), size],
    );
  const rows =
    mode === 'rollback'
      ? await pick(
          `SELECT id FROM (SELECT ${BACKFILL_LEAD} AS id, c.source, c.id AS conversation_id FROM conversations c) c
           WHERE c.id IS NOT NULL AND ($1::uuid IS NULL OR c.id = $1::uuid) AND ($2::uuid IS NULL OR c.id > $2::uuid)
             AND (c.source = 'audit_backfill' OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.conversation_id AND ${BACKFILL_MESSAGE}))
           ORDER BY c.id LIMIT $3::int`,
          [p.uuid(f.leadId ?? null), p.uuid(after), want],
        )
      : await pick(
          `SELECT l.id FROM leads l
           WHERE ${LEAD_IN_SCOPE} AND ($4::uuid IS NULL OR l.id > $4::uuid)
             AND EXISTS (SELECT 1 FROM audits a WHERE a.lead_id = l.id AND ${AUDIT_IN_SCOPE})
           ORDER BY l.id LIMIT $5::int`,
          [...filterParams(f), p.uuid(after), want],
        );
  return rows.map((r) => r.id);
}

interface BatchOutcome {
  stats: Partial<BackfillStats>;
  preview: PreviewMessage[];
  perLead?: Record<string, { created: number; skipped: number }>;
}

async function runBatch(
  deps: BackfillDeps,
  mode: BackfillMode,
  f: BackfillFilters,
  range: { after: string | null; last: string },
  runId: string,
  verbose: boolean,
): Promise<BatchOutcome> {
  const work = (tx: SqlExecutor) => (mode === 'rollback' ? rollbackBatch(tx, f, range) : applyBatch(tx, f, range, runId, verbose));
  if (mode !== 'dry-run') return deps.sql.transaction(work);
  try {
    await deps.sql.transaction(async (tx) => {
      throw new DryRunRollback(await work(tx));
    });
    throw new Error('unreachable: a dry run always rolls back');
  } catch (err) {
    if (err instanceof DryRunRollback) return err.value as BatchOutcome;
    throw err;
  }
}

async function applyBatch(
  tx: SqlExecutor,
  f: BackfillFilters,
  range: { after: string | null; last: string },
  runId: string,
  verbose: boolean,
): Promise<BatchOutcome> {
  const params = [...filterParams(f), p.uuid(range.after), p.uuid(range.last)];
  const speaks = `audit_message_role(a.actor) IS NOT NULL AND audit_message_text(a.payload) IS NOT NULL`;
  // A lead's conversation is (re)created only for an audit whose message was never created: once
  // retention moved the messages and the emptied conversation to cold storage, nothing comes back.
  const [conv] = await tx.query<{ created: number; leads: number; eligible: number }>(
    `WITH scope AS (
       SELECT l.*, EXISTS (SELECT 1 FROM audits a WHERE a.lead_id = l.id AND ${AUDIT_IN_SCOPE} AND ${speaks}) AS eligible,
              EXISTS (SELECT 1 FROM audits a WHERE a.lead_id = l.id AND ${AUDIT_IN_SCOPE} AND ${speaks} AND ${NOT_RECORDED}) AS pending
       FROM leads l
       WHERE ${LEAD_IN_SCOPE} AND ${LEAD_RANGE} AND EXISTS (SELECT 1 FROM audits a WHERE a.lead_id = l.id AND ${AUDIT_IN_SCOPE})
     ), ins AS (
       INSERT INTO conversations (conversation_key, source, channel, customer_id, lead_id, external_id, started_at, metadata)
       SELECT 'lead:' || s.id, 'audit_backfill', s.channel, s.customer_id, s.id, COALESCE(s.messenger_psid, s.phone), s.created_at,
              jsonb_build_object('source', 'audit_backfill', 'leadStage', s.stage, 'createdBy', 'dlc-backfill', 'runId', $6::text, 'createdAt', now())
       FROM scope s WHERE s.pending
       ON CONFLICT (conversation_key) DO NOTHING
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM ins)::int AS created, (SELECT count(*) FROM scope)::int AS leads,
            (SELECT count(*) FROM scope WHERE eligible)::int AS eligible`,
    [...params, p.text(runId)],
  );
  const [msg] = await tx.query<{
    audits: number;
    non_message: number;
    no_text: number;
    not_object: number;
    eligible: number;
    created: number;
    preview: PreviewMessage[];
    per_lead: Record<string, { created: number; eligible: number }> | null;
  }>(
    `WITH src AS MATERIALIZED (
       SELECT a.id, a.lead_id, a.actor, a.action, a.created_at, jsonb_typeof(a.payload) AS payload_type,
              audit_message_role(a.actor) AS role, audit_message_text(a.payload) AS text
       FROM audits a JOIN leads l ON l.id = a.lead_id
       WHERE ${LEAD_IN_SCOPE} AND ${LEAD_RANGE} AND ${AUDIT_IN_SCOPE}
     ), rec AS (
       -- The audit's record first: only an audit whose record this statement inserts gets a message.
       INSERT INTO backfill_audit_messages (audit_id, conversation_key)
       SELECT s.id, c.conversation_key
       FROM src s JOIN conversations c ON c.conversation_key = 'lead:' || s.lead_id
       WHERE s.role IS NOT NULL AND s.text IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM backfill_audit_messages b WHERE b.audit_id = s.id)
       ON CONFLICT (audit_id) DO NOTHING
       RETURNING audit_id
     ), ins AS (
       INSERT INTO messages (conversation_id, message_key, seq, role, content, created_at, source, metadata, language)
       SELECT c.id, 'audit:' || s.id, 0, s.role, s.text, s.created_at, 'audit_backfill',
              jsonb_build_object('auditId', s.id, 'auditAction', s.action, 'auditActor', s.actor, 'source', 'audit_backfill', 'createdBy', 'dlc-backfill'),
              detect_language(s.text)
       FROM src s JOIN rec r ON r.audit_id = s.id JOIN conversations c ON c.conversation_key = 'lead:' || s.lead_id
       ON CONFLICT (conversation_id, message_key) DO NOTHING
       RETURNING conversation_id, message_key, created_at
     ), upd AS (
       UPDATE conversations c SET last_message_at = x.last, updated_at = now()
       FROM (SELECT conversation_id, max(created_at) AS last FROM ins GROUP BY conversation_id) x
       WHERE c.id = x.conversation_id AND (c.last_message_at IS NULL OR c.last_message_at < x.last)
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM src)::int AS audits,
            (SELECT count(*) FROM src WHERE role IS NULL)::int AS non_message,
            (SELECT count(*) FROM src WHERE role IS NOT NULL AND text IS NULL)::int AS no_text,
            (SELECT count(*) FROM src WHERE role IS NOT NULL AND text IS NOT NULL AND payload_type <> 'object')::int AS not_object,
            (SELECT count(*) FROM src WHERE role IS NOT NULL AND text IS NOT NULL)::int AS eligible,
            (SELECT count(*) FROM ins)::int AS created,
            (SELECT count(*) FROM upd)::int AS updated,
            (SELECT COALESCE(jsonb_agg(jsonb_build_object('auditId', s.id, 'leadId', s.lead_id, 'role', s.role, 'preview', left(s.text, 80))), '[]'::jsonb)
               FROM (SELECT message_key FROM ins LIMIT 10) i JOIN src s ON 'audit:' || s.id = i.message_key) AS preview,
            CASE WHEN $6::boolean THEN (
              SELECT jsonb_object_agg(lead_id, jsonb_build_object('eligible', eligible, 'created', created)) FROM (
                SELECT s.lead_id, count(*) FILTER (WHERE s.role IS NOT NULL AND s.text IS NOT NULL) AS eligible,
                       count(i.message_key) AS created
                FROM src s LEFT JOIN ins i ON i.message_key = 'audit:' || s.id GROUP BY s.lead_id) pl)
            END AS per_lead`,
    [...params, p.bool(verbose)],
  );
  const eligible = msg?.eligible ?? 0;
  const created = msg?.created ?? 0;
  const skippedAudits = (msg?.non_message ?? 0) + (msg?.no_text ?? 0);
  return {
    stats: {
      leadsProcessed: conv?.leads ?? 0,
      conversationsCreated: conv?.created ?? 0,
      conversationsSkipped: (conv?.eligible ?? 0) - (conv?.created ?? 0),
      messagesCreated: created,
      messagesSkipped: eligible - created,
      auditsProcessed: msg?.audits ?? 0,
      auditsSkipped: skippedAudits,
      auditsNonMessage: msg?.non_message ?? 0,
      auditsWithoutText: msg?.no_text ?? 0,
      auditsPayloadNotObject: msg?.not_object ?? 0,
    },
    preview: msg?.preview ?? [],
    perLead: msg?.per_lead
      ? Object.fromEntries(Object.entries(msg.per_lead).map(([lead, v]) => [lead, { created: v.created, skipped: v.eligible - v.created }]))
      : undefined,
  };
}

/**
 * Removes exactly what the backfill created: its messages, then its conversations left empty, both
 * found by what marks them as the backfill's (key and source), never by `lead_id`, and the records
 * (`backfill_audit_messages`) of the messages deleted — not those of messages already in cold
 * storage, which the rollback cannot remove and a re-run must not create again. The deletes run
 * in `backfill_rollback_batch` (SECURITY DEFINER, sql/009_roles.sql): the backfill's database role
 * holds no DELETE privilege, so the rollback can remove nothing but the backfill's own rows.
 */
async function rollbackBatch(tx: SqlExecutor, f: BackfillFilters, range: { after: string | null; last: string }): Promise<BatchOutcome> {
  const [row] = await tx.query<{ messages_deleted: number; conversations_deleted: number }>(
    `SELECT messages_deleted, conversations_deleted
     FROM backfill_rollback_batch($1::uuid, $2::uuid, $3::uuid, $4::timestamptz, $5::timestamptz)`,
    [p.uuid(f.leadId ?? null), p.uuid(range.after), p.uuid(range.last), p.ts(f.from ?? null), p.ts(f.to ?? null)],
  );
  return { stats: { messagesDeleted: row?.messages_deleted ?? 0, conversationsDeleted: row?.conversations_deleted ?? 0 }, preview: [] };
}

/** Each finished run leaves its own audit row (seed 003: "[4/4] Recording audit log"). */
async function recordRun(sql: Sql, mode: BackfillMode, f: BackfillFilters, totals: BackfillStats, cursor: BackfillCursor): Promise<void> {
  await sql.transaction(async (tx) => {
    if (mode === 'rollback' && !f.leadId && !f.from && !f.to) {
      // A full rollback also removes the backfill's own run records (seed 003's rollback.sql).
      await tx.query('SELECT backfill_forget_runs() AS n'); // deletes only rows whose action is RUN_ACTION and lead_id NULL
    }
    await tx.execute(
      `INSERT INTO audits (lead_id, actor, action, payload, created_at) VALUES (NULL, 'system', $1::text, $2::jsonb, now())`,
      [
        mode === 'rollback' ? ROLLBACK_ACTION : RUN_ACTION,
        p.json({ runId: cursor.runId, mode, filters: f, startedAt: cursor.startedAt, stats: totals }),
      ],
    );
  });
}
