/**
 * Export threads: a table's days exported at once, each thread doing whole objects (export → verify
 * → manifest + delete, `TableRun.day`) with its own database connection and S3 client: no rows cross
 * threads. `threads: N` is this thread and N − 1 worker threads. For a run on a machine with cores to
 * spare (the local CLI's `--threads`, a catch-up run); the Lambda runs one thread (< 1 vCPU at its memory).
 *
 * This thread stays the one authority: it hands out days (oldest first), answers each worker's "may
 * I start another object?" with its own deadline, logs for the workers and adds up their counts. A
 * failure on one thread stops the others at their next object; the first error is thrown once every
 * thread has stopped. Objects are independent (deterministic keys, one transaction each), so days
 * finishing out of order changes nothing a later run relies on.
 */
import { existsSync } from 'node:fs';
import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Fence } from '../shared/db-lease';
import type { SqlConfig } from '../shared/deps';
import type { Log } from '../shared/observability';
import type { ColdStoreConfig } from './cold-store';
import { DayRunner, type DayTask } from './day-runner';
import type { TableShape } from './policies';
import { addCounts, DayFailed, type ReportCounts, type RetentionSettings, type TableReport } from './report';
import type { TableDeps } from './table-run';

export interface ExportThreadsConfig {
  /** Threads (≥ 2; one thread is the inline export). */
  readonly threads: number;
  /** The connection each thread opens (its own pool). */
  readonly sql: SqlConfig;
  readonly store: ColdStoreConfig;
}

export interface WorkerData {
  readonly sql: SqlConfig;
  readonly store: ColdStoreConfig;
  readonly settings: RetentionSettings;
  readonly runId: string;
  readonly fence: Fence;
}

export type ToWorker =
  | ({ readonly type: 'day' } & DayTask)
  | { readonly type: 'may-start'; readonly id: number; readonly ok: boolean }
  | { readonly type: 'close' };

export type FromWorker =
  | { readonly type: 'may-start'; readonly id: number }
  | { readonly type: 'rows-deleted'; readonly rows: number }
  | { readonly type: 'log'; readonly level: keyof Log; readonly message: string; readonly extra?: Record<string, unknown> }
  | { readonly type: 'day-done'; readonly finished: boolean; readonly counts: ReportCounts }
  | {
      readonly type: 'day-failed';
      readonly counts: ReportCounts;
      readonly error: { readonly name: string; readonly message: string; readonly stack?: string };
    };

/** The thread's entry beside this file: `.js` in a bundle or build; under tsx or Jest (`.ts`) a shim that loads it through tsx. */
function workerEntry(): string {
  const ts = extname(__filename) === '.ts';
  const file = join(__dirname, ts ? 'export-worker-tsx.cjs' : 'export-worker.js');
  if (!existsSync(file))
    throw new Error(`Export threads need ${file} beside ${__filename} (the Lambda bundle has none: it runs one thread)`);
  return file;
}

/** An error thrown on a worker thread, as it came back. */
class ThreadFailed extends Error {
  override readonly name: string;
  constructor(error: { name: string; message: string; stack?: string }, lane: number) {
    super(`${error.message} (export thread ${lane})`);
    this.name = error.name;
    if (error.stack) this.stack = error.stack;
  }
}

/** Where days are exported: this thread, or a worker thread. */
interface Lane {
  readonly lane: number;
  /** Exports one day: what it did, and false when `mayStartObject` stopped it; a failure rejects with the counts so far. */
  day(
    task: DayTask,
    mayStartObject: () => boolean,
    onRowsDeleted: (rows: number) => void,
  ): Promise<{ finished: boolean; counts: ReportCounts }>;
  close(): Promise<void>;
}

/** This thread's share (its own `TableRun`s on the run's connection and store). */
class InlineLane implements Lane {
  readonly lane = 0;
  private readonly runner: DayRunner;
  constructor(deps: Pick<TableDeps, 'sql' | 'store' | 'log' | 'fence'>, settings: RetentionSettings, runId: string) {
    this.runner = new DayRunner(deps, settings, runId);
  }
  day(task: DayTask, mayStartObject: () => boolean, onRowsDeleted: (rows: number) => void) {
    return this.runner.day(task, { mayStartObject, onRowsDeleted });
  }
  async close(): Promise<void> {}
}

/** One worker thread and the day it is on. */
class WorkerLane implements Lane {
  private readonly worker: Worker;
  private current?: {
    resolve(r: { finished: boolean; counts: ReportCounts }): void;
    reject(err: Error): void;
    mayStartObject(): boolean;
    onRowsDeleted(rows: number): void;
  };
  private readonly exited: Promise<void>;
  private dead?: Error;

  constructor(
    readonly lane: number,
    data: WorkerData,
    private readonly log: Log,
  ) {
    // The environment as this thread sees it now (AWS credentials and region for the S3 client).
    this.worker = new Worker(workerEntry(), { workerData: data, env: { ...process.env } });
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.on('message', (m: FromWorker) => this.onMessage(m));
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => {
      if (code !== 0 || this.current) this.fail(new Error(`export thread ${lane} exited (code ${code})`));
    });
  }

  private fail(err: Error): void {
    this.dead ??= err;
    const c = this.current;
    this.current = undefined;
    c?.reject(err);
  }

  private onMessage(m: FromWorker): void {
    const c = this.current;
    switch (m.type) {
      case 'log':
        this.log[m.level](m.message, { ...m.extra, exportThread: this.lane });
        return;
      case 'may-start':
        this.worker.postMessage({ type: 'may-start', id: m.id, ok: c?.mayStartObject() ?? false } satisfies ToWorker);
        return;
      case 'rows-deleted':
        c?.onRowsDeleted(m.rows);
        return;
      case 'day-done':
        if (!c) return;
        this.current = undefined;
        c.resolve({ finished: m.finished, counts: m.counts });
        return;
      case 'day-failed':
        if (!c) return;
        this.current = undefined;
        c.reject(new DayFailed(m.counts, new ThreadFailed(m.error, this.lane)));
        return;
    }
  }

  /** Exports one day on this thread: what it did, and false when `mayStartObject` stopped it. */
  day(
    task: DayTask,
    mayStartObject: () => boolean,
    onRowsDeleted: (rows: number) => void,
  ): Promise<{ finished: boolean; counts: ReportCounts }> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.current = { resolve, reject, mayStartObject, onRowsDeleted };
      this.worker.postMessage({ type: 'day', ...task } satisfies ToWorker);
    });
  }

  /** Lets the thread close its connections and end; ends it anyway after 10 s. */
  async close(): Promise<void> {
    if (!this.dead) this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    const timer = setTimeout(() => void this.worker.terminate(), this.dead ? 0 : 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

export class ExportThreads {
  private lanes?: Lane[];

  constructor(
    private readonly config: ExportThreadsConfig,
    private readonly deps: Pick<TableDeps, 'sql' | 'store' | 'log' | 'fence'>,
    private readonly settings: RetentionSettings,
    private readonly runId: string,
  ) {
    if (!Number.isInteger(config.threads) || config.threads < 2)
      throw new RangeError('Export threads: at least 2 (1 is the inline export)');
  }

  /** Started at the first table with days to export (a run with nothing to do starts none). */
  private start(): Lane[] {
    const data: WorkerData = {
      sql: this.config.sql,
      store: this.config.store,
      settings: this.settings,
      runId: this.runId,
      fence: this.deps.fence,
    };
    this.lanes ??= [
      new InlineLane(this.deps, this.settings, this.runId),
      ...Array.from({ length: this.config.threads - 1 }, (_, i) => new WorkerLane(i + 1, data, this.deps.log)),
    ];
    return this.lanes;
  }

  /**
   * Exports a table's days on the threads, oldest first to whichever thread is free. Resolves with
   * the first day a thread was stopped in (the deadline), or undefined when every day is done;
   * rejects with the first failure once every thread has stopped.
   */
  async table(
    task: { shape: TableShape; cutoff: string; now: string; days: readonly string[] },
    report: TableReport,
    mayStartObject: () => boolean,
    onRowsDeleted: (rows: number) => void,
  ): Promise<string | undefined> {
    const queue = [...task.days];
    let failure: unknown;
    let stoppedAt: string | undefined;
    const mayStart = () => failure === undefined && stoppedAt === undefined && mayStartObject();
    const lanes = this.start();
    report.exportThreads = lanes.map((l) => ({ thread: l.lane, days: 0, rowsExported: 0, exportMs: 0 }));
    await Promise.all(
      lanes.map(async (lane) => {
        for (;;) {
          if (!mayStart()) return;
          const day = queue.shift();
          if (day === undefined) return;
          const mine = report.exportThreads?.[lane.lane];
          const count = (c: ReportCounts) => {
            addCounts(report, c);
            if (!mine) return;
            mine.days++;
            mine.rowsExported += c.rowsExported;
            mine.exportMs += c.ms.export;
          };
          try {
            const { finished, counts } = await lane.day(
              { shape: task.shape, cutoff: task.cutoff, now: task.now, day },
              mayStart,
              onRowsDeleted,
            );
            count(counts);
            this.deps.log.debug('Day done on an export thread', { table: report.table, day, exportThread: lane.lane, finished });
            if (!finished && (stoppedAt === undefined || day < stoppedAt)) stoppedAt = day;
          } catch (err) {
            if (err instanceof DayFailed) {
              count(err.counts);
              failure ??= err.cause;
            } else failure ??= err;
            return;
          }
        }
      }),
    );
    if (failure !== undefined) throw failure;
    // Days never handed out (a thread stopped first) are work remaining too.
    if (stoppedAt === undefined && queue.length > 0) stoppedAt = queue[0];
    return stoppedAt;
  }

  async close(): Promise<void> {
    await Promise.all((this.lanes ?? []).map((l) => l.close()));
  }
}
