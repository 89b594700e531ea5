import { randomUUID } from 'node:crypto';
import type { RunLedger, RunRecord } from './ledger/types';
import type { Log, MetricsSink } from './observability';
import { formatInZone } from './time';

export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };

/** How much time a run has left; jobs stop taking new work when `shouldStop()`. */
export interface Deadline {
  remainingMs(): number;
  /** True when less than `reserveMs` (default: the deadline's own reserve) remains. */
  shouldStop(reserveMs?: number): boolean;
}

/**
 * From a Lambda context (`getRemainingTimeInMillis`) or, locally, a time budget.
 * `reserveMs` is kept free to finish the conversation in hand and record the run.
 */
export function deadline(
  source: { getRemainingTimeInMillis(): number } | { budgetMs: number } | undefined,
  reserveMs = 15_000,
  clock: Clock = systemClock,
): Deadline {
  let remaining: () => number;
  if (source && 'getRemainingTimeInMillis' in source) remaining = () => source.getRemainingTimeInMillis();
  else {
    const end = clock.now().getTime() + (source?.budgetMs ?? Number.MAX_SAFE_INTEGER / 2);
    remaining = () => end - clock.now().getTime();
  }
  return { remainingMs: remaining, shouldStop: (reserve = reserveMs) => remaining() < reserve };
}

/** What a job returns: its counters, its error count, and whether work remains. */
export interface JobOutcome {
  readonly counters: Record<string, number>;
  readonly errors: number;
  readonly workRemaining?: boolean;
}

/**
 * A run that failed part-way, with what it had done: the ledger records those counters (work
 * committed before the failure stays committed) rather than nothing. `cause` is the failure.
 */
export class JobFailed extends Error {
  override readonly name = 'JobFailed';
  constructor(
    readonly outcome: JobOutcome,
    cause: unknown,
  ) {
    super((cause as Error)?.message ?? String(cause), { cause });
  }
}

export type RunResult<T extends JobOutcome> =
  | ({ readonly status: 'completed'; readonly run: RunRecord } & { readonly outcome: T })
  | { readonly status: 'skipped'; readonly reason: string };

export interface RunExclusiveOptions {
  readonly job: string;
  readonly ledger: RunLedger;
  readonly log: Log;
  readonly metrics: MetricsSink;
  /** Lease length: longer than the longest possible run (the Lambda timeout). */
  readonly leaseMs: number;
  readonly timeZone: string;
  readonly clock?: Clock;
  readonly runId?: string;
  /** A second lock, taken after the ledger's and released before it (the database lease every entry point shares). */
  readonly guard?: RunGuard;
}

/** A lock beside the ledger's: taken for the run, or the run is skipped with its reason. */
export interface RunGuard {
  acquire(runId: string): Promise<{ ok: true } | { ok: false; reason: string }>;
  release(): Promise<void>;
}

/**
 * The run wrapper shared by every job: one run at a time (lease lock in the ledger), the run
 * recorded (last run, status, counters, duration) and its metrics emitted, whatever happens.
 * A failed run is recorded as unhealthy and its error rethrown (retries, DLQ and alarms see it).
 */
export async function runExclusive<T extends JobOutcome>(
  options: RunExclusiveOptions,
  fn: (run: { runId: string; startedAt: Date }) => Promise<T>,
): Promise<RunResult<T>> {
  const { job, ledger, log, metrics, timeZone } = options;
  const clock = options.clock ?? systemClock;
  const runId = options.runId ?? randomUUID();
  const startedAt = clock.now();
  const skip = (reason: string): RunResult<T> => {
    log.info(`Skipping ${job} run: ${reason}`, { job, runId });
    metrics.add('RunsSkipped', 1);
    metrics.flush();
    return { status: 'skipped', reason };
  };
  if (!(await ledger.acquire(job, runId, options.leaseMs, startedAt)))
    return skip(`another ${job} run holds the lock; this invocation exits without doing anything`);
  const finish = async (outcome: JobOutcome, error?: unknown): Promise<RunRecord> => {
    const finishedAt = clock.now();
    const run: RunRecord = {
      job,
      runId,
      startedAt: formatInZone(startedAt, timeZone),
      finishedAt: formatInZone(finishedAt, timeZone),
      durationMs: finishedAt.getTime() - startedAt.getTime(),
      status: error || outcome.errors > 0 ? 'unhealthy' : 'healthy',
      counters: outcome.counters,
      errors: outcome.errors + (error ? 1 : 0),
      workRemaining: outcome.workRemaining ?? false,
      ...(error ? { error: (error as Error).message ?? String(error) } : {}),
    };
    for (const [name, value] of Object.entries(run.counters)) metrics.add(toMetricName(name), value);
    metrics.add('Errors', run.errors);
    metrics.add('DurationMs', run.durationMs, 'Milliseconds');
    metrics.add(error ? 'RunsFailed' : 'RunsSucceeded', 1);
    metrics.add('WorkRemaining', run.workRemaining ? 1 : 0);
    try {
      await ledger.record(run);
    } finally {
      metrics.flush();
    }
    return run;
  };
  try {
    let outcome: T;
    try {
      // The guard (the database lease) is taken inside: a failure to take it — the database down — is
      // a failed run, recorded and alarmed like any other; a guard held by another run is a skip.
      if (options.guard) {
        const taken = await options.guard.acquire(runId);
        if (!taken.ok) return skip(`${taken.reason}; this invocation exits without doing anything`);
      }
      outcome = await fn({ runId, startedAt });
    } catch (err) {
      log.error(`${job} run failed`, { job, runId, error: (err as Error).message });
      const partial = err instanceof JobFailed ? err.outcome : { counters: {}, errors: 0 };
      await finish(partial, err).catch((e) => log.error('Could not record the failed run', { error: (e as Error).message }));
      throw err;
    }
    const run = await finish(outcome);
    return { status: 'completed', run, outcome };
  } finally {
    await options.guard?.release().catch((e) => log.warn('Could not release the database lease', { error: (e as Error).message }));
    await ledger.release(job, runId).catch((e) => log.warn('Could not release the lock', { error: (e as Error).message }));
  }
}

/** `checkpoints_archived` → `CheckpointsArchived` (CloudWatch metric names). */
export function toMetricName(counter: string): string {
  return counter
    .split(/[_\s-]+/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}
