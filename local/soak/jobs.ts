/**
 * The jobs on their schedules (on the virtual clock), and the operator's actions: archive, the seven
 * aggregations, retention (and a second retention started from "the CLI" while the scheduled one
 * runs), restores of random ranges and conversations, the backfill. Every invocation is journaled
 * with how it ended; a job failing under a fault is expected — the checker looks at what is left.
 */
import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { aggregateJob } from '../../lambdas/aggregate/job';
import { AGGREGATIONS } from '../../lambdas/aggregate/registry';
import { type ArchiveSettings, runArchive } from '../../lambdas/archive/archive';
import { CheckpointStore, type RedisClient } from '../../lambdas/archive/redis-store';
import { backfill } from '../../lambdas/backfill/backfill';
import { runReports } from '../../lambdas/reports/reports-job';
import type { ColdStore } from '../../lambdas/retention/cold-store';
import type { RetentionSettings } from '../../lambdas/retention/report';
import { RestoreError, restore } from '../../lambdas/retention/restore';
import { type RetentionInput, runRetention } from '../../lambdas/retention/retention';
import { LeaseBusy } from '../../lambdas/shared/db-lease';
import type { FileRunLedger } from '../../lambdas/shared/ledger/file';
import type { RunLedger, RunRecord } from '../../lambdas/shared/ledger/types';
import { memoryLog, memoryMetrics } from '../../lambdas/shared/observability';
import { type Deadline, deadline, type JobOutcome, type RunResult, runExclusive } from '../../lambdas/shared/runtime';
import type { Sql } from '../../lambdas/shared/sql/types';
import { type WatchdogResult, type WatchedJob, watch } from '../../lambdas/watchdog/watchdog';
import type { ReportType, RetentionPolicy } from '../../lib/config';
import { getEnvironment, RETENTION_POLICIES } from '../../lib/config';
import { DAY, type Rng, type VirtualClock } from './clock';
import type { Journal, JournalRun, RunOutcome } from './journal';

/** Every record the jobs write, kept beside the ledger's own (capped) history: check 5 reads it. */
export class RecordingLedger implements RunLedger {
  readonly records: RunRecord[] = [];
  constructor(
    private readonly inner: FileRunLedger,
    /** Told of every record once it is written (a job's child process passes them to the soak). */
    private readonly onRecord?: (run: RunRecord) => void,
  ) {}
  /** The ledger's file: what the watchdog reads (check 5 reads it as plain JSON). */
  get file(): string {
    return this.inner.path;
  }
  acquire(job: string, owner: string, leaseMs: number, now?: Date) {
    return this.inner.acquire(job, owner, leaseMs, now);
  }
  release(job: string, owner: string) {
    return this.inner.release(job, owner);
  }
  async record(run: RunRecord) {
    await this.inner.record(run);
    this.records.push(run);
    this.onRecord?.(run);
  }
  lastRun(job: string) {
    return this.inner.lastRun(job);
  }
  lastSuccess(job: string) {
    return this.inner.lastSuccess(job);
  }
  history(job: string, limit?: number) {
    return this.inner.history(job, limit);
  }
}

/** Retention in the soak: the conversation tables and the raw events, with days that pass within minutes. */
export const SOAK_RETENTION_INPUT: RetentionInput = {
  tables: ['messages', 'conversations', 'analytics_events'],
  days: { messages: 3, conversations: 3, analytics_events: 35 },
};

export interface JobsDeps {
  readonly sql: Sql;
  readonly redis: RedisClient;
  readonly store: ColdStore;
  readonly ledger: RecordingLedger;
  readonly clock: VirtualClock;
  readonly rng: Rng;
  readonly journal: Journal;
  /** The scheduled reports' bucket (the cold bucket, as deployed: reports/…). */
  readonly reports: { readonly s3: S3Client; readonly bucket: string };
  /** Told when an invocation starts, with its run id (a job's child process says it to the soak). */
  readonly onStart?: (job: string, runId: string) => void;
}

/** One watchdog run: when (virtual), in which phase, and what it said. */
export interface WatchdogRun {
  /** When it began reading the ledger (virtual), and `at` when it had its verdict. */
  readonly startedAt: string;
  readonly at: string;
  readonly phase: 'soak' | 'catch-up';
  readonly result: WatchdogResult;
}

type Phase = JournalRun['phase'];

export class Jobs {
  private readonly env = getEnvironment('dev');
  readonly archiveSettings: ArchiveSettings;
  readonly retentionSettings: RetentionSettings;
  /** Runs left that get a deadline of a few hundred ms (the nemesis sets it). */
  tightDeadlines = 0;
  phase: Phase = 'soak';
  /** Scheduled jobs that skip their turn (the nemesis runs one in a child process meanwhile). */
  readonly paused = new Set<string>();
  private readonly store: CheckpointStore;
  /** What the deployed watchdog watches (lib/stacks: every job with a cadence and its limit), from the same config. */
  readonly watched: readonly WatchedJob[];
  /** Every watchdog run's verdict, in order. */
  readonly watchdogRuns: WatchdogRun[] = [];

  constructor(private readonly deps: JobsDeps) {
    this.archiveSettings = {
      ...this.env.archive,
      timeZone: this.env.archive.schedule.timeZone,
      retryDelayMs: 50,
      batchSize: 20,
      scanCount: 200,
    };
    this.retentionSettings = {
      timeZone: this.env.retention.timeZone,
      maxRowsPerObject: 400,
      rowGroupRows: 100,
      policies: RETENTION_POLICIES,
    };
    this.store = new CheckpointStore(deps.redis, this.archiveSettings.scanCount);
    const stale = this.env.analytics.staleAfterMinutes;
    this.watched = [
      { name: 'archive', staleAfterMinutes: this.env.archive.staleAfterMinutes },
      { name: 'retention', staleAfterMinutes: this.env.retention.staleAfterHours * 60 },
      ...AGGREGATIONS.map((a) => {
        const job = this.env.aggregation.jobs.find((j) => j.name === a.name);
        return { name: a.name, staleAfterMinutes: stale[job?.granularity ?? 'hourly'] };
      }),
      ...this.env.analyticsServing.reportSchedules.map((r) => ({ name: `reports-${r.type}`, staleAfterMinutes: stale[r.type] })),
    ];
  }

  get policies(): readonly RetentionPolicy[] {
    return this.retentionSettings.policies;
  }

  private deadline(): { d: Deadline; tight: boolean } {
    if (this.tightDeadlines > 0) {
      this.tightDeadlines--;
      this.deps.journal.op('deadline.tight');
      return { d: deadline({ budgetMs: this.deps.rng.int(400) }, 0), tight: true };
    }
    return { d: deadline({ budgetMs: 120_000 }, 5_000), tight: false };
  }

  /** Runs one invocation and journals how it ended. */
  private async invoke<T extends JobOutcome>(
    job: string,
    ledgered: boolean,
    fn: (runId: string) => Promise<RunResult<T> | 'done'>,
  ): Promise<JournalRun> {
    const runId = randomUUID();
    this.deps.onStart?.(job, runId);
    let entry: JournalRun;
    try {
      const r = await fn(runId);
      if (r === 'done') entry = { job, runId, outcome: 'healthy', ledgered, phase: this.phase };
      else if (r.status === 'skipped') entry = { job, runId, outcome: 'skipped', ledgered: false, phase: this.phase, error: r.reason };
      else
        entry = {
          job,
          runId,
          outcome: r.run.status,
          ledgered,
          workRemaining: r.run.workRemaining,
          counters: r.run.counters,
          phase: this.phase,
          ...(r.run.error ? { error: r.run.error } : {}),
        };
    } catch (err) {
      const e = err as Error;
      const busy = e instanceof LeaseBusy || (e instanceof RestoreError && e.message.startsWith('Cannot restore now'));
      const refused = e instanceof RestoreError && /^No conversation|nothing restored$/.test(e.message) && !busy;
      const outcome: RunOutcome = busy ? 'busy' : refused ? 'refused' : 'failed';
      entry = {
        job,
        runId,
        outcome,
        ledgered: ledgered && !busy && !refused,
        phase: this.phase,
        error: `${e.name}: ${e.message}`.slice(0, 300),
      };
    }
    this.deps.journal.runs.push(entry);
    this.deps.journal.op(`run.${job}.${entry.outcome}`);
    return entry;
  }

  archive(): Promise<JournalRun> {
    const { sql, ledger, clock } = this.deps;
    const { d } = this.deadline();
    return this.invoke('archive', true, (runId) =>
      runArchive(
        {
          sql,
          store: this.store,
          log: memoryLog(),
          deadline: d,
          clock,
          ledger,
          metrics: memoryMetrics(),
          leaseMs: 60_000,
          runId,
          sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
        },
        this.archiveSettings,
      ),
    );
  }

  aggregate(name: string): Promise<JournalRun> {
    const { sql, ledger, clock } = this.deps;
    return this.invoke(name, true, (runId) =>
      aggregateJob(
        { sql, log: memoryLog(), metrics: memoryMetrics(), ledger, clock, leaseMs: 60_000, runId },
        { job: name, mode: { kind: 'scheduled' }, timeZone: this.env.aggregation.timeZone },
      ),
    );
  }

  aggregations(): Promise<JournalRun[]> {
    return Promise.all(AGGREGATIONS.map((a) => this.aggregate(a.name)));
  }

  /** The scheduled report of `type` (lambdas/reports/handler.ts: runReports under runExclusive, after the aggregations it reads). */
  reports(type: ReportType): Promise<JournalRun> {
    const { sql, ledger, clock, reports } = this.deps;
    const schedule = this.env.analyticsServing.reportSchedules.find((r) => r.type === type);
    const job = `reports-${type}`;
    const timeZone = this.env.aggregation.timeZone;
    return this.invoke(job, true, (runId) =>
      runExclusive({ job, ledger, log: memoryLog(), metrics: memoryMetrics(), leaseMs: 60_000, timeZone, clock, runId }, () =>
        runReports(
          { sql, ledger, s3: reports.s3, bucket: reports.bucket, clock, timeZone, log: memoryLog() },
          { type, after: schedule?.after ?? [] },
        ),
      ),
    );
  }

  /** The watchdog (lambdas/watchdog/handler.ts: watch on the ledger alone); its verdict is kept in `watchdogRuns`. */
  watchdog(): Promise<JournalRun> {
    const { ledger, clock } = this.deps;
    return this.invoke('watchdog', false, async () => {
      const startedAt = clock.now().toISOString();
      const result = await watch({ ledger, log: memoryLog(), metrics: memoryMetrics(), clock }, this.watched, { measureDatabase: false });
      this.watchdogRuns.push({ startedAt, at: clock.now().toISOString(), phase: this.phase, result });
      this.deps.journal.watchdog.push({ at: clock.now().toISOString(), phase: this.phase, stale: result.stale, failing: result.failing });
      return 'done';
    });
  }

  retention(holder = 'scheduled'): Promise<JournalRun> {
    const { sql, ledger, clock, store } = this.deps;
    const { d } = this.deadline();
    return this.invoke('retention', true, (runId) =>
      runRetention(
        { sql, store, log: memoryLog(), deadline: d, clock, ledger, metrics: memoryMetrics(), leaseMs: 60_000, holder, runId },
        this.retentionSettings,
        SOAK_RETENTION_INPUT,
      ),
    );
  }

  /** An operator's restore: a random day of a live object of messages or raw events, or one conversation. */
  async restore(conversation?: string): Promise<JournalRun> {
    const { sql, store, clock, rng } = this.deps;
    let input: Parameters<typeof restore>[2];
    const holdDays = 1 + rng.int(2);
    if (conversation) input = { table: 'messages', from: '2000-01-01', to: '2100-01-01', conversation, holdDays };
    else {
      const days = await sql
        .query<{ table_name: string; day: string }>(
          `SELECT DISTINCT table_name, to_char(range_start AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day FROM archive_manifest
            WHERE superseded_at IS NULL AND table_name IN ('messages', 'analytics_events') ORDER BY 1, 2`,
        )
        .catch(() => []);
      if (days.length === 0)
        return { job: 'restore', runId: '', outcome: 'skipped', ledgered: false, phase: this.phase, error: 'nothing cold yet' };
      const pick = rng.pick(days);
      const from = pick.day;
      const to = new Date(Date.parse(`${from}T00:00:00Z`) + DAY).toISOString().slice(0, 10);
      input = { table: pick.table_name, from, to, holdDays };
    }
    return this.invoke('restore', false, async () => {
      const r = await restore({ sql, store, log: memoryLog(), clock, holder: 'soak operator' }, this.policies, input, {
        holdDays,
        rowGroupRows: this.retentionSettings.rowGroupRows,
      });
      this.deps.journal.op('restore.rows', r.rowsInserted + (r.conversations?.rowsInserted ?? 0));
      return 'done';
    });
  }

  /** A whole backfill (apply) under the ledger's lock, call after call until done or the deadline. */
  backfill(): Promise<JournalRun> {
    const { sql, ledger, clock } = this.deps;
    const { d } = this.deadline();
    return this.invoke('backfill', true, (runId) =>
      runExclusive(
        { job: 'backfill', ledger, log: memoryLog(), metrics: memoryMetrics(), leaseMs: 60_000, timeZone: 'UTC', clock, runId },
        async () => {
          const log = memoryLog();
          let r = await backfill({ sql, log, deadline: d, clock, runId }, { mode: 'apply', batchSize: 50 });
          while (!r.done && !d.shouldStop())
            r = await backfill({ sql, log, deadline: d, clock, runId }, { mode: 'apply', batchSize: 50, cursor: r.cursor });
          return { counters: { ...r.totals }, errors: r.totals.errors, workRemaining: !r.done };
        },
      ),
    );
  }
}
