/** The run ledger: locks, last run, per-run history for every job (invariants 2 and 5). */

export type RunStatus = 'healthy' | 'unhealthy';

export interface RunRecord {
  readonly job: string;
  readonly runId: string;
  /** ISO-8601 with the job's zone offset (seed 000's `last_run`). */
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  /** `healthy`: every operation succeeded; `unhealthy`: errors occurred or the run failed. */
  readonly status: RunStatus;
  /** The job's counters, e.g. checkpoints_archived, messages_archived. */
  readonly counters: Readonly<Record<string, number>>;
  readonly errors: number;
  /** The run stopped before its deadline with work left for the next run. */
  readonly workRemaining: boolean;
  /** Why the run failed, when it did. */
  readonly error?: string;
}

/** What reads the ledger without writing it (the watchdog). */
export type RunLedgerReader = Pick<RunLedger, 'lastRun' | 'lastSuccess' | 'history'>;

export interface RunLedger {
  /**
   * Takes the job's lease for `leaseMs` if it is free, expired, or already ours.
   * Returns false when another owner holds an unexpired lease.
   */
  acquire(job: string, owner: string, leaseMs: number, now?: Date): Promise<boolean>;
  /** Frees the lease if `owner` still holds it. */
  release(job: string, owner: string): Promise<void>;
  /** Stores the run as the job's last run (and last success when healthy) and in its history. */
  record(run: RunRecord): Promise<void>;
  lastRun(job: string): Promise<RunRecord | undefined>;
  lastSuccess(job: string): Promise<RunRecord | undefined>;
  /** Newest first. */
  history(job: string, limit?: number): Promise<RunRecord[]>;
}
