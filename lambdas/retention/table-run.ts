/**
 * One table's export: plan its days, then object by object, oldest day first: export → verify →
 * commit (commit.ts: the one delete), each object in one transaction under the run's lease.
 */
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { RetentionPolicy } from '../../lib/config';
import { type Identifier, identifiersOf } from '../privacy/subjects';
import { type Fence, holdFence } from '../shared/db-lease';
import type { Log } from '../shared/observability';
import { DataApiLimitError } from '../shared/sql/errors';
import { p, type Sql, type SqlExecutor } from '../shared/sql/types';
import type { ColdStore, WriteCondition } from './cold-store';
import { deleteExported, markPending, RowsChanged } from './commit';
import { type ObjectFooter, ParquetStreamWriter, RowDigest, readBack, type TextRow } from './parquet';
import {
  addVersions,
  columnLayout,
  dayExpr,
  dayWhere,
  expiredWhere,
  exportableWhere,
  heldWhere,
  keyset,
  keysetCompare,
  Params,
  pastCutoffWhere,
  q,
  ROW_VERSION,
  type TableShape,
} from './policies';
import type { DayPlan, RetentionSettings, TableReport } from './report';
import { discardUncommitted } from './retire';

/**
 * 3: `rowsMd5` is over the rows' versions (`ROW_VERSION`, their xmin); 2 was over each row's md5 of its
 * exported columns' text, 1 over `md5(t::text)`. The Parquet content and its SHA-256 are the same in
 * all; an object of another version found after a crash is replaced, not committed.
 */
export const SCHEMA_VERSION = 3;

const sameKey = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((v, i) => v === b[i]);

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

/** What one table's run needs, in this thread or on an export thread (export-threads.ts). */
export interface TableDeps {
  readonly sql: Sql;
  readonly store: ColdStore;
  readonly log: Log;
  /** Asked before each object: false stops the day there (the deadline; another thread's failure). */
  readonly mayStartObject: () => boolean | Promise<boolean>;
  /** Told the rows each object removed (progress). */
  readonly onRowsDeleted?: (rows: number) => void;
  /** The run's lease: each object is written and committed in a transaction that holds it. */
  readonly fence: Fence;
}

/** One table: plan its days, then export → verify → commit, object by object, oldest day first. */
export class TableRun {
  private pageRows: number;
  constructor(
    private readonly deps: TableDeps,
    private readonly s: RetentionSettings,
    private readonly shape: TableShape,
    private readonly scope: { readonly cutoff: string; readonly now: string },
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
    const where = [expiredWhere(this.policy, this.scope.cutoff, this.scope.now, ps), dayWhere(this.policy, day, ps)];
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
    const expired = expiredWhere(this.policy, this.scope.cutoff, this.scope.now, ps);
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
        WHERE ${expiredWhere(this.policy, this.scope.cutoff, this.scope.now, ps2)} AND NOT (${exportableWhere(this.policy)})`,
      ps2.values,
    );
    this.report.rowsUnexportable = Number(bad?.n ?? 0);
    const ps3 = new Params();
    const [held] = await this.deps.sql.query<{ n: number }>(
      `SELECT count(*)::bigint AS n FROM ${q(this.policy.table)} t
        WHERE ${pastCutoffWhere(this.policy, this.scope.cutoff, ps3)} AND ${heldWhere(this.policy, this.scope.now, ps3)}`,
      ps3.values,
    );
    this.report.rowsHeld = Number(held?.n ?? 0);
    if (this.report.rowsUnexportable > 0)
      this.deps.log.warn('Expired rows whose time names no day (infinite, or outside years 1–9999): kept, not exported', {
        table: this.policy.table,
        rows: this.report.rowsUnexportable,
      });
    return rows.map((r) => ({ day: r.day, rows: Number(r.rows), ...(withBytes ? { bytes: Number(r.bytes ?? 0) } : {}) }));
  }

  /** Exports one day; returns false when `mayStartObject` stopped it. */
  async day(day: string): Promise<boolean> {
    let after: string[] | undefined;
    for (;;) {
      if (!(await this.deps.mayStartObject())) return false;
      const first = await this.page(day, after, Math.min(this.pageRows, this.s.maxRowsPerObject));
      if (!first.first) return true;
      const next = await this.object(day, first);
      if (!next) return true; // verification failed: the rest of this day waits for the next run
      after = next;
    }
  }

  /**
   * One object, in one transaction that holds the run's lease from before its upload to its commit:
   * a leftover of an interrupted run verified and committed, or the rows from `first` on written
   * (S3 refuses the write if any object appeared at the key, or if the leftover there changed since
   * it was inspected), read back, verified, then deleted and recorded. Returns the last key the
   * object covered, or undefined when verification failed.
   */
  private async object(day: string, first: Page): Promise<string[] | undefined> {
    const head = first.first as string[];
    try {
      return await this.deps.sql.transaction(async (tx) => {
        await holdFence(tx, this.deps.fence);
        const { key, generation } = await this.freeKey(tx, day, head);
        const leftover = await this.deps.store.head(key);
        if (leftover) {
          const recovered = await this.recover(tx, key, generation, day, head, leftover.size);
          if (recovered) return recovered;
          this.deps.log.warn('Replacing an object outside the manifest that does not match the rows it should hold', { key });
        }
        return this.exportObject(tx, key, generation, day, first, leftover ? { etag: leftover.etag } : 'absent');
      });
    } catch (err) {
      if (!(err instanceof RowsChanged)) throw err;
      this.report.objectsChanged++;
      this.deps.log.warn('Rows changed after export: nothing deleted, they stay for the next run', {
        table: this.policy.table,
        day,
        reason: err.message,
      });
      // The object written for them is rolled back with the transaction: readers of the prefix must
      // not see rows that are still in PostgreSQL (a conversation that gained a message may never be
      // exported under that key again).
      if (err.written) await discardUncommitted(this.deps, err.written);
      return err.keyMax ? [...err.keyMax] : undefined;
    }
  }

  /** A crash between upload and commit left this object: committed if it still holds exactly the rows. */
  private async recover(tx: SqlExecutor, key: string, generation: number, day: string, head: string[], size: number) {
    const found = await this.inspect(key, size);
    if (
      !found?.footer ||
      !found.intact ||
      found.footer.schemaVersion !== SCHEMA_VERSION ||
      !sameKey(found.footer.keyMin, head) ||
      !(await this.databaseHolds(day, found.footer, found.sha256))
    )
      return undefined;
    await this.commit(tx, { key, generation, footer: found.footer, bytes: size, identifiers: found.identifiers });
    this.report.objectsRecovered++;
    this.report.rowsDeleted += found.footer.rows;
    this.deps.onRowsDeleted?.(found.footer.rows);
    this.deps.log.info('Recovered an object left by an interrupted run', { key, rows: found.footer.rows });
    return [...found.footer.keyMax];
  }

  private async exportObject(
    tx: SqlExecutor,
    key: string,
    generation: number,
    day: string,
    first: Page,
    condition: WriteCondition,
  ): Promise<string[] | undefined> {
    let t0 = performance.now();
    await markPending(this.deps.sql, this.policy.table, key, this.runId);
    const written = await this.write(key, day, first, condition);
    this.report.ms.export += performance.now() - t0;
    t0 = performance.now();
    this.report.objectsWritten++;
    this.report.rowsExported += written.footer.rows;
    this.report.bytesWritten += written.bytes;
    const check = await this.inspect(key, written.bytes);
    this.report.ms.verify += performance.now() - t0;
    if (!check?.intact || check.rows !== written.footer.rows || check.sha256 !== written.footer.sha256) {
      this.report.verificationFailures++;
      this.deps.log.error('Verification failed: the object read back from S3 differs from what was exported; nothing deleted', {
        key,
        expectedRows: written.footer.rows,
        readRows: check?.rows,
      });
      return undefined;
    }
    t0 = performance.now();
    try {
      await this.commit(tx, { key, generation, footer: written.footer, bytes: written.bytes, identifiers: check.identifiers });
    } catch (err) {
      if (err instanceof RowsChanged) err.written = key;
      throw err;
    }
    this.report.ms.commit += performance.now() - t0;
    this.report.rowsDeleted += written.footer.rows;
    this.deps.onRowsDeleted?.(written.footer.rows);
    return [...written.footer.keyMax];
  }

  private async commit(
    tx: SqlExecutor,
    o: { key: string; generation: number; footer: ObjectFooter; bytes: number; identifiers: Iterable<Identifier> },
  ): Promise<void> {
    try {
      await deleteExported(tx, this.shape, this.scope, { ...o, bucket: this.deps.store.bucket, runId: this.runId });
    } catch (err) {
      if (err instanceof RowsChanged) err.keyMax = o.footer.keyMax;
      throw err;
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

  /**
   * Whether the database's rows of an object's range are still exactly the ones it holds: the same
   * SHA-256 over their values and the same row versions (a rewrite with the same text counts as a
   * change: the object is then replaced rather than committed).
   */
  private async databaseHolds(day: string, footer: ObjectFooter, sha256: string): Promise<boolean> {
    const digest = new RowDigest();
    const versions = createHash('md5');
    let after: string[] | undefined;
    for (;;) {
      const page = await this.page(day, after, this.pageRows, { from: footer.keyMin, to: footer.keyMax });
      digest.addRange(page.rows);
      addVersions(versions, page.versions);
      if (!page.last) return digest.hex() === sha256 && versions.digest('hex') === footer.rowsMd5;
      after = page.last;
    }
  }

  /** A key no manifest row holds yet (rows restored and expired again get a new generation), read in the object's transaction. */
  private async freeKey(tx: SqlExecutor, day: string, firstKey: readonly string[]): Promise<{ key: string; generation: number }> {
    for (let generation = 0; ; generation++) {
      const key = objectKey(this.policy.table, day, firstKey, generation);
      const taken = await tx.query('SELECT 1 FROM archive_manifest WHERE object_key = $1::text', [key]);
      if (taken.length === 0) return { key, generation };
    }
  }

  /** Reads an object back whole: its footer, row count and SHA-256, and the identifiers its rows hold (the subject index). */
  private async inspect(key: string, size: number) {
    try {
      const identifiers = new Map<string, Identifier>();
      const r = await readBack(this.deps.store.reader(key, size), async (rows, columns) =>
        identifiersOf(this.policy.table, columns, rows, identifiers),
      );
      return {
        ...r,
        identifiers: identifiers.values(),
        intact: r.footer !== undefined && r.footer.rows === r.rows && r.footer.sha256 === r.sha256,
      };
    } catch (err) {
      this.deps.log.warn('Object unreadable as Parquet', { key, error: (err as Error).message });
      return undefined;
    }
  }

  /**
   * Streams rows from `first` on (keyset pages) into one object, at most maxRowsPerObject rows. The
   * next page is read while this one is encoded (one page ahead: PostgreSQL and the encoder work at once).
   */
  private async write(key: string, day: string, first: Page, condition: WriteCondition): Promise<{ footer: ObjectFooter; bytes: number }> {
    const sink = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
    const uploading = this.deps.store.upload(key, sink, condition);
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
}
