/**
 * Copy-on-write of a cold object: its rows minus some (given back to PostgreSQL by a restore, or
 * erased) written as its successor — same day, a fresh generation, written only where nothing is
 * (or the leftover inspected), read back and verified, recorded in the manifest with its subject
 * index — and the object's manifest row marked superseded, all in the caller's transaction (which
 * holds the retention lease). After the commit the caller retires the old object (retire.ts).
 */
import { PassThrough } from 'node:stream';
import { type Identifier, identifiersOf } from '../privacy/subjects';
import type { SqlExecutor } from '../shared/sql/types';
import type { ColdStore, WriteCondition } from './cold-store';
import { insertManifestRow, markPending } from './commit';
import { type ObjectFooter, ParquetStreamWriter, readBack, type TextRow } from './parquet';
import { columnLayout, type TableShape } from './policies';
import { objectKey, SCHEMA_VERSION } from './table-run';

export class RewriteFailed extends Error {
  override readonly name = 'RewriteFailed';
}

/** A row's keyset — (time, key…) as text, the time the first non-null of its time columns — as JSON. */
export function rowKey(shape: TableShape, columns: readonly string[]): (r: TextRow) => string {
  const t = shape.policy.timeColumns.map((c) => columns.indexOf(c));
  const k = shape.policy.keyColumns.map((c) => columns.indexOf(c));
  return (r) => JSON.stringify([t.map((i) => r[i]).find((v) => v !== null && v !== undefined) ?? null, ...k.map((i) => r[i] ?? null)]);
}

export interface Superseded {
  /** The successor's key, when rows stay cold. */
  readonly successor?: string;
  readonly successorSha256?: string;
  readonly rowsKept: number;
}

/**
 * Replaces the live object `old` by its rows in `keep` (possibly none): successor written, verified
 * and recorded, `old` marked superseded. `runId` names who did it in the successor's manifest row.
 */
export async function supersede(
  tx: SqlExecutor,
  ctx: { readonly store: ColdStore; readonly rowGroupRows: number; readonly runId: string; readonly sql: SqlExecutor },
  shape: TableShape,
  old: { readonly object_key: string; readonly day: string },
  columns: readonly string[],
  keep: TextRow[],
  footer: ObjectFooter | undefined,
): Promise<Superseded> {
  let successor: string | undefined;
  let successorSha256: string | undefined;
  if (keep.length > 0) {
    const { store } = ctx;
    const keyOf = rowKey(shape, columns);
    const keyMin = JSON.parse(keyOf(keep[0] as TextRow)) as string[];
    const keyMax = JSON.parse(keyOf(keep[keep.length - 1] as TextRow)) as string[];
    const day = footer?.day ?? old.day;
    let key = '';
    let generation = 0;
    for (; ; generation++) {
      key = objectKey(shape.policy.table, day, keyMin, generation);
      if ((await tx.query('SELECT 1 FROM archive_manifest WHERE object_key = $1::text', [key])).length === 0) break;
    }
    const leftover = await store.head(key);
    const condition: WriteCondition = leftover ? { etag: leftover.etag } : 'absent';
    const sink = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
    await markPending(ctx.sql, shape.policy.table, key, ctx.runId);
    const uploading = store.upload(key, sink, condition);
    uploading.catch(() => undefined);
    const writer = await ParquetStreamWriter.open(sink, columns, ctx.rowGroupRows, columnLayout(shape.policy));
    await writer.addRows(keep);
    const written = await writer.finish({
      table: shape.policy.table,
      day,
      rowsMd5: '',
      keyMin,
      keyMax,
      columns: footer?.columns ?? shape.columns.filter((c) => columns.includes(c.name)),
      schemaVersion: SCHEMA_VERSION,
    });
    sink.end();
    await uploading;
    const check = await readBack(store.reader(key, writer.bytes));
    if (check.rows !== written.rows || check.sha256 !== written.sha256)
      throw new RewriteFailed(`s3://${store.bucket}/${key}: the successor read back differs from what was written: nothing changed`);
    const identifiers = new Map<string, Identifier>();
    identifiersOf(shape.policy.table, columns, keep, identifiers);
    await insertManifestRow(tx, shape, {
      bucket: store.bucket,
      key,
      generation,
      footer: written,
      bytes: writer.bytes,
      runId: ctx.runId,
      identifiers: identifiers.values(),
    });
    successor = key;
    successorSha256 = written.sha256;
  }
  await tx.execute('UPDATE archive_manifest SET superseded_at = now(), superseded_by = $2::text WHERE object_key = $1::text', [
    old.object_key,
    successor ?? null,
  ]);
  return { successor, successorSha256, rowsKept: keep.length };
}
