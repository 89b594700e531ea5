/**
 * The archival job (seed 000): checkpoints older than the cutoff move from Redis to PostgreSQL,
 * then leave Redis — only after their messages are committed, and only if unchanged since read.
 *
 * discover (discover.ts) → assemble (assemble.ts, thread.ts, layouts/) → judge (judge.ts) →
 * write (write.ts; quarantine.ts) → delete (delete.ts, behind the one rule in delete-rule.ts).
 * This file only runs the stages batch by batch and counts.
 */
import type { ArchiveConfig } from '../../lib/config';
import type { RunLedger } from '../shared/ledger/types';
import type { Log, MetricsSink } from '../shared/observability';
import { type Clock, type Deadline, JobFailed, type JobOutcome, type RunResult, runExclusive, systemClock } from '../shared/runtime';
import { DatabaseUnreachableError, databaseOutage } from '../shared/sql/outage';
import type { Sql } from '../shared/sql/types';
import { formatInZone, formatSeconds } from '../shared/time';
import { type AssembledUnit, assemble } from './assemble';
import { appearedSince, deleteUnit } from './delete';
import { COMPANION_PREFIXES, discover, type Unit } from './discover';
import { judge } from './judge';
import { type QuarantineItem, quarantine, redact } from './quarantine';
import type { CheckpointStore } from './redis-store';
import type { AssembledMessages } from './thread';
import { safeLabel } from './values';
import { writeUnits } from './write';

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

export const DEFAULT_COMPANION_PREFIXES = COMPANION_PREFIXES;

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
  'checkpoints_blocked',
  'checkpoints_without_age',
  'conversations_failed',
  'messages_archived',
  'messages_updated',
  'messages_invalid',
  'messages_id_conflicts',
  'checkpoints_superseded_incomplete',
  'keys_deleted',
  'keys_orphaned',
  'quarantine_failed',
] as const;
export type ArchiveCounters = Record<(typeof COUNTERS)[number], number>;

export interface ArchiveOutcome extends JobOutcome {
  readonly counters: ArchiveCounters;
}

interface Ready {
  readonly u: AssembledUnit;
  readonly messages: AssembledMessages;
  readonly newestMs: number;
}

const item = (e: AssembledUnit['reads'][number], error: string, layout: string): QuarantineItem => ({
  key: e.key,
  raw: e.raw,
  error,
  layout,
  keyType: e.kind === 'other' ? e.detail : e.kind,
});

export async function archiveCheckpoints(deps: ArchiveDeps, s: ArchiveSettings): Promise<ArchiveOutcome> {
  const { sql, store, log, deadline } = deps;
  const clock = deps.clock ?? systemClock;
  const sleep = deps.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const c = Object.fromEntries(COUNTERS.map((k) => [k, 0])) as ArchiveCounters;
  let newErrors = 0;
  const started = clock.now();
  log.info(`Starting conversation archival run at ${formatInZone(started, s.timeZone)}`, { runId: deps.runId });
  /**
   * What stops the run. A batch that throws (Redis gone, say) stops the others from taking more;
   * the run fails once every batch in flight has settled, so nothing still runs after the lock is
   * released. A database outage is one such failure: no further batch, no quarantine write.
   */
  let failure: { error: unknown } | undefined;
  const stopIfFailed = () => {
    if (failure) throw failure.error;
  };

  /** Quarantines one item; throws only when the database is unreachable. Returns whether PostgreSQL now holds its copy. */
  const keep = async (q: QuarantineItem, logIt = true, countsAsError = true): Promise<boolean> => {
    stopIfFailed();
    const outcome = await quarantine(sql, q, deps.runId, log);
    if (outcome === 'new' && countsAsError) newErrors++;
    if (outcome === 'failed') c.quarantine_failed++;
    if (logIt)
      log.error(`Malformed checkpoint ${safeLabel(q.key)}: ${q.error}`, {
        key: safeLabel(q.key),
        bytes: q.raw?.length ?? 0,
        quarantined: outcome !== 'failed',
        firstSeen: outcome === 'new',
      });
    return outcome !== 'failed';
  };

  const failed = (error: unknown) => {
    const outage = error instanceof DatabaseUnreachableError;
    // One error for the whole run; the ledger (runExclusive) records it with the counters so far.
    const reason = outage
      ? new DatabaseUnreachableError(error.cause, {
          after: `the run stopped at once (${c.checkpoints_archived} checkpoint(s) archived before); the unarchived checkpoints stay in Redis for the next run`,
        })
      : error;
    return new JobFailed({ counters: c, errors: c.conversations_failed + newErrors + c.quarantine_failed, workRemaining: true }, reason);
  };
  let discovery: Awaited<ReturnType<typeof discover>>;
  try {
    discovery = await discover(store, s, async (m) => {
      c.checkpoints_malformed++;
      await keep(item(m.entry, m.error, m.layout));
    });
  } catch (error) {
    throw failed(error);
  }
  const units = discovery.units;
  c.keys_orphaned = discovery.orphans;
  const knownDocs = new Set<string>();
  const blockedBy = new Map<string, number>();
  for (const u of units)
    if (u.kind === 'saver') {
      for (const k of u.docs) knownDocs.add(k);
      for (const k of u.blockedBy) knownDocs.add(k);
      blockedBy.set(u.thread, u.blockedBy.length);
    }
  log.info(`Found ${units.length} checkpoints to examine`, {
    seed: units.filter((u) => u.kind === 'seed').length,
    orphanedCompanionKeys: discovery.orphans,
  });
  let workRemaining = false;
  let next = 0;
  const processBatch = async (batch: Unit[]) => {
    const now = clock.now();
    const cutoffMs = now.getTime() - s.cutoffHours * HOUR;
    const ready: Ready[] = [];
    for (const u of await assemble(store, batch, s)) {
      c.checkpoints_examined++;
      const blocked = u.unit.kind === 'saver' ? (blockedBy.get(u.unit.thread) ?? 0) : 0;
      const j = judge(u, now, s, blocked);
      if (j.kind === 'gone') c.checkpoints_examined--;
      else if (j.kind === 'changed') {
        c.checkpoints_changed++;
        log.warn(`Checkpoint ${safeLabel(u.name)} changed since discovery: left for the next run`);
      } else if (j.kind === 'no-age') {
        c.checkpoints_without_age++;
        log.warn(`Checkpoint ${safeLabel(u.name)} has no time and no TTL: left in Redis`);
      } else if (j.kind === 'fresh') {
        c.checkpoints_fresh++;
        for (const pr of u.problems) {
          c.checkpoints_malformed++;
          await keep(item(pr.entry, pr.error, u.layout));
        }
      } else if (j.kind === 'malformed') {
        c.checkpoints_malformed++;
        for (const pr of u.problems) await keep(item(pr.entry, pr.error, u.layout));
      } else if (j.kind === 'blocked') {
        // Old, but not all of it can be read: every key stays in Redis and PostgreSQL keeps a copy of each.
        c.checkpoints_blocked++;
        c.checkpoints_malformed += u.problems.length;
        const bad = new Map(u.problems.map((pr) => [pr.entry.key, pr.error]));
        log.error(`Cannot archive ${safeLabel(u.name)} whole (${j.reason}): kept in Redis, its keys quarantined`, { keys: u.reads.length });
        for (const e of u.reads) await keep(item(e, bad.get(e.key) ?? `Kept with its thread: ${j.reason}`, u.layout), bad.has(e.key));
      } else {
        c.messages_invalid += j.messages.invalid.length;
        c.messages_id_conflicts += j.messages.idConflicts;
        ready.push({ u, messages: j.messages, newestMs: j.newestMs });
      }
    }
    if (ready.length === 0) return;
    c.checkpoints_expired += ready.length;
    stopIfFailed();

    const committed = await writeWithRetry(deps, s, ready, sleep, async (failed, err) => {
      c.conversations_failed++;
      log.error(`Failed to archive ${safeLabel(failed.u.conversationKey ?? failed.u.name)} after retry, skipping`, {
        error: redact((err as Error)?.message ?? String(err)),
      });
      // Kept in Redis, and a copy in PostgreSQL before the TTL takes it.
      for (const e of failed.u.reads)
        await keep(item(e, `Conversation could not be written: ${redact((err as Error)?.message ?? '')}`, failed.u.layout), false, false);
    });
    c.messages_archived += committed.inserted;
    c.messages_updated += committed.updated;
    // Invalid messages are not rows: their checkpoint's copy in quarantine is what keeps them. So
    // does a checkpoint whose messages blob is absent but superseded (assemble.ts): its document.
    const copiesKept = new Map<Ready, boolean>();
    for (const r of committed.done) {
      let kept = true;
      for (const x of r.u.superseded) {
        c.checkpoints_superseded_incomplete++;
        const error = `Declared messages blob ${x.blob} absent; superseded by ${x.by}, from which the thread was archived`;
        log.warn(`Checkpoint ${safeLabel(x.entry.key)}: ${safeLabel(error)} (a copy in checkpoint_quarantine)`);
        kept = (await keep(item(x.entry, error, r.u.layout), false, false)) && kept;
      }
      const sources = new Map<string, string[]>();
      for (const inv of r.messages.invalid) sources.set(inv.source, [...(sources.get(inv.source) ?? []), `#${inv.index} ${inv.reason}`]);
      for (const [source, reasons] of sources) {
        const e = r.u.reads.find((x) => x.key === source);
        if (!e) continue;
        const error = `${reasons.length} invalid message(s) skipped: ${reasons.slice(0, 10).join('; ')}`;
        kept = (await keep(item(e, error, r.u.layout), false)) && kept;
      }
      copiesKept.set(r, kept);
    }
    const threads = new Set(committed.done.flatMap((r) => (r.u.unit.kind === 'saver' ? [r.u.unit.thread] : [])));
    const appeared = threads.size > 0 ? await appearedSince(store, s.saverKeyPrefix, knownDocs, threads) : new Map<string, number>();
    // Conversations are independent: their deletes go out together (one key per command, so
    // auto-pipelining batches them per node without cross-slot commands).
    const outcomes = await Promise.all(
      committed.done.map((r) =>
        deleteUnit(
          store,
          r.u,
          {
            documentsFound: r.u.unit.kind === 'saver' ? r.u.unit.docs.length : 1,
            documentsParsed: r.u.docs.length - r.u.problems.filter((pr) => r.u.docs.some((d) => d.entry.key === pr.entry.key)).length,
            blockedBy: r.u.unit.kind === 'saver' ? (blockedBy.get(r.u.unit.thread) ?? 0) : 0,
            problems: r.u.problems.length,
            newestMs: r.newestMs,
            cutoffMs,
            missingBlobs: r.u.missingBlobs.length,
            committed: true,
            copiesKept: copiesKept.get(r) ?? false,
          },
          r.u.unit.kind === 'saver' ? (appeared.get(r.u.unit.thread) ?? 0) : 0,
        ),
      ),
    );
    committed.done.forEach((r, i) => {
      const o = outcomes[i] as Awaited<ReturnType<typeof deleteUnit>>;
      c.keys_deleted += o.keys;
      if (o.verdict.delete && !o.raced) c.checkpoints_archived++;
      else {
        c.checkpoints_changed++;
        log.warn(
          `Checkpoint ${safeLabel(r.u.name)} ${o.raced ? 'changed while it was deleted' : `kept (rule ${o.verdict.delete ? '' : o.verdict.rule}: ${o.verdict.delete ? '' : o.verdict.reason})`}: archived, not deleted (the next run takes the rest)`,
        );
      }
    });
  };
  // Batches run `concurrency` at a time: Redis reads and parsing of one overlap the database
  // write of another. Rows are written in key order, so concurrent batches cannot deadlock.
  const worker = async () => {
    while (!failure && next < units.length) {
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
  const errors = c.conversations_failed + newErrors + c.quarantine_failed;
  // Said once, by runExclusive ("archive run failed", with this error): not here as well.
  if (failure) throw failed(failure.error);
  // Seed 000's line, once per run (batches are judged as they come: the total is known now).
  log.info(`Found ${c.checkpoints_expired} expired checkpoints to archive`);
  log.info(`Completed archival run in ${seconds}`, { ...c });
  return { counters: c, errors, workRemaining };
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

// ---------------------------------------------------------------- write, with retries

const toWrite = (r: Ready) => ({
  conversationKey: r.u.conversationKey as string,
  customerId: r.u.customerId,
  layout: r.u.layout,
  messages: r.messages.messages,
  fallbackTime: new Date(r.newestMs),
});

/**
 * One transaction per batch, retried (seed 000: 2 attempts, 5 s apart). If it still fails, each
 * conversation is tried alone so one bad conversation cannot hold back the others. A database
 * that does not answer is no conversation's fault: it throws DatabaseUnreachableError at once —
 * no retry, no conversation counted as failed — and the run stops (nothing is deleted from Redis
 * for what was not committed).
 */
async function writeWithRetry(
  deps: ArchiveDeps,
  s: ArchiveSettings,
  ready: Ready[],
  sleep: (ms: number) => Promise<void>,
  onFailed: (r: Ready, err: unknown) => Promise<void>,
): Promise<{ done: Ready[]; inserted: number; updated: number }> {
  const stopOnOutage = async (err: unknown) => {
    const outage = await databaseOutage(deps.sql, err);
    if (outage) throw outage;
  };
  for (let attempt = 1; attempt <= s.retryAttempts; attempt++) {
    try {
      const w = await deps.sql.transaction((tx) => writeUnits(tx, ready.map(toWrite), deps.runId));
      return { done: ready, ...w };
    } catch (err) {
      await stopOnOutage(err);
      deps.log.warn(`Archive write failed (attempt ${attempt}/${s.retryAttempts})`, {
        error: redact((err as Error)?.message ?? String(err)),
      });
      if (attempt < s.retryAttempts) await sleep(s.retryDelayMs);
    }
  }
  const done: Ready[] = [];
  let inserted = 0;
  let updated = 0;
  for (const r of ready) {
    try {
      const w = await deps.sql.transaction((tx) => writeUnits(tx, [toWrite(r)], deps.runId));
      inserted += w.inserted;
      updated += w.updated;
      done.push(r);
    } catch (err) {
      await stopOnOutage(err);
      await onFailed(r, err);
    }
  }
  return { done, inserted, updated };
}
