/** The subject index: which cold object holds which identifiers (as keyed digests, `subject_digest`). */
import { jsonChunks } from '../shared/sql/bulk';
import type { SqlExecutor } from '../shared/sql/types';
import type { Identifier } from './subjects';

/** The digest that marks an object as indexed (even one that holds no identifier): objects without it predate the index. */
export const INDEXED = '';

/** Records the identifiers an object holds, in the transaction that records the object. */
export async function indexObject(tx: SqlExecutor, objectKey: string, identifiers: Iterable<Identifier>): Promise<void> {
  await tx.execute('INSERT INTO subject_index (object_key, digest) VALUES ($1::text, $2::text) ON CONFLICT DO NOTHING', [
    objectKey,
    INDEXED,
  ]);
  const records = [...identifiers].map((i) => ({ k: i.kind, v: i.value }));
  for (const { param } of jsonChunks(records)) {
    await tx.execute(
      `INSERT INTO subject_index (object_key, digest)
       SELECT DISTINCT $1::text, subject_digest(x.k, x.v) FROM jsonb_to_recordset($2::jsonb) AS x(k text, v text)
       ON CONFLICT DO NOTHING`,
      [objectKey, param],
    );
  }
}
