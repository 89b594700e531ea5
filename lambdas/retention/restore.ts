/**
 * Restore from cold storage: the manifest names the objects; each is downloaded, its row count and
 * SHA-256 checked against the manifest, then its rows re-inserted with their own ids, idempotently
 * (`ON CONFLICT DO NOTHING`), through either driver. Conversations come back before their messages.
 */
import type { RetentionPolicy } from '../../lib/config';
import type { Log } from '../shared/observability';
import { jsonChunks } from '../shared/sql/bulk';
import type { Sql } from '../shared/sql/types';
import type { ColdStore } from './cold-store';
import { readBack, type TextRow } from './parquet';
import { Params, q, type TableShape, tableShape, timeExpr } from './policies';

export interface RestoreInput {
  readonly table: string;
  /** Rows whose time is in [from, to) (ISO timestamps or dates). */
  readonly from: string;
  readonly to: string;
  /** Only this conversation (its `conversation_key`): messages, or the conversation itself. */
  readonly conversation?: string;
}

export interface RestoreResult {
  readonly table: string;
  readonly objects: number;
  readonly rowsRead: number;
  readonly rowsInserted: number;
  /** Rows already present (ON CONFLICT DO NOTHING). */
  readonly rowsPresent: number;
  /** Conversations restored first so their messages have a parent. */
  readonly conversations?: RestoreResult;
}

export class RestoreError extends Error {
  override readonly name = 'RestoreError';
}

type ManifestRow = {
  object_key: string;
  row_count: number;
  sha256: string;
  bytes: number;
};

export async function restore(
  deps: { sql: Sql; store: ColdStore; log: Log },
  policies: readonly RetentionPolicy[],
  input: RestoreInput,
): Promise<RestoreResult> {
  const policy = policies.find((p) => p.table === input.table);
  if (!policy) throw new RestoreError(`No retention policy for table "${input.table}" (known: ${policies.map((p) => p.table).join(', ')})`);
  for (const [name, v] of [
    ['--from', input.from],
    ['--to', input.to],
  ] as const)
    if (Number.isNaN(Date.parse(v))) throw new RestoreError(`${name} "${v}" is not a date or timestamp`);
  const shape = await tableShape(deps.sql, policy);
  let conversationId: string | undefined;
  let conversations: RestoreResult | undefined;
  if (input.conversation !== undefined) conversationId = await findConversationId(deps, policies, input.conversation);
  if (policy.table === 'messages') {
    // Their conversations first (all of them, whatever their own time), when they are not in the database.
    const needed = new Set<string>();
    await eachObject(deps, policy.table, input, async (rows, columns) => {
      const ci = columns.indexOf('conversation_id');
      for (const r of rows) if (ci >= 0 && r[ci] && (!conversationId || r[ci] === conversationId)) needed.add(r[ci] as string);
    });
    const missing = await missingConversations(deps.sql, needed);
    if (missing.size > 0) {
      const conv = policies.find((p) => p.table === 'conversations');
      if (!conv) throw new RestoreError('Messages need their conversations, and there is no conversations policy');
      conversations = await insertObjects(
        deps,
        await tableShape(deps.sql, conv),
        { table: 'conversations', from: '0001-01-01', to: '9999-12-31' },
        (r, cols) => missing.has(r[cols.indexOf('id')] as string),
      );
    }
  }
  const filter =
    conversationId === undefined
      ? undefined
      : policy.table === 'messages'
        ? (r: TextRow, cols: readonly string[]) => r[cols.indexOf('conversation_id')] === conversationId
        : policy.table === 'conversations'
          ? (r: TextRow, cols: readonly string[]) => r[cols.indexOf('id')] === conversationId
          : undefined;
  const result = await insertObjects(deps, shape, input, filter);
  return conversations ? { ...result, conversations } : result;
}

async function manifestRows(sql: Sql, table: string, from: string, to: string): Promise<ManifestRow[]> {
  return sql.query<ManifestRow>(
    `SELECT object_key, row_count, sha256, bytes FROM archive_manifest
      WHERE table_name = $1::text AND range_end >= $2::text::timestamptz AND range_start < $3::text::timestamptz
      ORDER BY range_start, id`,
    [table, from, to],
  );
}

/** Reads every object of the range, verifying each against its manifest row first. */
async function eachObject(
  deps: { sql: Sql; store: ColdStore },
  table: string,
  input: Pick<RestoreInput, 'from' | 'to'>,
  onRows: (rows: TextRow[], columns: readonly string[]) => Promise<void>,
): Promise<number> {
  const objects = await manifestRows(deps.sql, table, input.from, input.to);
  for (const m of objects) {
    const size = await deps.store.size(m.object_key);
    if (size === undefined)
      throw new RestoreError(`s3://${deps.store.bucket}/${m.object_key} is missing (manifest says ${m.row_count} rows)`);
    const reader = deps.store.reader(m.object_key, size);
    const check = await readBack(reader);
    if (check.rows !== Number(m.row_count) || check.sha256 !== m.sha256)
      throw new RestoreError(
        `s3://${deps.store.bucket}/${m.object_key} does not match its manifest (rows ${check.rows} vs ${m.row_count}, sha256 ${check.sha256} vs ${m.sha256}): nothing restored from it`,
      );
    await readBack(reader, onRows);
  }
  return objects.length;
}

async function missingConversations(sql: Sql, ids: Set<string>): Promise<Set<string>> {
  const missing = new Set(ids);
  for (const { param } of jsonChunks([...ids].map((id) => ({ id })))) {
    const found = await sql.query<{ id: string }>(
      'SELECT c.id::text AS id FROM jsonb_to_recordset($1::jsonb) AS x(id text) JOIN conversations c ON c.id = x.id::uuid',
      [param],
    );
    for (const f of found) missing.delete(f.id);
  }
  return missing;
}

async function findConversationId(
  deps: { sql: Sql; store: ColdStore },
  policies: readonly RetentionPolicy[],
  key: string,
): Promise<string> {
  const [live] = await deps.sql.query<{ id: string }>('SELECT id::text AS id FROM conversations WHERE conversation_key = $1::text', [key]);
  if (live) return live.id;
  let found: string | undefined;
  if (policies.some((p) => p.table === 'conversations'))
    await eachObject(deps, 'conversations', { from: '0001-01-01', to: '9999-12-31' }, async (rows, cols) => {
      const k = cols.indexOf('conversation_key');
      const i = cols.indexOf('id');
      for (const r of rows) if (r[k] === key) found = r[i] as string;
    });
  if (!found) throw new RestoreError(`No conversation "${key}" in the database or in cold storage`);
  return found;
}

async function insertObjects(
  deps: { sql: Sql; store: ColdStore; log: Log },
  shape: TableShape,
  input: Pick<RestoreInput, 'table' | 'from' | 'to'>,
  filter?: (r: TextRow, cols: readonly string[]) => boolean,
): Promise<RestoreResult> {
  let rowsRead = 0;
  let rowsInserted = 0;
  const objects = await eachObject(deps, shape.policy.table, input, async (rows, columns) => {
    const present = columns.filter((c) => shape.types.has(c) && shape.columns.some((x) => x.name === c));
    const picked = filter ? rows.filter((r) => filter(r, columns)) : rows;
    rowsRead += picked.length;
    const idx = present.map((c) => columns.indexOf(c));
    const records = picked.map((r) => Object.fromEntries(idx.map((j, n) => [`c${n}`, r[j] ?? null])));
    for (const { param } of jsonChunks(records)) {
      const ps = new Params();
      const p1 = ps.add(param);
      const x = { ...shape.policy, timeColumns: shape.policy.timeColumns.map((c) => `c${present.indexOf(c)}`) };
      const xTime = timeExpr(x, 'x');
      const cast = shape.policy.timeKind === 'timestamptz' ? 'timestamptz' : shape.policy.timeKind === 'date' ? 'date' : 'text';
      const timeTyped = shape.policy.timeKind === 'month' ? xTime : `(${xTime})::${cast}`;
      const fromV = shape.policy.timeKind === 'month' ? input.from.slice(0, 7) : input.from;
      const toV = shape.policy.timeKind === 'month' ? input.to.slice(0, 7) : input.to;
      const res = await deps.sql.execute(
        `INSERT INTO ${q(shape.policy.table)} (${present.map(q).join(', ')})${shape.hasIdentity ? ' OVERRIDING SYSTEM VALUE' : ''}
         SELECT ${present.map((c, n) => `x."c${n}"::${shape.types.get(c)}`).join(', ')}
           FROM jsonb_to_recordset(${p1}::jsonb) AS x(${present.map((_, n) => `"c${n}" text`).join(', ')})
          WHERE ${timeTyped} >= ${ps.add(fromV)}::text::${cast} AND ${timeTyped} < ${ps.add(toV)}::text::${cast}
         ON CONFLICT DO NOTHING`,
        ps.values,
      );
      rowsInserted += res.rowCount;
    }
  });
  if (objects > 0)
    await deps.sql.execute(
      `UPDATE archive_manifest SET restored_at = now()
        WHERE table_name = $1::text AND range_end >= $2::text::timestamptz AND range_start < $3::text::timestamptz`,
      [shape.policy.table, input.from, input.to],
    );
  deps.log.info('Restored', { table: shape.policy.table, objects, rowsRead, rowsInserted });
  return { table: shape.policy.table, objects, rowsRead, rowsInserted, rowsPresent: rowsRead - rowsInserted };
}
