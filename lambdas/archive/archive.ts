/**
 * The archival job (seed 000): checkpoints older than the cutoff move from Redis to PostgreSQL,
 * then leave Redis — only after their messages are committed, and only if unchanged since read.
 */
import { createHash } from 'node:crypto';
import type { ArchiveConfig } from '../../lib/config';
import type { RunLedger } from '../shared/ledger/types';
import type { Log, MetricsSink } from '../shared/observability';
import { type Clock, type Deadline, JobFailed, type JobOutcome, type RunResult, runExclusive, systemClock } from '../shared/runtime';
import { jsonChunks } from '../shared/sql/bulk';
import { p, type Sql, type SqlExecutor } from '../shared/sql/types';
import { formatInZone, formatSeconds } from '../shared/time';
import {
  type ArchivedMessage,
  CheckpointFormatError,
  type ParsedCheckpoint,
  parseSaverCheckpoint,
  parseSeedCheckpoint,
  saverKeyParts,
  seedKeyParts,
  toDate,
} from './parse';
import type { CheckpointStore, RawEntry } from './redis-store';

export const JOB = 'archive';
const HOUR = 3_600_000;

export type ArchiveSettings = Pick<
  ArchiveConfig,
  'cutoffHours' | 'checkpointTtlHours' | 'retryAttempts' | 'retryDelayMs' | 'seedKeyPrefix' | 'saverKeyPrefix' | 'batchSize' | 'scanCount'
> & {
  readonly timeZone: string;
  /** Batches in flight at once. @default 2 */
  readonly concurrency?: number;
  /** Companion key families of the savers, removed with their thread. */
  readonly companionPrefixes?: readonly string[];
};

export const DEFAULT_COMPANION_PREFIXES = ['checkpoint_blob:', 'checkpoint_write:', 'write_keys_zset:', 'checkpoint_latest:'];

export interface ArchiveDeps {
  readonly sql: Sql;
  readonly store: CheckpointStore;
  readonly log: Log;
  readonly deadline: Deadline;
  readonly clock?: Clock;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly runId?: string;
}

export const COUNTERS = [
  'checkpoints_examined',
  'checkpoints_fresh',
  'checkpoints_expired',
  'checkpoints_archived',
  'checkpoints_changed',
  'checkpoints_malformed',
  'checkpoints_without_age',
  'conversations_failed',
  'messages_archived',
  'messages_invalid',
  'keys_deleted',
] as const;
export type ArchiveCounters = Record<(typeof COUNTERS)[number], number>;

export interface ArchiveOutcome extends JobOutcome {
  readonly counters: ArchiveCounters;
}

/** One unit of work: a seed-layout key, or every key of one saver thread. */
type Unit =
  | { readonly kind: 'seed'; readonly key: string }
  | { readonly kind: 'saver'; readonly thread: string; readonly docs: string[]; readonly companions: string[] };

interface Ready {
  readonly unit: Unit;
  readonly conversation: ParsedCheckpoint;
  /** Keys to compare-and-delete after commit, with the value read. */
  readonly reads: RawEntry[];
  /** Raw values with invalid messages: a copy is quarantined before Redis loses them. */
  readonly partial: { key: string; value: string; error: string }[];
  /** Saver docs that could not be parsed: they keep the thread (and its companions) in Redis. */
  readonly keepThread: boolean;
}

// ---------------------------------------------------------------- discovery

async function discover(store: CheckpointStore, s: ArchiveSettings): Promise<Unit[]> {
  const units: Unit[] = [];
  for await (const keys of store.scan(`${s.seedKeyPrefix}*`)) for (const key of keys) units.push({ kind: 'seed', key });
  const threads = new Map<string, { docs: string[]; companions: string[] }>();
  const thread = (name: string) => {
    let t = threads.get(name);
    if (!t) {
      t = { docs: [], companions: [] };
      threads.set(name, t);
    }
    return t;
  };
  for await (const keys of store.scan(`${s.saverKeyPrefix}*`)) {
    for (const key of keys) {
      if (key.startsWith(s.seedKeyPrefix)) continue;
      const parts = saverKeyParts(key, s.saverKeyPrefix);
      if (parts) thread(parts.thread).docs.push(key);
    }
  }
  for (const prefix of s.companionPrefixes ?? DEFAULT_COMPANION_PREFIXES) {
    if (s.saverKeyPrefix.startsWith(prefix) || prefix.startsWith(s.saverKeyPrefix)) continue;
    for await (const keys of store.scan(`${prefix}*`)) {
      for (const key of keys) {
        const t = companionThread(key, prefix);
        if (t !== undefined && threads.has(t)) thread(t).companions.push(key);
      }
    }
  }
  for (const [name, t] of threads) if (t.docs.length > 0) units.push({ kind: 'saver', thread: name, ...t });
  return units;
}

/** Segments after the thread: blob `ns:channel:version`, write `ns:cid:task:idx`, zset `ns:cid`, latest `ns`. */
const TRAILING: Record<string, number> = { checkpoint_blob: 3, checkpoint_write: 4, write_keys_zset: 2, checkpoint_latest: 1 };
function companionThread(key: string, prefix: string): string | undefined {
  const family = prefix.replace(/:$/, '');
  const parts = key.slice(prefix.length).split(':');
  const trailing = TRAILING[family] ?? 1;
  return parts.length > trailing ? parts.slice(0, parts.length - trailing).join(':') : undefined;
}

// ---------------------------------------------------------------- the job

export async function archiveCheckpoints(deps: ArchiveDeps, s: ArchiveSettings): Promise<ArchiveOutcome> {
  const { sql, store, log, deadline } = deps;
  const clock = deps.clock ?? systemClock;
  const sleep = deps.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const c = Object.fromEntries(COUNTERS.map((k) => [k, 0])) as ArchiveCounters;
  let newErrors = 0;
  const started = clock.now();
  log.info(`Starting conversation archival run at ${formatInZone(started, s.timeZone)}`, { runId: deps.runId });

  const units = await discover(store, s);
  log.info(`Found ${units.length} checkpoints to examine`, { seed: units.filter((u) => u.kind === 'seed').length });
  let workRemaining = false;
  let aborted = false;
  let next = 0;
  const processBatch = async (batch: Unit[]) => {
    const now = clock.now();
    const ready: Ready[] = [];
    for (const prepared of await prepare(store, batch, s, now)) {
      c.checkpoints_examined++;
      if (prepared.kind === 'fresh') c.checkpoints_fresh++;
      else if (prepared.kind === 'no-age') {
        c.checkpoints_without_age++;
        log.warn(`Checkpoint ${prepared.key} has no time and no TTL: left in Redis`);
      } else if (prepared.kind === 'gone') c.checkpoints_examined--;
      else if (prepared.kind === 'malformed') {
        c.checkpoints_malformed++;
        const isNew = await quarantine(
          sql,
          [{ key: prepared.key, value: prepared.value, error: prepared.error, layout: prepared.layout }],
          deps.runId,
        );
        newErrors += isNew;
        log.error(`Malformed checkpoint ${prepared.key}: ${prepared.error}`, {
          key: prepared.key,
          quarantined: true,
          firstSeen: isNew > 0,
        });
      } else {
        if (prepared.malformed.length > 0) {
          c.checkpoints_malformed += prepared.malformed.length;
          newErrors += await quarantine(sql, prepared.malformed, deps.runId);
        }
        ready.push(prepared.ready);
      }
    }
    if (ready.length === 0) return;
    c.checkpoints_expired += ready.length;
    log.info(`Found ${ready.length} expired checkpoints to archive`);
    for (const r of ready) c.messages_invalid += r.conversation.invalid.length;

    const committed = await writeWithRetry(deps, s, ready, sleep, (failed, err) => {
      c.conversations_failed++;
      log.error(`Failed to archive ${failed.conversation.conversationKey} after retry, skipping`, { error: (err as Error).message });
    });
    c.messages_archived += committed.inserted;
    if (committed.aborted) {
      if (!aborted) log.error('Database unreachable: stopping this run; unarchived checkpoints stay in Redis', {});
      aborted = true;
      workRemaining = true;
      return;
    }
    // Conversations are independent: their deletes go out together (one key per command, so
    // auto-pipelining batches them per node without cross-slot commands).
    const deletions = await Promise.all(committed.done.map((r) => deleteArchived(store, r)));
    committed.done.forEach((r, i) => {
      const deleted = deletions[i] as { keys: number; changed: boolean };
      c.keys_deleted += deleted.keys;
      if (deleted.changed) {
        c.checkpoints_changed++;
        log.warn(`Checkpoint ${unitName(r.unit)} changed after it was read: archived, not deleted (the next run takes the rest)`);
      } else c.checkpoints_archived++;
    });
  };
  // Batches run `concurrency` at a time: Redis reads and parsing of one overlap the database
  // write of another. Rows are written in key order, so concurrent batches cannot deadlock.
  // A batch that throws (Redis gone, say) stops the others from taking more; the run fails once
  // every batch in flight has settled, so nothing still runs after the lock is released.
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!aborted && !failure && next < units.length) {
      if (deadline.shouldStop()) {
        if (!workRemaining)
          log.warn(`Stopping before the deadline: ${units.length - next} checkpoints left for the next run`, {
            remainingMs: deadline.remainingMs(),
          });
        workRemaining = true;
        return;
      }
      const batch = units.slice(next, next + s.batchSize);
      next += s.batchSize;
      try {
        await processBatch(batch);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, s.concurrency ?? 2) }, worker));
  const seconds = formatSeconds(clock.now().getTime() - started.getTime());
  if (failure) {
    log.error(`Archival run failed after ${seconds}: ${(failure.error as Error)?.message ?? failure.error}`, { ...c });
    throw new JobFailed({ counters: c, errors: c.conversations_failed + newErrors, workRemaining: true }, failure.error);
  }
  log.info(`Completed archival run in ${seconds}`, { ...c, aborted });
  return { counters: c, errors: c.conversations_failed + newErrors, workRemaining };
}

/** The whole run: lease lock, ledger record, metrics (see runExclusive). */
export function runArchive(
  deps: ArchiveDeps & { ledger: RunLedger; metrics: MetricsSink; leaseMs: number },
  s: ArchiveSettings,
): Promise<RunResult<ArchiveOutcome>> {
  return runExclusive(
    {
      job: JOB,
      ledger: deps.ledger,
      log: deps.log,
      metrics: deps.metrics,
      leaseMs: deps.leaseMs,
      timeZone: s.timeZone,
      clock: deps.clock,
      runId: deps.runId,
    },
    ({ runId }) => archiveCheckpoints({ ...deps, runId }, s),
  );
}

/** Seed 000's health record, from a run record. */
export function healthRecord(run: {
  finishedAt: string;
  status: string;
  counters: Record<string, number>;
  errors: number;
  durationMs: number;
  workRemaining: boolean;
}) {
  return {
    last_run: run.finishedAt,
    status: run.status,
    checkpoints_archived: run.counters.checkpoints_archived ?? 0,
    messages_archived: run.counters.messages_archived ?? 0,
    errors: run.errors,
    duration_s: Math.round(run.durationMs) / 1000,
    work_remaining: run.workRemaining,
  };
}

// ---------------------------------------------------------------- read + parse

type Prepared =
  | { kind: 'fresh'; key: string }
  | { kind: 'gone'; key: string }
  | { kind: 'no-age'; key: string }
  | { kind: 'malformed'; key: string; value: string; error: string; layout: string }
  | { kind: 'ready'; ready: Ready; malformed: { key: string; value: string; error: string; layout: string }[] };

function ageTime(parsedTime: Date | undefined, nsTime: Date | undefined, entry: RawEntry, s: ArchiveSettings, now: Date): Date | undefined {
  if (parsedTime) return parsedTime;
  if (nsTime) return nsTime;
  if (entry.pttlMs >= 0) return new Date(now.getTime() - (s.checkpointTtlHours * HOUR - entry.pttlMs));
  return undefined;
}

async function prepare(store: CheckpointStore, batch: Unit[], s: ArchiveSettings, now: Date): Promise<Prepared[]> {
  const keys = batch.flatMap((u) => (u.kind === 'seed' ? [u.key] : u.docs));
  const entries = new Map((await store.read(keys)).map((e) => [e.key, e]));
  const cutoff = now.getTime() - s.cutoffHours * HOUR;
  const out: Prepared[] = [];
  const needBlobs: { unit: Unit & { kind: 'saver' }; idx: number }[] = [];
  for (const unit of batch) {
    if (unit.kind === 'seed') {
      const e = entries.get(unit.key);
      if (!e || e.value === null) {
        out.push({ kind: 'gone', key: unit.key });
        continue;
      }
      try {
        const parsed = parseSeedCheckpoint(unit.key, e.value, s.seedKeyPrefix);
        const ns = seedKeyParts(unit.key, s.seedKeyPrefix)?.ns;
        const t = ageTime(parsed.time, ns && /^\d+$/.test(ns) ? toDate(Number(ns)) : undefined, e, s, now);
        if (!t) out.push({ kind: 'no-age', key: unit.key });
        else if (t.getTime() > cutoff) out.push({ kind: 'fresh', key: unit.key });
        else
          out.push({
            kind: 'ready',
            malformed: [],
            ready: { unit, conversation: parsed, reads: [e], partial: partialCopy(unit.key, e.value, parsed), keepThread: false },
          });
      } catch (err) {
        out.push(malformed(unit.key, e.value, err, 'seed'));
      }
    } else {
      out.push({ kind: 'gone', key: unit.thread });
      needBlobs.push({ unit, idx: out.length - 1 });
    }
  }
  // Saver threads: every document of the thread; the newest decides the thread's age.
  for (const { unit, idx } of needBlobs) {
    const docs = unit.docs.map((k) => entries.get(k)).filter((e): e is RawEntry => !!e && e.value !== null);
    if (docs.length === 0) continue;
    const parsed: { entry: RawEntry; cp: ParsedCheckpoint }[] = [];
    const bad: { key: string; value: string; error: string; layout: string }[] = [];
    for (const entry of docs) {
      try {
        parsed.push({ entry, cp: parseSaverCheckpoint(entry.value as string) });
      } catch (err) {
        const m = malformed(entry.key, entry.value as string, err, 'saver');
        bad.push({ key: entry.key, value: m.value, error: m.error, layout: 'saver' });
      }
    }
    if (parsed.length === 0) {
      out[idx] = {
        kind: 'malformed',
        key: bad[0]?.key ?? unit.thread,
        value: bad[0]?.value ?? '',
        error: bad.map((b) => b.error).join('; '),
        layout: 'saver',
      };
      if (bad.length > 1) out.push(...bad.slice(1).map((b) => ({ kind: 'malformed' as const, ...b })));
      continue;
    }
    const times = parsed.map(({ entry, cp }) => ageTime(cp.time, undefined, entry, s, now));
    if (times.some((t) => !t)) {
      out[idx] = { kind: 'no-age', key: unit.thread };
      continue;
    }
    const newest = Math.max(...times.map((t) => (t as Date).getTime()));
    if (newest > cutoff) {
      out[idx] = { kind: 'fresh', key: unit.thread };
      continue;
    }
    // Fill messages kept in a blob (JS saver), then merge every document's messages, newest first.
    for (const item of parsed) {
      if (item.cp.messages.length === 0 && item.cp.messagesBlobVersion !== undefined) {
        const blobKey = `checkpoint_blob:${unit.thread}:${item.cp.namespace ?? ''}:messages:${item.cp.messagesBlobVersion}`;
        const [blob] = await store.read([blobKey]);
        if (blob?.value) {
          try {
            item.cp = parseSaverCheckpoint(item.entry.value as string, blob.value);
          } catch (err) {
            bad.push({ key: item.entry.key, value: item.entry.value as string, error: (err as Error).message, layout: 'saver' });
          }
        }
      }
    }
    parsed.sort((a, b) => (b.cp.time?.getTime() ?? 0) - (a.cp.time?.getTime() ?? 0));
    const seen = new Set<string>();
    const messages: ArchivedMessage[] = [];
    const invalid = [];
    for (const { cp } of parsed) {
      for (const m of cp.messages) {
        if (seen.has(m.key)) continue;
        seen.add(m.key);
        messages.push(m);
      }
      invalid.push(...cp.invalid);
    }
    const head = parsed[0]?.cp as ParsedCheckpoint;
    const conversation: ParsedCheckpoint = {
      ...head,
      customerId: parsed.find((x) => x.cp.customerId)?.cp.customerId ?? null,
      messages,
      invalid,
    };
    const partial = parsed.flatMap(({ entry, cp }) => partialCopy(entry.key, entry.value as string, cp));
    out[idx] = {
      kind: 'ready',
      malformed: bad,
      ready: { unit, conversation, reads: parsed.map((x) => x.entry), partial, keepThread: bad.length > 0 },
    };
  }
  return out;
}

function partialCopy(key: string, value: string, cp: ParsedCheckpoint): Ready['partial'] {
  if (cp.invalid.length === 0) return [];
  const error = `${cp.invalid.length} invalid message(s) skipped: ${cp.invalid
    .slice(0, 10)
    .map((i) => `#${i.index} ${i.reason}`)
    .join('; ')}`;
  return [{ key, value, error }];
}

function malformed(key: string, value: string, err: unknown, layout: string) {
  const message = err instanceof CheckpointFormatError ? err.message : `unexpected: ${(err as Error).message}`;
  return { kind: 'malformed' as const, key, value, error: message, layout };
}

const unitName = (u: Unit) => (u.kind === 'seed' ? u.key : `thread ${u.thread}`);

// ---------------------------------------------------------------- write

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Inserts quarantine rows once per (key, value); returns how many were new. */
async function quarantine(
  sql: SqlExecutor,
  rows: { key: string; value: string; error: string; layout?: string }[],
  runId: string | undefined,
): Promise<number> {
  if (rows.length === 0) return 0;
  const payload = rows.map((r) => ({
    redis_key: r.key,
    value_sha256: sha256(r.value),
    layout: r.layout ?? null,
    error: r.error,
    raw_value: r.value,
  }));
  const res = await sql.query<{ inserted: boolean }>(
    `INSERT INTO checkpoint_quarantine (redis_key, value_sha256, layout, error, raw_value, run_id)
     SELECT r.redis_key, r.value_sha256, r.layout, r.error, r.raw_value, $2::text
     FROM jsonb_to_recordset($1::jsonb) AS r(redis_key text, value_sha256 text, layout text, error text, raw_value text)
     ON CONFLICT (redis_key, value_sha256) DO UPDATE
       SET last_seen_at = now(), seen_count = checkpoint_quarantine.seen_count + 1, run_id = EXCLUDED.run_id
     RETURNING (xmax = 0) AS inserted`,
    [p.json(payload), p.text(runId ?? null)],
  );
  return res.filter((r) => r.inserted).length;
}

async function writeBatch(tx: SqlExecutor, ready: Ready[], runId: string | undefined): Promise<number> {
  const conversations = [...ready]
    .sort((a, b) => cmp(a.conversation.conversationKey, b.conversation.conversationKey))
    .map((r) => {
      const times = r.conversation.messages.map((m) => m.createdAt).sort();
      return {
        key: r.conversation.conversationKey,
        customer_id: r.conversation.customerId,
        started_at: times[0] ?? (r.conversation.time ?? new Date(0)).toISOString(),
        last_message_at: times[times.length - 1] ?? null,
        metadata: {
          archived_from: r.conversation.layout === 'seed' ? 'langgraph_checkpoint' : 'langgraph_redis_saver',
          archive_run: runId ?? null,
        },
      };
    });
  for (const chunk of jsonChunks(conversations)) {
    await tx.execute(
      `INSERT INTO conversations (conversation_key, source, customer_id, started_at, last_message_at, metadata)
       SELECT r.key, 'redis_archive', r.customer_id, r.started_at, r.last_message_at, r.metadata
       FROM jsonb_to_recordset($1::jsonb) AS r(key text, customer_id text, started_at timestamptz, last_message_at timestamptz, metadata jsonb)
       ON CONFLICT (conversation_key) DO UPDATE SET
         customer_id     = COALESCE(EXCLUDED.customer_id, conversations.customer_id),
         started_at      = LEAST(conversations.started_at, EXCLUDED.started_at),
         last_message_at = GREATEST(conversations.last_message_at, EXCLUDED.last_message_at),
         metadata        = conversations.metadata || EXCLUDED.metadata,
         updated_at      = now()`,
      [chunk.param],
    );
  }
  const rows = ready.flatMap((r) =>
    r.conversation.messages.map((m) => ({
      ck: r.conversation.conversationKey,
      k: m.key,
      s: m.seq,
      r: m.role,
      c: m.content,
      t: m.createdAt,
      it: m.inputTokens,
      ot: m.outputTokens,
      ct: m.cachedTokens,
      rt: m.reasoningTokens,
      mo: m.model,
      md: m.metadata,
    })),
  );
  // Conversation order keeps concurrent batches from locking rows in opposite orders; seq order
  // keeps ids in message order (messages that share a time are read back by id).
  rows.sort((a, b) => cmp(a.ck, b.ck) || a.s - b.s || cmp(a.k, b.k));
  let inserted = 0;
  for (const chunk of jsonChunks(rows)) {
    const res = await tx.execute(
      `INSERT INTO messages (conversation_id, message_key, seq, role, content, created_at, source,
                             input_tokens, output_tokens, cached_tokens, reasoning_tokens, model, metadata, language)
       SELECT c.id, r.k, r.s, r.r, r.c, r.t, 'redis_archive', r.it, r.ot, r.ct, r.rt, r.mo, COALESCE(r.md, '{}'::jsonb), detect_language(r.c)
       FROM jsonb_to_recordset($1::jsonb) AS r(ck text, k text, s int, r text, c text, t timestamptz,
                                               it int, ot int, ct int, rt int, mo text, md jsonb)
       JOIN conversations c ON c.conversation_key = r.ck
       ON CONFLICT (conversation_id, message_key) DO NOTHING`,
      [chunk.param],
    );
    inserted += res.rowCount;
  }
  const partial = ready.flatMap((r) => r.partial.map((x) => ({ ...x, layout: r.conversation.layout })));
  await quarantine(tx, partial, runId);
  return inserted;
}

const CONNECTION_ERROR =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|terminat|Connection|connect|shutting down|DatabaseUnavailable|not available/i;

/**
 * One transaction per batch, retried (seed 000: 2 attempts, 5 s apart). If it still fails, each
 * conversation is tried alone so one bad conversation cannot hold back the others; if the
 * database is unreachable the run stops (nothing is deleted from Redis for what was not committed).
 */
async function writeWithRetry(
  deps: ArchiveDeps,
  s: ArchiveSettings,
  ready: Ready[],
  sleep: (ms: number) => Promise<void>,
  onFailed: (r: Ready, err: unknown) => void,
): Promise<{ done: Ready[]; inserted: number; aborted: boolean }> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= s.retryAttempts; attempt++) {
    try {
      const inserted = await deps.sql.transaction((tx) => writeBatch(tx, ready, deps.runId));
      return { done: ready, inserted, aborted: false };
    } catch (err) {
      lastError = err;
      deps.log.warn(`Archive write failed (attempt ${attempt}/${s.retryAttempts})`, { error: (err as Error).message });
      if (attempt < s.retryAttempts) await sleep(s.retryDelayMs);
    }
  }
  if (CONNECTION_ERROR.test((lastError as Error)?.message ?? '')) {
    for (const r of ready) onFailed(r, lastError);
    return { done: [], inserted: 0, aborted: true };
  }
  const done: Ready[] = [];
  let inserted = 0;
  for (const r of ready) {
    try {
      inserted += await deps.sql.transaction((tx) => writeBatch(tx, [r], deps.runId));
      done.push(r);
    } catch (err) {
      onFailed(r, err);
    }
  }
  return { done, inserted, aborted: false };
}

// ---------------------------------------------------------------- delete

async function deleteArchived(store: CheckpointStore, r: Ready): Promise<{ keys: number; changed: boolean }> {
  const outcomes = await Promise.all(
    r.reads.flatMap((e) =>
      e.value !== null && (e.kind === 'string' || e.kind === 'json') ? [store.compareAndDelete(e.key, e.value, e.kind)] : [],
    ),
  );
  let keys = outcomes.filter(Boolean).length;
  const changed = keys < outcomes.length;
  // Companion keys go only with the whole thread: every document deleted, none left unparsed.
  if (r.unit.kind === 'saver' && !changed && !r.keepThread && r.reads.length === r.unit.docs.length) {
    keys += await store.deleteEach(r.unit.companions);
  }
  return { keys, changed };
}
