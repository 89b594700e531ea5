/**
 * THE delete of retention (the only one), and the manifest row that records an object. Both run
 * inside the object's transaction, which already holds the run's lease (`holdFence`).
 */
import { indexObject } from '../privacy/subject-index';
import type { Identifier } from '../privacy/subjects';
import { isForeignKeyViolation } from '../shared/sql/errors';
import type { SqlExecutor } from '../shared/sql/types';
import { heldAtCommit } from './aggregation-hold';
import type { ObjectFooter } from './parquet';
import {
  dayWhere,
  expiredWhere,
  keyset,
  keysetCompare,
  keyTimeAsTimestamp,
  Params,
  q,
  ROW_VERSION,
  type TableShape,
  versionsMd5,
} from './policies';

/** The rows are not the ones exported any more (or a cascade would take more than was exported): rolled back. */
export class RowsChanged extends Error {
  override readonly name = 'RowsChanged';
  /** The last key of the object rolled back: the day goes on after it. */
  keyMax?: readonly string[];
  /** The object this run wrote for the rows, when it was a new one (not an interrupted run's leftover). */
  written?: string;
}

/** Where an object lives and what it holds, as the manifest records it. */
export interface ManifestEntry {
  readonly bucket: string;
  readonly key: string;
  readonly generation: number;
  readonly footer: ObjectFooter;
  readonly bytes: number;
  readonly runId: string;
  /** The identifiers its rows hold (privacy/subjects.ts), indexed with it. */
  readonly identifiers?: Iterable<Identifier>;
}

/** Records a verified object in `archive_manifest` (the object key is unique: a second row for a key fails). */
export async function insertManifestRow(tx: SqlExecutor, shape: TableShape, e: ManifestEntry): Promise<void> {
  const { policy } = shape;
  const { footer } = e;
  await tx.execute(
    `INSERT INTO archive_manifest (table_name, bucket, object_key, format, day, row_count, bytes, sha256, rows_md5,
       range_start, range_end, key_min, key_max, columns, time_columns, key_columns, schema_version, run_id, verified_at, deleted_at, generation)
     VALUES ($1::text, $2::text, $3::text, 'parquet', $4::text::date, $5::bigint, $6::bigint, $7::text, $8::text,
       $9::text::timestamptz, $10::text::timestamptz, $11::jsonb, $12::jsonb, $13::jsonb, $14::jsonb, $15::jsonb, $16::integer, $17::text, now(), now(), $18::integer)`,
    [
      policy.table,
      e.bucket,
      e.key,
      footer.day,
      footer.rows,
      e.bytes,
      footer.sha256,
      footer.rowsMd5,
      keyTimeAsTimestamp(policy, footer.keyMin[0] as string),
      keyTimeAsTimestamp(policy, footer.keyMax[0] as string),
      { sqlType: 'jsonb', value: footer.keyMin },
      { sqlType: 'jsonb', value: footer.keyMax },
      { sqlType: 'jsonb', value: footer.columns },
      { sqlType: 'jsonb', value: policy.timeColumns },
      { sqlType: 'jsonb', value: policy.keyColumns },
      footer.schemaVersion,
      e.runId,
      e.generation,
    ],
  );
  if (e.identifiers) await indexObject(tx, e.key, e.identifiers);
  await tx.execute('DELETE FROM archive_pending WHERE object_key = $1::text', [e.key]);
}

/**
 * Records that `key` is about to be written, in a statement of its own (it must outlive a rollback):
 * the manifest row's transaction removes it; one left behind names an object to recover or remove.
 */
export async function markPending(sql: SqlExecutor, table: string, key: string, runId: string): Promise<void> {
  await sql.execute(
    `INSERT INTO archive_pending (object_key, table_name, run_id) VALUES ($1::text, $2::text, $3::text)
     ON CONFLICT (object_key) DO UPDATE SET run_id = excluded.run_id, created_at = now()`,
    [key, table, runId],
  );
}

/**
 * THE delete: delete the object's rows (its keyset range, its day, still expired and not held)
 * returning them, check they are exactly the row versions exported (count, and each row's xmin, in
 * order), and record the manifest row. Anything else throws RowsChanged and the caller's transaction
 * rolls back: the rows stay for the next run. A delete that a foreign key refuses (a message
 * committed meanwhile in a conversation found empty: no cascade deletes what was not exported) is
 * RowsChanged too.
 */
export async function deleteExported(
  tx: SqlExecutor,
  shape: TableShape,
  scope: { readonly cutoff: string; readonly now: string },
  entry: ManifestEntry,
): Promise<void> {
  const { policy } = shape;
  const { footer } = entry;
  const { exprs } = keyset(shape);
  const ps = new Params();
  const where = [
    expiredWhere(policy, scope.cutoff, scope.now, ps),
    dayWhere(policy, footer.day, ps),
    keysetCompare(shape, '>=', footer.keyMin, ps),
    keysetCompare(shape, '<=', footer.keyMax, ps),
  ].join(' AND ');
  let check: { n: number; m: string | null } | undefined;
  try {
    [check] = await tx.query<{ n: number; m: string | null }>(
      `WITH d AS (DELETE FROM ${q(policy.table)} t WHERE ${where}
                  RETURNING ${ROW_VERSION} AS v, ${exprs.map((e, i) => `${e} AS "_k${i}"`).join(', ')})
       SELECT count(*)::bigint AS n, ${versionsMd5(
         'v',
         exprs.map((_, i) => `"_k${i}"`),
       )} AS m FROM d`,
      ps.values,
    );
  } catch (err) {
    if (isForeignKeyViolation(err))
      throw new RowsChanged('a row that references these was committed meanwhile (foreign key): nothing deleted, rolled back');
    throw err;
  }
  if (Number(check?.n) !== footer.rows || check?.m !== footer.rowsMd5)
    throw new RowsChanged(`${footer.rows} rows exported; the range now holds ${check?.n ?? 0}, or some changed since: rolled back`);
  // Raw events: the aggregations looked at once more, under the raw horizon's lock (issue 26.10's race),
  // taken after the delete so that ingest waits only for the manifest row and the commit.
  const held = await heldAtCommit(tx, policy, footer.keyMax[0] as string);
  if (held) throw new RowsChanged(held);
  await insertManifestRow(tx, shape, entry);
}
