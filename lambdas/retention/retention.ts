/**
 * Retention to S3 cold storage: per table policy (lib/config.ts), expired rows are exported by UTC
 * day to Parquet objects with deterministic keys, read back and verified, then — in ONE transaction —
 * recorded in `archive_manifest` and deleted, only if they are exactly the rows exported (DESIGN
 * invariant 3). The delete happens in exactly one place: `commitObject`.
 */
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { RetentionConfig, RetentionPolicy } from '../../lib/config';
import type { RunLedger } from '../shared/ledger/types';
import type { Log, MetricsSink } from '../shared/observability';
import { type Clock, type Deadline, JobFailed, type JobOutcome, type RunResult, runExclusive, systemClock } from '../shared/runtime';
import { DataApiLimitError } from '../shared/sql/errors';
import { p, type Sql } from '../shared/sql/types';
import type { ColdStore } from './cold-store';
import { ExportThreads, type ExportThreadsConfig } from './export-threads';
import { type ObjectFooter, ParquetStreamWriter, RowDigest, readBack, type TextRow } from './parquet';
import {
  addVersions,
  columnLayout,
  cutoffFor,
  dayExpr,
  dayWhere,
  expiredWhere,
  exportableWhere,
  keyset,
  keysetCompare,
  keyTimeAsTimestamp,
  Params,
  q,
  ROW_VERSION,
  type TableShape,
  tableShape,
  versionsMd5,
} from './policies';

export const JOB = 'retention';
/**
 * 3: `rowsMd5` is over the rows' versions (`ROW_VERSION`, their xmin); 2 was over each row's md5 of its
 * exported columns' text, 1 over `md5(t::text)`. The Parquet content and its SHA-256 are the same in
 * all; an object of another version found after a crash is replaced, not committed.
 */
export const SCHEMA_VERSION = 3;

export type RetentionSettings = Pick<RetentionConfig, 'timeZone' | 'maxRowsPerObject' | 'rowGroupRows' | 'policies'> & {
  /** Rows per database page (the Data API driver shrinks it when a page would pass 1 MiB). @default 5000 */
  readonly pageRows?: number;
};

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
}

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
  /** Objects under the table's prefix that no manifest row holds (counted, logged, kept). */
  objectsOutsideManifest: number;
  workRemaining: boolean;
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
  'objects_outside_manifest',
] as const;
export type RetentionCounters = Record<(typeof COUNTERS)[number], number>;

export interface RetentionOutcome extends JobOutcome {
  readonly counters: RetentionCounters;
  readonly tables: readonly TableReport[];
  readonly dryRun: boolean;
}

/** One keyset page: the rows' values (text), each row's version (`ROW_VERSION`), the first and last keys. */
interface Page {
  readonly rows: TextRow[];
  readonly versions: string[];
  readonly first?: string[];
  readonly last?: string[];
}

/**
 * The object key: `{table}/day=YYYY-MM-DD/{token}.parquet`, the token a hash of the table, the day,
 * the object's first (time, key) and its generation: a function of the data only, so the run after a
 * crash — which starts the day at the same first row — finds the object left behind, whichever
 * object of the day it was (no part number: that counts objects within one run, not across runs).
 */
export function objectKey(table: string, day: string, firstKey: readonly string[], generation: number): string {
  const token = createHash('sha256')
    .update(JSON.stringify([table, day, firstKey, generation]))
    .digest('hex')
    .slice(0, 16);
  return `${table}/day=${day}/${token}.parquet`;
}

class RowsChanged extends Error {
  override readonly name = 'RowsChanged';
}

/** What one table's run needs, in this thread or on an export thread (export-threads.ts). */
export interface TableDeps {
  readonly sql: Sql;
  readonly store: ColdStore;
  readonly log: Log;
  /** Asked before each object: false stops the day there (the deadline; another thread's failure). */
  readonly mayStartObject: () => boolean | Promise<boolean>;
  /** Told the rows each object removed (progress). */
  readonly onRowsDeleted?: (rows: number) => void;
}

/** One table: plan its days, then export → verify → commit, object by object, oldest day first. */
export class TableRun {
  private pageRows: number;
  constructor(
    private readonly deps: TableDeps,
    private readonly s: RetentionSettings,
    private readonly shape: TableShape,
    private readonly cutoff: string,
    private readonly runId: string,
    readonly report: TableReport,
  ) {
    this.pageRows = s.pageRows ?? 5_000;
    const { exprs } = keyset(shape);
    const columnIndex = new Map(shape.columns.map((c, i) => [`t.${q(c.name)}`, i]));
    const extra: string[] = [];
    // Each keyset part: a plain column's value, or a computed part's own `_kN` (selected after the columns).
    const parts = exprs.map((e): number => {
      const at = columnIndex.get(e);
      if (at !== undefined) return at;
      extra.push(e);
      return shape.columns.length + extra.length - 1;
    });
    this.keyText = { extra, key: (raw) => parts.map((i) => raw[i] as string) };
  }

  /** How a row's keyset text is found in a selected row: a column's text, or an extra `_kN` for a computed part. */
  private readonly keyText: {
    readonly extra: readonly string[];
    key(raw: TextRow): string[];
  };

  private get policy(): RetentionPolicy {
    return this.shape.policy;
  }

  /**
   * Column text and each row's version, ordered by (time, key…), after `after`. A keyset part that is
   * a plain column is read from that column's text (only a computed time, e.g. `coalesce`, is selected apart).
   */
  private async page(
    day: string,
    after: readonly string[] | undefined,
    limit: number,
    bounds?: { from: readonly string[]; to: readonly string[] },
  ): Promise<Page> {
    const ps = new Params();
    const { exprs } = keyset(this.shape);
    const where = [expiredWhere(this.policy, this.cutoff, ps), dayWhere(this.policy, day, ps)];
    if (after) where.push(keysetCompare(this.shape, '>', after, ps));
    if (bounds) where.push(keysetCompare(this.shape, '>=', bounds.from, ps), keysetCompare(this.shape, '<=', bounds.to, ps));
    const { columns } = this.shape;
    const text = `SELECT ${columns.map((c, i) => `t.${q(c.name)}::text AS "c${i}"`).join(', ')},
                         ${this.keyText.extra.map((e, i) => `${e}::text AS "_k${i}", `).join('')}${ROW_VERSION} AS "_v"
                    FROM ${q(this.policy.table)} t
                   WHERE ${where.join(' AND ')}
                   ORDER BY ${exprs.join(', ')}
                   LIMIT ${ps.add(limit)}::integer`;
    let raw: (string | null)[][];
    try {
      raw = (await this.deps.sql.queryArrays(text, ps.values)) as (string | null)[][];
    } catch (err) {
      // The Data API returns at most 1 MiB: a page of large rows is fetched again, smaller.
      if (err instanceof DataApiLimitError && limit > 1) {
        this.pageRows = Math.max(1, Math.floor(limit / 4));
        return this.page(day, after, this.pageRows, bounds);
      }
      throw err;
    }
    // Each row: its columns' text, then the computed keyset parts' text, then its version.
    if (raw.length === 0) return { rows: [], versions: [] };
    const first = this.keyText.key(raw[0] as TextRow);
    const last = this.keyText.key(raw[raw.length - 1] as TextRow);
    const width = columns.length;
    const at = width + this.keyText.extra.length;
    const versions: string[] = new Array(raw.length);
    for (let r = 0; r < raw.length; r++) {
      const values = raw[r] as (string | null)[];
      versions[r] = values[at] as string;
      values.length = width;
    }
    return { rows: raw, versions, first, last };
  }

  async plan(withBytes: boolean): Promise<DayPlan[]> {
    const ps = new Params();
    const expired = expiredWhere(this.policy, this.cutoff, ps);
    const rows = await this.deps.sql.query<{ day: string; rows: number; bytes: number | null }>(
      `SELECT ${dayExpr(this.policy)} AS day, count(*)::bigint AS rows,
              ${withBytes ? 'sum(octet_length(t::text))::bigint' : 'NULL::bigint'} AS bytes
         FROM ${q(this.policy.table)} t
        WHERE ${expired} AND ${exportableWhere(this.policy)}
        GROUP BY 1 ORDER BY 1`,
      ps.values,
    );
    const ps2 = new Params();
    const [bad] = await this.deps.sql.query<{ n: number }>(
      `SELECT count(*)::bigint AS n FROM ${q(this.policy.table)} t
        WHERE ${expiredWhere(this.policy, this.cutoff, ps2)} AND NOT (${exportableWhere(this.policy)})`,
      ps2.values,
    );
    this.report.rowsUnexportable = Number(bad?.n ?? 0);
    if (this.report.rowsUnexportable > 0)
      this.deps.log.warn('Expired rows whose time names no day (infinite, or outside years 1–9999): kept, not exported', {
        table: this.policy.table,
        rows: this.report.rowsUnexportable,
      });
    return rows.map((r) => ({ day: r.day, rows: Number(r.rows), ...(withBytes ? { bytes: Number(r.bytes ?? 0) } : {}) }));
  }

  /** Exports one day; returns false when `mayStartObject` stopped it. */
  async day(day: string): Promise<boolean> {
    const { store, log } = this.deps;
    let after: string[] | undefined;
    for (;;) {
      if (!(await this.deps.mayStartObject())) return false;
      const first = await this.page(day, after, Math.min(this.pageRows, this.s.maxRowsPerObject));
      const head = first.first;
      if (!head) return true;
      const key = await this.freeKey(day, head);
      // A crash between upload and delete left this object: verified again, then committed.
      const size = await store.size(key);
      if (size !== undefined) {
        const found = await this.inspect(key, size);
        if (
          found?.footer &&
          found.intact &&
          found.footer.schemaVersion === SCHEMA_VERSION &&
          sameKey(found.footer.keyMin, head) &&
          (await this.databaseDigest(day, found.footer)) === found.sha256
        ) {
          const outcome = await this.commitObject(key, found.footer, size);
          if (outcome === 'deleted') {
            this.report.objectsRecovered++;
            this.report.rowsDeleted += found.footer.rows;
            this.deps.onRowsDeleted?.(found.footer.rows);
            log.info('Recovered an object left by an interrupted run', { key, rows: found.footer.rows });
            after = [...found.footer.keyMax];
            continue;
          }
        }
        log.warn('Replacing an object that does not match the rows it should hold', { key, intact: found?.intact ?? false });
      }
      let t0 = performance.now();
      const written = await this.write(key, day, first);
      this.report.ms.export += performance.now() - t0;
      t0 = performance.now();
      this.report.objectsWritten++;
      this.report.rowsExported += written.footer.rows;
      this.report.bytesWritten += written.bytes;
      const check = await this.inspect(key, written.bytes);
      this.report.ms.verify += performance.now() - t0;
      if (!check?.intact || check.rows !== written.footer.rows || check.sha256 !== written.footer.sha256) {
        this.report.verificationFailures++;
        log.error('Verification failed: the object read back from S3 differs from what was exported; nothing deleted', {
          key,
          expectedRows: written.footer.rows,
          readRows: check?.rows,
        });
        return true; // the rest of this day waits for the next run (which replaces the object)
      }
      t0 = performance.now();
      const outcome = await this.commitObject(key, written.footer, written.bytes);
      this.report.ms.commit += performance.now() - t0;
      if (outcome === 'changed') this.report.objectsChanged++;
      else {
        this.report.rowsDeleted += written.footer.rows;
        this.deps.onRowsDeleted?.(written.footer.rows);
      }
      after = [...written.footer.keyMax];
    }
  }

  /**
   * Objects under the table's prefix that no manifest row holds: an object whose rows changed before
   * their delete (replaced when a run next starts at its first row), or one nothing will look up
   * again (its first row since deleted, a file put there by hand). Counted and named in the log,
   * never deleted: only the manifest says what an object is worth.
   */
  async outsideManifest(): Promise<{ count: number; some: string[] }> {
    const out = { count: 0, some: [] as string[] };
    for await (const keys of this.deps.store.list(`${this.policy.table}/`)) {
      if (keys.length === 0) continue;
      const held = await this.deps.sql.query<{ k: string }>(
        'SELECT object_key AS k FROM archive_manifest WHERE object_key IN (SELECT jsonb_array_elements_text($1::jsonb))',
        [p.json(keys)],
      );
      const known = new Set(held.map((r) => r.k));
      for (const k of keys)
        if (!known.has(k)) {
          out.count++;
          if (out.some.length < 20) out.some.push(k);
        }
    }
    return out;
  }

  /** Reads a day's pages as the export does, writing nothing; returns the rows read (the benchmark's reading alone). */
  async scanDay(day: string): Promise<number> {
    let rows = 0;
    let after: string[] | undefined;
    for (;;) {
      const page = await this.page(day, after, this.pageRows);
      if (!page.last) return rows;
      rows += page.rows.length;
      after = page.last;
    }
  }

  /** SHA-256 over the database's rows of an object's range, as the object would hold them. */
  private async databaseDigest(day: string, footer: ObjectFooter): Promise<string> {
    const digest = new RowDigest();
    let after: string[] | undefined;
    for (;;) {
      const { rows, last } = await this.page(day, after, this.pageRows, { from: footer.keyMin, to: footer.keyMax });
      digest.addRange(rows);
      if (!last) return digest.hex();
      after = last;
    }
  }

  /** A key no manifest row holds yet (rows restored and expired again get a new generation). */
  private async freeKey(day: string, firstKey: readonly string[]): Promise<string> {
    for (let generation = 0; ; generation++) {
      const key = objectKey(this.policy.table, day, firstKey, generation);
      const taken = await this.deps.sql.query('SELECT 1 FROM archive_manifest WHERE object_key = $1::text', [key]);
      if (taken.length === 0) return key;
    }
  }

  private async inspect(key: string, size: number) {
    try {
      const r = await readBack(this.deps.store.reader(key, size));
      return { ...r, intact: r.footer !== undefined && r.footer.rows === r.rows && r.footer.sha256 === r.sha256 };
    } catch (err) {
      this.deps.log.warn('Object unreadable as Parquet', { key, error: (err as Error).message });
      return undefined;
    }
  }

  /**
   * Streams rows from `first` on (keyset pages) into one object, at most maxRowsPerObject rows. The
   * next page is read while this one is encoded (one page ahead: PostgreSQL and the encoder work at once).
   */
  private async write(key: string, day: string, first: Page): Promise<{ footer: ObjectFooter; bytes: number }> {
    const sink = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
    const uploading = this.deps.store.upload(key, sink);
    let uploadError: unknown;
    uploading.catch((err) => {
      uploadError = err;
      sink.destroy(err as Error);
    });
    let next: Promise<Page> | undefined;
    try {
      const writer = await ParquetStreamWriter.open(
        sink,
        this.shape.columns.map((c) => c.name),
        this.s.rowGroupRows,
        columnLayout(this.policy),
      );
      const md5 = createHash('md5');
      const keyMin = first.first ?? [];
      let last = keyMin;
      let page = first;
      let count = 0;
      while (page.last) {
        count += page.rows.length;
        last = page.last;
        const room = this.s.maxRowsPerObject - count;
        if (room > 0) {
          next = this.page(day, last, Math.min(this.pageRows, room));
          next.catch(() => undefined); // awaited below; an error while encoding must not go unhandled
        }
        await writer.addRows(page.rows);
        addVersions(md5, page.versions);
        if (uploadError) throw uploadError;
        if (!next) break;
        page = await next;
        next = undefined;
      }
      const footer = await writer.finish({
        table: this.policy.table,
        day,
        rowsMd5: md5.digest('hex'),
        keyMin,
        keyMax: last,
        columns: this.shape.columns,
        schemaVersion: SCHEMA_VERSION,
      });
      sink.end();
      await uploading;
      return { footer, bytes: writer.bytes };
    } catch (err) {
      sink.destroy(err as Error);
      await Promise.all([uploading.catch(() => undefined), next?.catch(() => undefined)]);
      throw uploadError ?? err;
    }
  }

  /**
   * THE delete (the only one): in one transaction, delete the object's rows (its keyset range, its
   * day, still expired) returning them, check they are exactly the row versions exported (count, and
   * each row's xmin, in order), and record the manifest row. Anything else rolls back and the rows
   * stay for the next run.
   */
  async commitObject(key: string, footer: ObjectFooter, bytes: number): Promise<'deleted' | 'changed'> {
    const { exprs } = keyset(this.shape);
    const scope = (ps: Params) =>
      [
        expiredWhere(this.policy, this.cutoff, ps),
        dayWhere(this.policy, footer.day, ps),
        keysetCompare(this.shape, '>=', footer.keyMin, ps),
        keysetCompare(this.shape, '<=', footer.keyMax, ps),
      ].join(' AND ');
    try {
      await this.deps.sql.transaction(async (tx) => {
        // Delete, returning what went: the count and the md5 over the rows' versions, in order.
        // Any difference from what was exported throws, and the whole transaction rolls back.
        const ps = new Params();
        const [check] = await tx.query<{ n: number; m: string | null }>(
          `WITH d AS (DELETE FROM ${q(this.policy.table)} t WHERE ${scope(ps)}
                      RETURNING ${ROW_VERSION} AS v, ${exprs.map((e, i) => `${e} AS "_k${i}"`).join(', ')})
           SELECT count(*)::bigint AS n, ${versionsMd5(
             'v',
             exprs.map((_, i) => `"_k${i}"`),
           )} AS m FROM d`,
          ps.values,
        );
        if (Number(check?.n) !== footer.rows || check?.m !== footer.rowsMd5)
          throw new RowsChanged(`${footer.rows} rows exported; the range now holds ${check?.n ?? 0}, or some changed since: rolled back`);
        await tx.execute(
          `INSERT INTO archive_manifest (table_name, bucket, object_key, format, day, row_count, bytes, sha256, rows_md5,
             range_start, range_end, key_min, key_max, columns, time_columns, key_columns, schema_version, run_id, verified_at, deleted_at)
           VALUES ($1::text, $2::text, $3::text, 'parquet', $4::text::date, $5::bigint, $6::bigint, $7::text, $8::text,
             $9::text::timestamptz, $10::text::timestamptz, $11::jsonb, $12::jsonb, $13::jsonb, $14::jsonb, $15::jsonb, $16::integer, $17::text, now(), now())`,
          [
            this.policy.table,
            this.deps.store.bucket,
            key,
            footer.day,
            footer.rows,
            bytes,
            footer.sha256,
            footer.rowsMd5,
            keyTimeAsTimestamp(this.policy, footer.keyMin[0] as string),
            keyTimeAsTimestamp(this.policy, footer.keyMax[0] as string),
            { sqlType: 'jsonb', value: footer.keyMin },
            { sqlType: 'jsonb', value: footer.keyMax },
            { sqlType: 'jsonb', value: footer.columns },
            { sqlType: 'jsonb', value: this.policy.timeColumns },
            { sqlType: 'jsonb', value: this.policy.keyColumns },
            footer.schemaVersion,
            this.runId,
          ],
        );
      });
      return 'deleted';
    } catch (err) {
      if (!(err instanceof RowsChanged)) throw err;
      this.deps.log.warn('Rows changed after export: nothing deleted, they stay for the next run', { key, reason: err.message });
      return 'changed';
    }
  }
}

/** A report's additive part: what one day on one export thread did. */
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
function takeCounts(r: TableReport): ReportCounts {
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

/**
 * Days of any table, one at a time, each with its own counts: one export thread's work (on a worker
 * thread, export-worker.ts, or on this one). A `TableRun` per table, made at its first day.
 */
export class DayRunner {
  private readonly runs = new Map<string, { run: TableRun; report: TableReport }>();
  private current: Pick<TableDeps, 'mayStartObject' | 'onRowsDeleted'> = { mayStartObject: () => false };

  constructor(
    private readonly deps: Pick<TableDeps, 'sql' | 'store' | 'log'>,
    private readonly settings: RetentionSettings,
    private readonly runId: string,
  ) {}

  async day(
    task: { shape: TableShape; cutoff: string; day: string },
    handlers: Pick<TableDeps, 'mayStartObject' | 'onRowsDeleted'>,
  ): Promise<{ finished: boolean; counts: ReportCounts }> {
    const name = `${task.shape.policy.table}\u0000${task.cutoff}`;
    let r = this.runs.get(name);
    if (!r) {
      const report = emptyReport(task.shape.policy.table, task.cutoff);
      const deps: TableDeps = {
        ...this.deps,
        mayStartObject: () => this.current.mayStartObject(),
        onRowsDeleted: (rows) => this.current.onRowsDeleted?.(rows),
      };
      r = { run: new TableRun(deps, this.settings, task.shape, task.cutoff, this.runId, report), report };
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

const sameKey = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((v, i) => v === b[i]);

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
    objectsOutsideManifest: 0,
    workRemaining: false,
    ms: { export: 0, verify: 0, commit: 0 },
  };
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

/** The job body (inside runExclusive): every selected table in registry order. */
export async function applyRetention(
  deps: RetentionDeps & { runId: string },
  s: RetentionSettings,
  input: RetentionInput = {},
): Promise<RetentionOutcome> {
  const now = (deps.clock ?? systemClock).now();
  const tables: TableReport[] = [];
  const counters = Object.fromEntries(COUNTERS.map((c) => [c, 0])) as RetentionCounters;
  const outcome = (): RetentionOutcome => {
    for (const c of COUNTERS) counters[c] = 0;
    for (const t of tables) {
      counters.rows_exported += t.rowsExported;
      counters.rows_deleted += t.rowsDeleted;
      counters.objects_written += t.objectsWritten;
      counters.objects_recovered += t.objectsRecovered;
      counters.bytes_written += t.bytesWritten;
      counters.verification_failures += t.verificationFailures;
      counters.objects_changed += t.objectsChanged;
      counters.rows_unexportable += t.rowsUnexportable;
      counters.objects_outside_manifest += t.objectsOutsideManifest;
    }
    return {
      counters,
      errors: counters.verification_failures,
      workRemaining: tables.some((t) => t.workRemaining),
      tables,
      dryRun: input.dryRun ?? false,
    };
  };
  const threads = deps.threads && !input.dryRun ? new ExportThreads(deps.threads, deps, s, deps.runId) : undefined;
  try {
    for (const policy of selectPolicies(s.policies, input)) {
      const { value: cutoff } = cutoffFor(policy, policy.days, now, s.timeZone);
      const report = emptyReport(policy.table, cutoff);
      tables.push(report);
      if (deps.deadline.shouldStop()) {
        report.workRemaining = true;
        continue;
      }
      const shape = await tableShape(deps.sql, policy);
      const total = { rows: 0, done: 0 };
      const mayStartObject = () => !deps.deadline.shouldStop();
      const onRowsDeleted = (rows: number) => {
        total.done += rows;
        deps.onProgress?.({ table: policy.table, rowsDone: total.done, rowsTotal: total.rows });
      };
      const run = new TableRun({ ...deps, mayStartObject, onRowsDeleted }, s, shape, cutoff, deps.runId, report);
      const days = await run.plan(input.dryRun ?? false);
      report.days = days;
      if (input.dryRun) continue;
      total.rows = days.reduce((a, d) => a + d.rows, 0);
      let stoppedAt: string | undefined;
      if (threads && days.length > 0)
        stoppedAt = await threads.table({ shape, cutoff, days: days.map((d) => d.day) }, report, mayStartObject, onRowsDeleted);
      else
        for (const d of days)
          if (!(await run.day(d.day))) {
            stoppedAt = d.day;
            break;
          }
      if (stoppedAt !== undefined) {
        report.workRemaining = true;
        deps.log.info('Deadline near: stopping before the next object; the rest waits for the next run', {
          table: policy.table,
          day: stoppedAt,
        });
      }
      if (!report.workRemaining && !deps.deadline.shouldStop()) {
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
  const { value: cutoff } = cutoffFor(policy, policy.days, (deps.clock ?? systemClock).now(), s.timeZone);
  const refuse = (): never => {
    throw new Error('readExpired writes nothing');
  };
  const store: ColdStore = { bucket: '', size: refuse, reader: refuse, upload: refuse, list: refuse };
  const readOnly: TableDeps = { ...deps, store, mayStartObject: () => true };
  const run = new TableRun(readOnly, s, await tableShape(deps.sql, policy), cutoff, 'read-only', emptyReport(table, cutoff));
  let rows = 0;
  for (const d of await run.plan(false)) rows += await run.scanDay(d.day);
  return rows;
}

/** The whole run: lease lock, ledger record, metrics (see runExclusive). */
export function runRetention(
  deps: RetentionDeps & { ledger: RunLedger; metrics: MetricsSink; leaseMs: number },
  s: RetentionSettings,
  input: RetentionInput = {},
): Promise<RunResult<RetentionOutcome>> {
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
    ({ runId }) => applyRetention({ ...deps, runId }, s, input),
  );
}
