/** What a retention run reports, per table and in all, and how the parts of one table's work add up. */
import type { RetentionConfig } from '../../lib/config';
import type { JobOutcome } from '../shared/runtime';
import type { AggregationHold } from './aggregation-hold';

export type RetentionSettings = Pick<RetentionConfig, 'timeZone' | 'maxRowsPerObject' | 'rowGroupRows' | 'policies'> & {
  /** Rows per database page (the Data API driver shrinks it when a page would pass 1 MiB). @default 5000 */
  readonly pageRows?: number;
};

export interface DayPlan {
  readonly day: string;
  readonly rows: number;
  readonly bytes?: number;
}

export interface TableReport {
  readonly table: string;
  readonly cutoff: string;
  days: DayPlan[];
  rowsExported: number;
  rowsDeleted: number;
  objectsWritten: number;
  objectsRecovered: number;
  bytesWritten: number;
  verificationFailures: number;
  objectsChanged: number;
  rowsUnexportable: number;
  /** Rows past the cutoff that a restore holds in PostgreSQL (retention_holds): kept this run. */
  rowsHeld: number;
  /** Objects superseded by a restore, removed from S3 with every version (retire.ts). */
  objectsRetired: number;
  /** Objects an earlier run uploaded and never committed, that no run recovered: removed (retire.ts). */
  objectsDiscarded: number;
  /** Objects under the table's prefix that no manifest row holds (counted, logged, kept). */
  objectsOutsideManifest: number;
  /** Messages: cold earlier versions of messages the archive wrote again, folded into the live rows (restore.ts, foldReturned). */
  versionsFolded: number;
  workRemaining: boolean;
  /** The raw events an aggregation has yet to compute: exported only up to `cutoff`, not the policy's (aggregation-hold.ts). */
  heldBack?: AggregationHold;
  /** Where the time went: reading + writing + uploading, reading back, the manifest + delete transaction (summed over threads). */
  readonly ms: { export: number; verify: number; commit: number };
  /** With export threads: what each did (days, rows exported, its time exporting). */
  exportThreads?: { thread: number; days: number; rowsExported: number; exportMs: number }[];
}

export const COUNTERS = [
  'rows_exported',
  'rows_deleted',
  'objects_written',
  'objects_recovered',
  'bytes_written',
  'verification_failures',
  'objects_changed',
  'rows_unexportable',
  'rows_held',
  'objects_outside_manifest',
  'objects_retired',
  'objects_discarded',
  'versions_folded',
  /** Tables exported only up to an earlier cutoff than their policy's: an aggregation still needs the rows (aggregation-hold.ts). */
  'tables_held_back',
] as const;
export type RetentionCounters = Record<(typeof COUNTERS)[number], number>;

export interface RetentionOutcome extends JobOutcome {
  readonly counters: RetentionCounters;
  readonly tables: readonly TableReport[];
  readonly dryRun: boolean;
}

/** The additive counters of a report (what one day on one export thread did adds up to the table's). */
const COUNTED = [
  'rowsExported',
  'rowsDeleted',
  'objectsWritten',
  'objectsRecovered',
  'bytesWritten',
  'verificationFailures',
  'objectsChanged',
] as const;
const TIMED = ['export', 'verify', 'commit'] as const;

export type ReportCounts = Pick<TableReport, (typeof COUNTED)[number] | 'ms'>;

/** What the report counted since the last call (and zero again). */
export function takeCounts(r: TableReport): ReportCounts {
  const counts = { ms: { ...r.ms } } as ReportCounts & Record<(typeof COUNTED)[number], number>;
  for (const k of COUNTED) {
    counts[k] = r[k];
    r[k] = 0;
  }
  for (const k of TIMED) r.ms[k] = 0;
  return counts;
}

/** Adds one day's counts to the table's report. */
export function addCounts(into: TableReport, c: ReportCounts): void {
  for (const k of COUNTED) into[k] += c[k];
  for (const k of TIMED) into.ms[k] += c.ms[k];
}

/** A day that failed part way: what it did before (objects committed stay committed), and why. */
export class DayFailed extends Error {
  override readonly name = 'DayFailed';
  constructor(
    readonly counts: ReportCounts,
    override readonly cause: unknown,
  ) {
    super((cause as Error)?.message ?? String(cause));
  }
}

export function emptyReport(table: string, cutoff: string): TableReport {
  return {
    table,
    cutoff,
    days: [],
    rowsExported: 0,
    rowsDeleted: 0,
    objectsWritten: 0,
    objectsRecovered: 0,
    bytesWritten: 0,
    verificationFailures: 0,
    objectsChanged: 0,
    rowsUnexportable: 0,
    rowsHeld: 0,
    objectsRetired: 0,
    objectsDiscarded: 0,
    objectsOutsideManifest: 0,
    versionsFolded: 0,
    workRemaining: false,
    ms: { export: 0, verify: 0, commit: 0 },
  };
}
