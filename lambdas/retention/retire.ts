/**
 * The one place an object leaves S3 (two rules, both here): an object whose manifest row is
 * superseded — its rows put elsewhere (back in PostgreSQL by a restore, or into a verified successor object) in the same
 * transaction that marked it — is removed with every version (the bucket is versioned: a plain
 * delete would leave its bytes in a noncurrent version), and its manifest row marked retired. The
 * manifest row stays as history. A crash between the two leaves the row unretired: the next
 * retention run (or restore) finishes it.
 */
import { type Fence, holdFence } from '../shared/db-lease';
import type { Log } from '../shared/observability';
import type { Sql } from '../shared/sql/types';
import type { ColdStore } from './cold-store';

export interface RetireDeps {
  readonly sql: Sql;
  readonly store: ColdStore;
  readonly log: Log;
  readonly fence: Fence;
}

/** Removes one superseded object (every version) and marks it retired; returns the versions removed, undefined if its row is not superseded (or already retired). */
export async function retireObject(deps: RetireDeps, key: string): Promise<number | undefined> {
  return deps.sql.transaction(async (tx) => {
    await holdFence(tx, deps.fence);
    const [row] = await tx.query<{ table_name: string; superseded_by: string | null; successor_ok: boolean }>(
      `SELECT m.table_name, m.superseded_by,
              (m.superseded_by IS NULL OR EXISTS (SELECT 1 FROM archive_manifest s WHERE s.object_key = m.superseded_by)) AS successor_ok
         FROM archive_manifest m
        WHERE m.object_key = $1::text AND m.superseded_at IS NOT NULL AND m.retired_at IS NULL
        FOR UPDATE`,
      [key],
    );
    if (!row) return undefined;
    if (!row.successor_ok)
      throw new Error(`s3://${deps.store.bucket}/${key}: its successor ${row.superseded_by} is not in the manifest: kept`);
    const versions = await deps.store.removeAllVersions(key);
    await tx.execute('UPDATE archive_manifest SET retired_at = now() WHERE object_key = $1::text', [key]);
    deps.log.info('Retired a superseded object (every version removed)', { key, versions, supersededBy: row.superseded_by });
    return versions;
  });
}

/** Retires every superseded object of `table` still in S3 (left by an interrupted restore); returns how many. */
export async function retireSuperseded(deps: RetireDeps, table: string): Promise<number> {
  const rows = await deps.sql.query<{ object_key: string }>(
    'SELECT object_key FROM archive_manifest WHERE table_name = $1::text AND superseded_at IS NOT NULL AND retired_at IS NULL ORDER BY id',
    [table],
  );
  let n = 0;
  for (const r of rows) if ((await retireObject(deps, r.object_key)) !== undefined) n++;
  return n;
}

/**
 * An object a run wrote whose commit then rolled back (its rows changed meanwhile): no manifest row
 * names it, and its rows are still in PostgreSQL. Removed (every version), under the run's lease and
 * only while no manifest row names the key, so that nothing reading the prefix counts them twice.
 */
export async function discardUncommitted(deps: RetireDeps, key: string): Promise<number> {
  return deps.sql.transaction(async (tx) => {
    await holdFence(tx, deps.fence);
    const named = await tx.query('SELECT 1 FROM archive_manifest WHERE object_key = $1::text', [key]);
    if (named.length > 0) return 0;
    const versions = await deps.store.removeAllVersions(key);
    deps.log.info('Removed an object whose commit rolled back (its rows stay in PostgreSQL)', { key, versions });
    return versions;
  });
}

/**
 * Objects of `table` whose writing run died or rolled back between upload and commit, and that no
 * run recovered since (`archive_pending` rows of other runs): removed when no manifest row names
 * them (`discardUncommitted`), their pending rows cleared. Returns how many objects were removed.
 */
export async function discardAbandoned(deps: RetireDeps, table: string, runId: string): Promise<number> {
  const rows = await deps.sql.query<{ k: string }>(
    'SELECT object_key AS k FROM archive_pending WHERE table_name = $1::text AND run_id <> $2::text ORDER BY created_at',
    [table, runId],
  );
  let removed = 0;
  for (const { k } of rows) {
    if ((await discardUncommitted(deps, k)) > 0) removed++;
    await deps.sql.execute('DELETE FROM archive_pending WHERE object_key = $1::text AND run_id <> $2::text', [k, runId]);
  }
  return removed;
}
