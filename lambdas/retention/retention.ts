/**
 * Retention to S3 cold storage: per table policy (lib/config.ts), expired rows are exported by UTC
 * day to Parquet objects with deterministic keys, read back and verified, then — in ONE transaction
 * that holds the run's database lease — recorded in `archive_manifest` and deleted, only if they are
 * exactly the rows exported (DESIGN invariant 3). The delete happens in exactly one place
 * (commit.ts); objects superseded by a restore leave S3 in exactly one place (retire.ts).
 *
 * Imports go one way: retention → export-threads → day-runner → table-run → commit → policies.
 */
import type { RetentionPolicy } from '../../lib/config';
import { DatabaseLease, LeaseBusy } from '../shared/db-lease';
import type { RunLedger } from '../shared/ledger/types';
import type { Log, MetricsSink } from '../shared/observability';
import { type Clock, type Deadline, JobFailed, type RunResult, runExclusive, systemClock } from '../shared/runtime';
import type { Sql } from '../shared/sql/types';
import { holdForAggregations } from './aggregation-hold';
import type { ColdStore } from './cold-store';
import { ExportThreads, type ExportThreadsConfig } from './export-threads';
import { cutoffFor, tableShape } from './policies';
import { COUNTERS, emptyReport, type RetentionCounters, type RetentionOutcome, type RetentionSettings, type TableReport } from './report';

export type { RetentionOutcome, RetentionSettings, TableReport } from './report';

import { foldReturned } from './restore';
import { discardAbandoned, retireSuperseded } from './retire';
import { type TableDeps, TableRun } from './table-run';

export const JOB = 'retention';

export interface RetentionInput {
  /** Print what would go; write nothing. */
  readonly dryRun?: boolean;
  /** Only these tables (names from the registry). */
  readonly tables?: readonly string[];
  /** Days per table for this run (`--days messages=30`). */
  readonly days?: Readonly<Record<string, number>>;
}

export interface RetentionDeps {
  readonly sql: Sql;
  readonly store: ColdStore;
  readonly log: Log;
  readonly deadline: Deadline;
  readonly clock?: Clock;
  readonly runId?: string;
  /** Told after each object (progress bars). */
  readonly onProgress?: (p: { table: string; rowsDone: number; rowsTotal: number }) => void;
  /** Export a table's days N at a time: this thread and N − 1 worker threads (export-threads.ts); absent: one day at a time here. */
  readonly threads?: ExportThreadsConfig;
  /** The database lease, already taken (runRetention); absent: the run takes it itself, or fails with LeaseBusy. */
  readonly lease?: DatabaseLease;
}

/** The policies a run applies: the registry's enabled ones, filtered and with `--days` applied. */
export function selectPolicies(all: readonly RetentionPolicy[], input: RetentionInput): RetentionPolicy[] {
  const known = new Set(all.map((p) => p.table));
  for (const t of [...(input.tables ?? []), ...Object.keys(input.days ?? {})])
    if (!known.has(t)) throw new RangeError(`No retention policy for table "${t}" (known: ${[...known].join(', ')})`);
  return all
    .filter((p) => (input.tables ? input.tables.includes(p.table) : p.enabled))
    .map((p) => ({ ...p, days: input.days?.[p.table] ?? p.days }));
}

/** Each run counter from the tables' reports. */
const COUNTED_BY: Record<(typeof COUNTERS)[number], (t: TableReport) => number> = {
  rows_exported: (t) => t.rowsExported,
  rows_deleted: (t) => t.rowsDeleted,
  objects_written: (t) => t.objectsWritten,
  objects_recovered: (t) => t.objectsRecovered,
  bytes_written: (t) => t.bytesWritten,
  verification_failures: (t) => t.verificationFailures,
  objects_changed: (t) => t.objectsChanged,
  rows_unexportable: (t) => t.rowsUnexportable,
  rows_held: (t) => t.rowsHeld,
  objects_outside_manifest: (t) => t.objectsOutsideManifest,
  objects_retired: (t) => t.objectsRetired,
  objects_discarded: (t) => t.objectsDiscarded,
  versions_folded: (t) => t.versionsFolded,
  tables_held_back: (t) => (t.heldBack ? 1 : 0),
};

/** The job body (inside runExclusive): every selected table in registry order, under the database lease. */
export async function applyRetention(
  deps: RetentionDeps & { runId: string },
  s: RetentionSettings,
  input: RetentionInput = {},
): Promise<RetentionOutcome> {
  const now = (deps.clock ?? systemClock).now();
  const tables: TableReport[] = [];
  const outcome = (): RetentionOutcome => {
    const counters = Object.fromEntries(COUNTERS.map((c) => [c, tables.reduce((a, t) => a + COUNTED_BY[c](t), 0)])) as RetentionCounters;
    return {
      counters,
      errors: counters.verification_failures,
      workRemaining: tables.some((t) => t.workRemaining),
      tables,
      dryRun: input.dryRun ?? false,
    };
  };
  // A dry run writes nothing and needs no lease; any other run holds it (taking it here if it was not given).
  let lease = deps.lease;
  let own: DatabaseLease | undefined;
  if (!input.dryRun && !lease?.fence) {
    own = new DatabaseLease(deps.sql, JOB, 'direct call');
    const taken = await own.acquire(deps.runId);
    if (!taken.ok) throw new LeaseBusy(taken.reason);
    lease = own;
  }
  const fence = lease?.fence ?? { job: JOB, fence: '0' };
  const threads = deps.threads && !input.dryRun ? new ExportThreads(deps.threads, { ...deps, fence }, s, deps.runId) : undefined;
  try {
    for (const policy of selectPolicies(s.policies, input)) {
      const { cutoff, hold } = await holdForAggregations(deps.sql, policy, cutoffFor(policy, policy.days, now, s.timeZone).value);
      const scope = { cutoff, now: now.toISOString() };
      const report = emptyReport(policy.table, cutoff);
      if (hold) {
        report.heldBack = hold;
        deps.log.warn(`retention: ${policy.table} exported up to ${cutoff}, not ${hold.policyCutoff}: ${hold.by}`);
      }
      tables.push(report);
      if (deps.deadline.shouldStop()) {
        report.workRemaining = true;
        continue;
      }
      if (policy.table === 'messages' && !input.dryRun) {
        // A message the archive wrote again after its earlier version went cold: one place, before exporting more.
        const folded = await foldReturned(deps, fence, s.policies, s, () => !deps.deadline.shouldStop() && !lease?.lost);
        report.versionsFolded = folded.versionsFolded;
        if (folded.remaining) report.workRemaining = true;
      }
      const shape = await tableShape(deps.sql, policy);
      const total = { rows: 0, done: 0 };
      const mayStartObject = () => !deps.deadline.shouldStop() && !lease?.lost;
      const onRowsDeleted = (rows: number) => {
        total.done += rows;
        deps.onProgress?.({ table: policy.table, rowsDone: total.done, rowsTotal: total.rows });
      };
      const run = new TableRun({ ...deps, fence, mayStartObject, onRowsDeleted }, s, shape, scope, deps.runId, report);
      const days = await run.plan(input.dryRun ?? false);
      report.days = days;
      if (input.dryRun) continue;
      total.rows = days.reduce((a, d) => a + d.rows, 0);
      let stoppedAt: string | undefined;
      if (threads && days.length > 0)
        stoppedAt = await threads.table({ shape, ...scope, days: days.map((d) => d.day) }, report, mayStartObject, onRowsDeleted);
      else
        for (const d of days)
          if (!(await run.day(d.day))) {
            stoppedAt = d.day;
            break;
          }
      if (lease?.lost) await lease.renew(); // throws LeaseLost: the run fails, and says why
      if (stoppedAt !== undefined) {
        report.workRemaining = true;
        deps.log.info('Deadline near: stopping before the next object; the rest waits for the next run', {
          table: policy.table,
          day: stoppedAt,
        });
      }
      if (!report.workRemaining && !deps.deadline.shouldStop()) {
        report.objectsRetired = await retireSuperseded({ ...deps, fence }, policy.table);
        report.objectsDiscarded = await discardAbandoned({ ...deps, fence }, policy.table, deps.runId);
        const outside = await run.outsideManifest();
        report.objectsOutsideManifest = outside.count;
        if (outside.count > 0)
          deps.log.warn('Objects in cold storage that the manifest does not hold: kept, not deleted (see the runbook)', {
            table: policy.table,
            objects: outside.count,
            keys: outside.some,
          });
      }
      deps.log.info('Retention table done', { ...report, days: days.length });
    }
  } catch (err) {
    throw new JobFailed(outcome(), err);
  } finally {
    await threads?.close();
    await own?.release();
  }
  return outcome();
}

/**
 * Reads every expired row of one table page by page, exactly as the export would (same SQL, same
 * pages), and writes nothing: the reading's cost alone, which `npm run bench -- retention` sets beside
 * the writer's.
 */
export async function readExpired(
  deps: Pick<RetentionDeps, 'sql' | 'log' | 'clock'>,
  s: RetentionSettings,
  table: string,
): Promise<number> {
  const [policy] = selectPolicies(s.policies, { tables: [table] });
  if (!policy) throw new RangeError(`No retention policy for table "${table}"`);
  const now = (deps.clock ?? systemClock).now();
  const { cutoff } = await holdForAggregations(deps.sql, policy, cutoffFor(policy, policy.days, now, s.timeZone).value);
  const refuse = (): never => {
    throw new Error('readExpired writes nothing');
  };
  const store: ColdStore = { bucket: '', head: refuse, reader: refuse, upload: refuse, list: refuse, removeAllVersions: refuse };
  const readOnly: TableDeps = { ...deps, store, mayStartObject: () => true, fence: { job: JOB, fence: '0' } };
  const scope = { cutoff, now: now.toISOString() };
  const run = new TableRun(readOnly, s, await tableShape(deps.sql, policy), scope, 'read-only', emptyReport(table, cutoff));
  let rows = 0;
  for (const d of await run.plan(false)) rows += await run.scanDay(d.day);
  return rows;
}

/**
 * The whole run: the ledger's lease and the database lease every entry point shares (one is
 * skipped with the holder named), the ledger record, metrics (see runExclusive).
 */
export function runRetention(
  deps: RetentionDeps & { ledger: RunLedger; metrics: MetricsSink; leaseMs: number; holder?: string },
  s: RetentionSettings,
  input: RetentionInput = {},
): Promise<RunResult<RetentionOutcome>> {
  const lease = input.dryRun ? undefined : new DatabaseLease(deps.sql, JOB, deps.holder ?? 'unnamed entry point');
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
      guard: lease,
    },
    ({ runId }) => applyRetention({ ...deps, runId, lease }, s, input),
  );
}
