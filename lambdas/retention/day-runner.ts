import type { TableShape } from './policies';
import { DayFailed, emptyReport, type ReportCounts, type RetentionSettings, type TableReport, takeCounts } from './report';
import { type TableDeps, TableRun } from './table-run';

/** One day of one table: the shape, the cutoff, the time holds are read at, the UTC day. */
export interface DayTask {
  readonly shape: TableShape;
  readonly cutoff: string;
  readonly now: string;
  readonly day: string;
}

/**
 * Days of any table, one at a time, each with its own counts: one export thread's work (on a worker
 * thread, export-worker.ts, or on this one). A `TableRun` per table, made at its first day.
 */
export class DayRunner {
  private readonly runs = new Map<string, { run: TableRun; report: TableReport }>();
  private current: Pick<TableDeps, 'mayStartObject' | 'onRowsDeleted'> = { mayStartObject: () => false };

  constructor(
    private readonly deps: Pick<TableDeps, 'sql' | 'store' | 'log' | 'fence'>,
    private readonly settings: RetentionSettings,
    private readonly runId: string,
  ) {}

  async day(
    task: DayTask,
    handlers: Pick<TableDeps, 'mayStartObject' | 'onRowsDeleted'>,
  ): Promise<{ finished: boolean; counts: ReportCounts }> {
    const name = `${task.shape.policy.table}\u0000${task.cutoff}\u0000${task.now}`;
    let r = this.runs.get(name);
    if (!r) {
      const report = emptyReport(task.shape.policy.table, task.cutoff);
      const deps: TableDeps = {
        ...this.deps,
        mayStartObject: () => this.current.mayStartObject(),
        onRowsDeleted: (rows) => this.current.onRowsDeleted?.(rows),
      };
      r = { run: new TableRun(deps, this.settings, task.shape, { cutoff: task.cutoff, now: task.now }, this.runId, report), report };
      this.runs.set(name, r);
    }
    this.current = handlers;
    try {
      const finished = await r.run.day(task.day);
      return { finished, counts: takeCounts(r.report) };
    } catch (err) {
      throw new DayFailed(takeCounts(r.report), err);
    }
  }
}
