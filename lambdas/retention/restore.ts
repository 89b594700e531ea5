/**
 * Restore moves rows back from cold storage to PostgreSQL: each row is, at any time, in exactly one
 * place (DESIGN invariant 10). The manifest names the live objects of the range; each is read and
 * checked against its manifest row (row count, SHA-256); the rows asked for are inserted with their
 * own ids (`ON CONFLICT DO NOTHING`: a row already in PostgreSQL stays cold); and in the same
 * transaction — which holds the retention lease, so no retention run or other restore interleaves —
 * the rows that stayed cold are written to a successor object (written, read back, verified,
 * recorded), the old object's manifest row is marked superseded, and the rows given back are held
 * in PostgreSQL for `holdDays` (retention_holds). After the commit the old object leaves S3 with
 * every version (retire.ts). Restoring twice adds nothing; the newest version of a row is the only one.
 *
 * Messages bring their conversations back first (only those of the messages restored). A conversation
 * key that came back with a new id (the LangGraph thread resumed and archived again) gets its old
 * messages under the live id; the old conversation row stays cold. A cold message whose key is already
 * in PostgreSQL under another row is an earlier version of it (the archive wrote the newer one after
 * the thread came back): it leaves cold storage and is kept in the live row's `previous_versions`
 * (`fold`), so a message is never in two places. `foldReturned` does that for the conversations the
 * archive noted (sql/024), in each retention run before it exports messages.
 */
import { randomUUID } from 'node:crypto';
import type { RetentionPolicy } from '../../lib/config';
import type { Identifier } from '../privacy/subjects';
import { DatabaseLease, type Fence, holdFence } from '../shared/db-lease';
import type { Log } from '../shared/observability';
import { type Clock, systemClock } from '../shared/runtime';
import { jsonChunks } from '../shared/sql/bulk';
import type { Sql, SqlExecutor } from '../shared/sql/types';
import type { ColdStore } from './cold-store';
import { type ObjectFooter, readBack, type TextRow } from './parquet';
import { keyset, Params, q, type TableShape, tableShape, timeAsTimestamptz } from './policies';
import { retireObject } from './retire';
import { rowKey, supersede } from './rewrite';

export interface RestoreInput {
  readonly table: string;
  /** Rows whose time is in [from, to): a date (`2025-01-31`, a UTC day) or a timestamp with its offset. */
  readonly from: string;
  readonly to: string;
  /** Only this conversation (its `conversation_key`): messages, the conversation itself, or its analytics events. */
  readonly conversation?: string;
  /** Days the restored rows stay in PostgreSQL before retention may export them again (the policy default otherwise). */
  readonly holdDays?: number;
}

export interface RestoreResult {
  readonly table: string;
  /** Live objects of the range that were read. */
  readonly objects: number;
  readonly rowsRead: number;
  readonly rowsInserted: number;
  /** Rows asked for that are already in PostgreSQL (a conflict): they stay cold. */
  readonly rowsPresent: number;
  /**
   * Messages whose key is in PostgreSQL under another row (a newer version the archive wrote after the
   * thread came back): the cold version leaves cold storage, kept in the live row's previous_versions.
   */
  readonly versionsFolded?: number;
  /** Objects superseded: removed from S3 (their rows back in PostgreSQL or in a successor object). */
  readonly objectsSuperseded: number;
  /** Successor objects written with the rows that stayed cold. */
  readonly objectsWritten: number;
  /** Until when retention leaves the restored rows in PostgreSQL (ISO). */
  readonly heldUntil?: string;
  /** Conversations restored first so their messages have a parent. */
  readonly conversations?: RestoreResult;
  /** Cold objects read in all (with `--conversation`, only those the subject index names). */
  readonly objectsRead?: number;
  /** Old conversation ids whose key now belongs to a live conversation: their messages came back under the live id. */
  readonly conversationsRemapped?: number;
}

export class RestoreError extends Error {
  override readonly name = 'RestoreError';
}

/** The request itself is wrong (the CLI exits 2): unknown table, impossible date, reversed range, an unsupported filter. */
export class RestoreInputError extends RestoreError {}

/** Tables `--conversation` can filter, and the column that names the conversation. */
const CONVERSATION_FILTER: Readonly<Record<string, { column: string; by: 'id' | 'key' }>> = {
  messages: { column: 'conversation_id', by: 'id' },
  conversations: { column: 'id', by: 'id' },
  analytics_events: { column: 'conversation_id', by: 'key' },
};

const BOUND = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2}))?$/;

/** A range bound: a real calendar date (years 1–9999), optionally a time with its offset; else RestoreInputError. */
export function checkBound(name: string, value: string): void {
  const m = BOUND.exec(value);
  const bad = () =>
    new RestoreInputError(`${name} "${value}" is not a date (2025-01-31, a UTC day) or a timestamp with its offset (2025-01-31T10:00:00Z)`);
  if (!m) throw bad();
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => (m[i] === undefined ? 0 : Number(m[i])));
  const date = new Date(Date.UTC(2000, (mo as number) - 1, d as number));
  date.setUTCFullYear(y as number);
  if (
    (y as number) < 1 ||
    date.getUTCMonth() !== (mo as number) - 1 ||
    date.getUTCDate() !== d ||
    (h as number) > 23 ||
    (mi as number) > 59 ||
    (s as number) > 59
  )
    throw bad();
}

/** Everything about the request that can be checked without the database or S3. */
export function checkRestoreInput(policies: readonly RetentionPolicy[], input: RestoreInput): RetentionPolicy {
  const policy = policies.find((p) => p.table === input.table);
  if (!policy)
    throw new RestoreInputError(`No retention policy for table "${input.table}" (known: ${policies.map((p) => p.table).join(', ')})`);
  checkBound('--from', input.from);
  checkBound('--to', input.to);
  const instant = (v: string) => Date.parse(v.length === 10 ? `${v}T00:00:00Z` : v.replace(' ', 'T'));
  const [a, b] = [instant(input.from), instant(input.to)];
  if (!(Number.isNaN(a) || Number.isNaN(b)) && a >= b)
    throw new RestoreInputError(`--from ${input.from} is not before --to ${input.to}: the range [from, to) is empty`);
  if (input.conversation !== undefined && !CONVERSATION_FILTER[input.table])
    throw new RestoreInputError(
      `--conversation filters ${Object.keys(CONVERSATION_FILTER).join(', ')}; table ${input.table} has no conversation column`,
    );
  if (input.holdDays !== undefined && !(Number.isInteger(input.holdDays) && input.holdDays >= 1))
    throw new RestoreInputError(`--hold-days must be a positive whole number, not ${input.holdDays}`);
  return policy;
}

export interface RestoreDeps {
  readonly sql: Sql;
  readonly store: ColdStore;
  readonly log: Log;
  readonly clock?: Clock;
  /** Where this restore comes from (cli, lambda): told to a retention run that finds the lease taken. */
  readonly holder?: string;
}

const ALL_TIME = { from: '0001-01-01', to: '9999-12-31' } as const;

type ManifestRow = { object_key: string; row_count: number; sha256: string; day: string };

/** How a table's rows are picked and inserted for this restore. */
interface Selection {
  readonly range: { readonly from: string; readonly to: string };
  /** Keeps a row (the conversation filter); all rows when absent. */
  readonly keep?: (row: TextRow, columns: readonly string[]) => boolean;
  /** Only objects that the subject index says hold one of these (objects indexed before there was an index are read too). */
  readonly holding?: readonly Identifier[];
  /** Rewrites a row before it is inserted (a remapped conversation id); the object keeps the original. */
  readonly rewrite?: (row: TextRow, columns: readonly string[]) => TextRow;
}

export async function restore(
  deps: RestoreDeps,
  policies: readonly RetentionPolicy[],
  input: RestoreInput,
  settings: { readonly holdDays: number; readonly rowGroupRows: number } = { holdDays: 30, rowGroupRows: 10_000 },
): Promise<RestoreResult> {
  const policy = checkRestoreInput(policies, input);
  const lease = new DatabaseLease(deps.sql, 'retention', deps.holder ?? 'restore');
  const taken = await lease.acquire(`restore-${randomUUID()}`);
  if (!taken.ok) throw new RestoreError(`Cannot restore now: ${taken.reason}. Try again when it has finished.`);
  try {
    const run = new Restore(deps, lease.fence as Fence, {
      holdDays: input.holdDays ?? settings.holdDays,
      rowGroupRows: settings.rowGroupRows,
    });
    const result = await run.table(policies, policy, input);
    return { ...result, objectsRead: run.objectsRead };
  } finally {
    await lease.release();
  }
}

export interface FoldResult {
  /** Conversations noted by the archive and looked at. */
  readonly conversations: number;
  readonly versionsFolded: number;
  readonly objectsSuperseded: number;
  readonly objectsRead: number;
  /** Noted conversations left for the next run (the deadline, or more than one batch). */
  readonly remaining: boolean;
}

/**
 * The conversations the archive noted (sql/024, `conversation_returns`): for each, every cold message
 * of its key (under its live id or an earlier one) whose message key is now in PostgreSQL leaves cold
 * storage, kept in the live row's previous_versions (`Restore.fold`). Runs inside a retention run,
 * under its lease (`fence`), before messages are exported; stops between conversations when
 * `mayContinue` says so. A conversation's note goes once it is done, unless the archive noted it again since.
 */
export async function foldReturned(
  deps: RestoreDeps,
  fence: Fence,
  policies: readonly RetentionPolicy[],
  settings: { readonly rowGroupRows: number },
  mayContinue: () => boolean,
  batch = 500,
): Promise<FoldResult> {
  const totals = { conversations: 0, versionsFolded: 0, objectsSuperseded: 0, objectsRead: 0, remaining: false };
  const messages = policies.find((p) => p.table === 'messages');
  if (!messages) return totals;
  const noted = await deps.sql.query<{ id: string; key: string; at: string }>(
    `SELECT r.conversation_id::text AS id, c.conversation_key AS key, r.noticed_at::text AS at
       FROM conversation_returns r JOIN conversations c ON c.id = r.conversation_id
      ORDER BY r.noticed_at LIMIT $1::int`,
    [batch + 1],
  );
  if (noted.length > batch) totals.remaining = true;
  if (noted.length === 0) return totals;
  const run = new Restore(deps, fence, { holdDays: 1, rowGroupRows: settings.rowGroupRows });
  const shape = await tableShape(deps.sql, messages);
  for (const c of noted.slice(0, batch)) {
    if (!mayContinue()) {
      totals.remaining = true;
      break;
    }
    const r = await run.foldConversation(policies, shape, c.id, c.key);
    totals.conversations++;
    totals.versionsFolded += r?.versionsFolded ?? 0;
    totals.objectsSuperseded += r?.objectsSuperseded ?? 0;
    await deps.sql.execute('DELETE FROM conversation_returns WHERE conversation_id = $1::uuid AND noticed_at = $2::text::timestamptz', [
      c.id,
      c.at,
    ]);
  }
  totals.objectsRead = run.objectsRead;
  if (totals.conversations > 0) deps.log.info('Earlier versions of returned conversations folded', { ...totals });
  return totals;
}

class Restore {
  private readonly heldUntil: string;
  /** Cold objects read (each verified), over every step of this restore. */
  objectsRead = 0;
  constructor(
    private readonly deps: RestoreDeps,
    private readonly fence: Fence,
    private readonly s: { holdDays: number; rowGroupRows: number },
  ) {
    this.heldUntil = new Date((deps.clock ?? systemClock).now().getTime() + s.holdDays * 86_400_000).toISOString();
  }

  async table(policies: readonly RetentionPolicy[], policy: RetentionPolicy, input: RestoreInput): Promise<RestoreResult> {
    const shape = await tableShape(this.deps.sql, policy);
    const range = { from: input.from, to: input.to };
    let keep: Selection['keep'];
    let holding: Identifier[] | undefined;
    if (input.conversation !== undefined) {
      const f = CONVERSATION_FILTER[policy.table] as { column: string; by: 'id' | 'key' };
      const wanted = f.by === 'key' ? new Set([input.conversation]) : await this.conversationIds(policies, input.conversation);
      keep = (r, cols) => wanted.has(r[cols.indexOf(f.column)] as string);
      holding = [...wanted].map((value) => ({ kind: f.by === 'key' ? 'conversation' : 'conversation_id', value }));
    }
    if (policy.table !== 'messages') return this.move(shape, { range, keep, holding });

    // Messages: the conversations of the messages asked for first, when they are not in PostgreSQL.
    const needed = new Set<string>();
    await this.eachObject(shape, { range, holding }, async (rows, cols, inRange) => {
      const ci = cols.indexOf('conversation_id');
      rows.forEach((r, i) => {
        if (inRange[i] && (!keep || keep(r, cols))) needed.add(r[ci] as string);
      });
    });
    const missing = await this.missingConversations(needed);
    const remap = new Map<string, string>();
    let conversations: RestoreResult | undefined;
    if (missing.size > 0) {
      const conv = policies.find((p) => p.table === 'conversations');
      if (!conv) throw new RestoreError('Messages need their conversations, and there is no conversations policy');
      const convShape = await tableShape(this.deps.sql, conv);
      // A conversation whose key is live under another id: its messages go to the live one.
      const parents = [...missing].map((value) => ({ kind: 'conversation_id' as const, value }));
      await this.eachObject(convShape, { range: ALL_TIME, holding: parents }, async (rows, cols) => {
        const [ii, ki] = [cols.indexOf('id'), cols.indexOf('conversation_key')];
        for (const r of rows) if (missing.has(r[ii] as string)) remap.set(r[ii] as string, r[ki] as string);
      });
      const live = await this.liveIdsByKey([...remap.values()]);
      for (const [id, key] of [...remap]) {
        const now = live.get(key);
        if (now && now !== id) remap.set(id, now);
        else remap.delete(id);
      }
      conversations = await this.move(convShape, {
        range: ALL_TIME,
        holding: parents,
        keep: (r, cols) => missing.has(r[cols.indexOf('id')] as string) && !remap.has(r[cols.indexOf('id')] as string),
      });
      const still = await this.missingConversations(new Set([...missing].filter((id) => !remap.has(id))));
      if (still.size > 0)
        throw new RestoreError(
          `Messages of ${still.size} conversation(s) cannot come back: their conversation is neither in the database nor in cold storage (e.g. ${[...still][0]}); nothing restored`,
        );
    }
    const rewrite =
      remap.size === 0
        ? undefined
        : (r: TextRow, cols: readonly string[]) => {
            const at = cols.indexOf('conversation_id');
            const to = remap.get(r[at] as string);
            if (!to) return r;
            const copy = [...r];
            copy[at] = to;
            return copy;
          };
    const result = await this.move(shape, { range, keep, rewrite, holding });
    return {
      ...result,
      ...(conversations ? { conversations } : {}),
      ...(remap.size > 0 ? { conversationsRemapped: remap.size } : {}),
    };
  }

  /** Folds the cold messages of conversation `key` (live id `id`) whose message key is in PostgreSQL. */
  async foldConversation(
    policies: readonly RetentionPolicy[],
    shape: TableShape,
    id: string,
    key: string,
  ): Promise<RestoreResult | undefined> {
    const keys = new Set(
      (await this.deps.sql.query<{ k: string }>('SELECT message_key AS k FROM messages WHERE conversation_id = $1::uuid', [id])).map(
        (r) => r.k,
      ),
    );
    if (keys.size === 0) return undefined;
    const ids = await this.conversationIds(policies, key);
    ids.add(id);
    return this.move(shape, {
      range: ALL_TIME,
      holding: [...ids].map((value) => ({ kind: 'conversation_id' as const, value })),
      keep: (r, cols) => ids.has(r[cols.indexOf('conversation_id')] as string) && keys.has(r[cols.indexOf('message_key')] as string),
      rewrite: (r, cols) => {
        const at = cols.indexOf('conversation_id');
        if (r[at] === id) return r;
        const copy = [...r];
        copy[at] = id;
        return copy;
      },
    });
  }

  /** Every id the conversation key has had: the live one and those of its cold conversation rows. */
  private async conversationIds(policies: readonly RetentionPolicy[], key: string): Promise<Set<string>> {
    const ids = new Set<string>();
    const [live] = await this.deps.sql.query<{ id: string }>('SELECT id::text AS id FROM conversations WHERE conversation_key = $1::text', [
      key,
    ]);
    if (live) ids.add(live.id);
    const conv = policies.find((p) => p.table === 'conversations');
    if (conv) {
      const shape = await tableShape(this.deps.sql, conv);
      await this.eachObject(shape, { range: ALL_TIME, holding: [{ kind: 'conversation', value: key }] }, async (rows, cols) => {
        const [ii, ki] = [cols.indexOf('id'), cols.indexOf('conversation_key')];
        for (const r of rows) if (r[ki] === key) ids.add(r[ii] as string);
      });
    }
    if (ids.size === 0) throw new RestoreError(`No conversation "${key}" in the database or in cold storage: nothing restored`);
    return ids;
  }

  private async liveIdsByKey(keys: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const { param } of jsonChunks(keys.map((k) => ({ k })))) {
      const rows = await this.deps.sql.query<{ k: string; id: string }>(
        'SELECT c.conversation_key AS k, c.id::text AS id FROM jsonb_to_recordset($1::jsonb) AS x(k text) JOIN conversations c ON c.conversation_key = x.k',
        [param],
      );
      for (const r of rows) out.set(r.k, r.id);
    }
    return out;
  }

  private async missingConversations(ids: Set<string>): Promise<Set<string>> {
    const missing = new Set(ids);
    for (const { param } of jsonChunks([...ids].map((id) => ({ id })))) {
      const found = await this.deps.sql.query<{ id: string }>(
        'SELECT c.id::text AS id FROM jsonb_to_recordset($1::jsonb) AS x(id text) JOIN conversations c ON c.id = x.id::uuid',
        [param],
      );
      for (const f of found) missing.delete(f.id);
    }
    return missing;
  }

  /** Live objects of the range; with `holding`, only those the subject index names (or that have no index rows at all). */
  private manifestRows(table: string, sel: Pick<Selection, 'range' | 'holding'>): Promise<ManifestRow[]> {
    const holding = sel.holding?.map((i) => ({ k: i.kind, v: i.value }));
    return this.deps.sql.query<ManifestRow>(
      `SELECT m.object_key, m.row_count, m.sha256, m.day::text AS day FROM archive_manifest m
        WHERE m.table_name = $1::text AND m.superseded_at IS NULL
          AND m.range_end >= $2::text::timestamptz AND m.range_start < $3::text::timestamptz
          AND ($4::jsonb IS NULL
               OR NOT EXISTS (SELECT 1 FROM subject_index i WHERE i.object_key = m.object_key AND i.digest = '')
               OR EXISTS (SELECT 1 FROM subject_index i JOIN jsonb_to_recordset($4::jsonb) AS x(k text, v text)
                            ON i.digest = subject_digest(x.k, x.v) WHERE i.object_key = m.object_key))
        ORDER BY m.range_start, m.id`,
      [table, sel.range.from, sel.range.to, { sqlType: 'jsonb', value: holding ?? null }],
    );
  }

  /** Reads one object whole and checks it against its manifest row. */
  private async read(m: ManifestRow): Promise<{ rows: TextRow[]; columns: readonly string[]; footer?: ObjectFooter }> {
    const { store } = this.deps;
    const head = await store.head(m.object_key);
    if (!head) throw new RestoreError(`s3://${store.bucket}/${m.object_key} is missing (manifest says ${m.row_count} rows)`);
    const rows: TextRow[] = [];
    const check = await readBack(store.reader(m.object_key, head.size), async (r) => {
      rows.push(...r);
    });
    if (check.rows !== Number(m.row_count) || check.sha256 !== m.sha256)
      throw new RestoreError(
        `s3://${store.bucket}/${m.object_key} does not match its manifest (rows ${check.rows} vs ${m.row_count}, sha256 ${check.sha256} vs ${m.sha256}): nothing restored from it`,
      );
    return { rows, columns: check.columns, footer: check.footer };
  }

  /** Which rows' times are in [from, to), decided by PostgreSQL (exact to the microsecond, whatever the time kind). */
  private async inRange(shape: TableShape, rows: TextRow[], columns: readonly string[], range: Selection['range']): Promise<boolean[]> {
    const { policy } = shape;
    const idx = policy.timeColumns.map((c) => columns.indexOf(c));
    const out = new Array<boolean>(rows.length).fill(false);
    const records = rows.map((r, n) => ({ n, ...Object.fromEntries(idx.map((j, i) => [`t${i}`, r[j] ?? null])) }));
    for (const { param } of jsonChunks(records)) {
      const ps = new Params();
      const p1 = ps.add(param);
      const x = { ...policy, timeColumns: policy.timeColumns.map((_, i) => `t${i}`) };
      const cast = policy.timeKind === 'timestamptz' ? '::timestamptz' : policy.timeKind === 'date' ? '::date' : '';
      const t = policy.timeColumns.length === 1 ? `x."t0"${cast}` : `coalesce(${x.timeColumns.map((c) => `x."${c}"${cast}`).join(', ')})`;
      const [from, to] = policy.timeKind === 'month' ? [range.from.slice(0, 7), range.to.slice(0, 7)] : [range.from, range.to];
      const sqlCast = policy.timeKind === 'timestamptz' ? 'timestamptz' : policy.timeKind === 'date' ? 'date' : 'text';
      const hit = await this.deps.sql.query<{ n: number }>(
        `SELECT x.n FROM jsonb_to_recordset(${p1}::jsonb) AS x(n integer, ${x.timeColumns.map((c) => `"${c}" text`).join(', ')})
          WHERE ${t} >= ${ps.add(from)}::text::${sqlCast} AND ${t} < ${ps.add(to)}::text::${sqlCast}`,
        ps.values,
      );
      for (const h of hit) out[Number(h.n)] = true;
    }
    return out;
  }

  /** Every live object of the range, read and verified, with which of its rows lie in the range. */
  private async eachObject(
    shape: TableShape,
    sel: Pick<Selection, 'range' | 'holding'>,
    fn: (rows: TextRow[], columns: readonly string[], inRange: boolean[], m: ManifestRow, footer?: ObjectFooter) => Promise<void>,
  ): Promise<number> {
    const objects = await this.manifestRows(shape.policy.table, sel);
    for (const m of objects) {
      const { rows, columns, footer } = await this.read(m);
      await fn(rows, columns, await this.inRange(shape, rows, columns, sel.range), m, footer);
    }
    this.objectsRead += objects.length;
    return objects.length;
  }

  /** Moves the selected rows of every live object of the range back to PostgreSQL. */
  private async move(shape: TableShape, sel: Selection): Promise<RestoreResult> {
    const totals = { rowsRead: 0, rowsInserted: 0, versionsFolded: 0, objectsSuperseded: 0, objectsWritten: 0 };
    const retired: string[] = [];
    const objects = await this.eachObject(shape, sel, async (rows, columns, inRange, m, footer) => {
      const picked = rows.map((r, i) => inRange[i] === true && (!sel.keep || sel.keep(r, columns)));
      const count = picked.filter(Boolean).length;
      if (count === 0) return;
      totals.rowsRead += count;
      const moved = await this.deps.sql.transaction(async (tx) => {
        await holdFence(tx, this.fence);
        const [live] = await tx.query('SELECT 1 FROM archive_manifest WHERE object_key = $1::text AND superseded_at IS NULL FOR UPDATE', [
          m.object_key,
        ]);
        if (!live) return undefined; // another restore took it meanwhile
        const inserted = await this.insert(tx, shape, rows, columns, picked, sel.rewrite, m.object_key);
        const keyOf = rowKey(shape, columns);
        const folded =
          shape.policy.table === 'messages'
            ? await this.fold(
                tx,
                rows,
                columns,
                picked.map((p, i) => p && !inserted.has(keyOf(rows[i] as TextRow))),
                sel.rewrite,
                m.object_key,
              )
            : new Set<number>();
        if (inserted.size === 0 && folded.size === 0) return { inserted: 0, folded: 0, successor: undefined };
        const remaining = rows.filter((r, i) => !inserted.has(keyOf(r)) && !folded.has(i));
        const ctx = { store: this.deps.store, sql: this.deps.sql, rowGroupRows: this.s.rowGroupRows, runId: `restore:${m.object_key}` };
        const { successor } = await supersede(tx, ctx, shape, m, columns, remaining, footer);
        await tx.execute('UPDATE archive_manifest SET restored_at = now() WHERE object_key = $1::text', [m.object_key]);
        return { inserted: inserted.size, folded: folded.size, successor };
      });
      if (!moved) return;
      totals.rowsInserted += moved.inserted;
      totals.versionsFolded += moved.folded;
      if (moved.inserted + moved.folded === 0) return;
      totals.objectsSuperseded++;
      if (moved.successor) totals.objectsWritten++;
      retired.push(m.object_key);
    });
    for (const key of retired) await retireObject({ ...this.deps, fence: this.fence }, key);
    const result: RestoreResult = {
      table: shape.policy.table,
      objects,
      rowsRead: totals.rowsRead,
      rowsInserted: totals.rowsInserted,
      rowsPresent: totals.rowsRead - totals.rowsInserted - totals.versionsFolded,
      ...(totals.versionsFolded > 0 ? { versionsFolded: totals.versionsFolded } : {}),
      objectsSuperseded: totals.objectsSuperseded,
      objectsWritten: totals.objectsWritten,
      ...(totals.rowsInserted > 0 ? { heldUntil: this.heldUntil } : {}),
    };
    this.deps.log.info('Restored', { ...result });
    return result;
  }

  /**
   * Of the cold messages picked and not inserted, those whose (conversation, message key) is in
   * PostgreSQL under another row: another version of that message. Usually an earlier one: it goes into
   * the live row's `metadata.previous_versions` (before the versions the live row already has; nothing
   * added when it is the same text and role). When its `version_at` is later than the live row's, it
   * becomes the live row's content and the live content goes into `previous_versions`. Either way it
   * leaves cold storage (returns the indexes of those rows in `rows`).
   */
  private async fold(
    tx: SqlExecutor,
    rows: TextRow[],
    columns: readonly string[],
    candidates: boolean[],
    rewrite: Selection['rewrite'],
    objectKeyName: string,
  ): Promise<Set<number>> {
    const at = (c: string) => {
      const i = columns.indexOf(c);
      if (i < 0) throw new RestoreError(`A messages object without a ${c} column: ${objectKeyName}`);
      return i;
    };
    const [ii, ci, ki, ri, ti, mi] = ['id', 'conversation_id', 'message_key', 'role', 'content', 'metadata'].map(at) as number[];
    const vi = columns.indexOf('version_at'); // objects written before sql/026 have none
    const records: Record<string, string | number | null>[] = [];
    rows.forEach((r0, n) => {
      if (!candidates[n]) return;
      const r = rewrite ? rewrite(r0, columns) : r0;
      records.push({
        n,
        id: r[ii as number] ?? null,
        cid: r[ci as number] ?? null,
        k: r[ki as number] ?? null,
        role: r[ri as number] ?? null,
        content: r[ti as number] ?? null,
        md: r[mi as number] ?? null,
        va: vi < 0 ? null : (r[vi] ?? null),
      });
    });
    const out = new Set<number>();
    for (const { param } of jsonChunks(records)) {
      const done = await tx.query<{ n: number }>(
        `WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(n integer, id text, cid text, k text, role text, content text, md text, va text)),
         j AS (SELECT m.id, x.n, x.va::timestamptz > m.version_at AS cold_newer, x.content, x.role, x.md, x.va
                 FROM x JOIN messages m ON m.conversation_id = x.cid::uuid AND m.message_key = x.k AND m.id <> x.id::bigint),
         -- the cold row is the newer version (a later checkpoint than the live row's): it becomes the live row's content
         nw AS (SELECT DISTINCT ON (j.id) j.* FROM j WHERE j.cold_newer ORDER BY j.id, j.va::timestamptz DESC),
         un AS (UPDATE messages m
                   SET content = nw.content, role = nw.role, version_at = nw.va::timestamptz, updated_at = now(),
                       metadata = (nw.md::jsonb - 'previous_versions') || jsonb_build_object('previous_versions',
                         COALESCE(m.metadata -> 'previous_versions', '[]'::jsonb)
                         || jsonb_build_array(jsonb_build_object('content', m.content, 'role', m.role, 'replaced_at', now()))
                         || COALESCE(nw.md::jsonb -> 'previous_versions', '[]'::jsonb))
                  FROM nw WHERE m.id = nw.id),
         v AS (SELECT m.id, x.n,
                      COALESCE(x.md::jsonb -> 'previous_versions', '[]'::jsonb)
                      || CASE WHEN x.content IS NOT DISTINCT FROM m.content AND x.role IS NOT DISTINCT FROM m.role THEN '[]'::jsonb
                              ELSE jsonb_build_array(jsonb_build_object('content', x.content, 'role', x.role, 'replaced_at', now(),
                                                                        'from_cold_object', $2::text)) END AS older
                 FROM x JOIN messages m ON m.conversation_id = x.cid::uuid AND m.message_key = x.k AND m.id <> x.id::bigint
                WHERE NOT EXISTS (SELECT 1 FROM nw WHERE nw.id = m.id)),
         w AS (SELECT v.id, jsonb_agg(e.value ORDER BY v.n, e.o) AS older
                 FROM v CROSS JOIN LATERAL jsonb_array_elements(v.older) WITH ORDINALITY AS e(value, o) GROUP BY v.id),
         u AS (UPDATE messages m
                  SET metadata = jsonb_set(m.metadata, '{previous_versions}', w.older || COALESCE(m.metadata -> 'previous_versions', '[]'::jsonb)),
                      updated_at = now()
                 FROM w WHERE m.id = w.id)
         SELECT n FROM j`,
        [param, objectKeyName],
      );
      for (const d of done) out.add(Number(d.n));
    }
    return out;
  }

  /**
   * Inserts the picked rows (ON CONFLICT DO NOTHING) and holds those inserted in PostgreSQL over their
   * time span; returns the keyset text of each row inserted.
   */
  private async insert(
    tx: SqlExecutor,
    shape: TableShape,
    rows: TextRow[],
    columns: readonly string[],
    picked: boolean[],
    rewrite: Selection['rewrite'],
    objectKeyName: string,
  ): Promise<Set<string>> {
    const { policy } = shape;
    const present = columns.filter((c) => shape.columns.some((x) => x.name === c));
    const idx = present.map((c) => columns.indexOf(c));
    const records: Record<string, string | null>[] = [];
    rows.forEach((r0, i) => {
      if (!picked[i]) return;
      const r = rewrite ? rewrite(r0, columns) : r0;
      records.push(Object.fromEntries(idx.map((j, n) => [`c${n}`, r[j] ?? null])));
    });
    const { exprs } = keyset(shape);
    const inserted = new Set<string>();
    for (const { param } of jsonChunks(records)) {
      const ps = new Params();
      const p1 = ps.add(param);
      const rowsOut = await tx.query<Record<string, string>>(
        `WITH ins AS (
           INSERT INTO ${q(policy.table)} AS t (${present.map(q).join(', ')})${shape.hasIdentity ? ' OVERRIDING SYSTEM VALUE' : ''}
           SELECT ${present.map((c, n) => `x."c${n}"::${shape.types.get(c)}`).join(', ')}
             FROM jsonb_to_recordset(${p1}::jsonb) AS x(${present.map((_, n) => `"c${n}" text`).join(', ')})
           ON CONFLICT DO NOTHING
           RETURNING ${exprs.map((e, i) => `${e}::text AS "k${i}"`).join(', ')}, ${timeAsTimestamptz(policy)} AS ts),
         hold AS (
           INSERT INTO retention_holds (table_name, range_start, range_end, held_until, object_key, rows)
           SELECT ${ps.add(policy.table)}::text, min(ts), max(ts), ${ps.add(this.heldUntil)}::text::timestamptz, ${ps.add(objectKeyName)}::text, count(*)
             FROM ins HAVING count(*) > 0
           RETURNING 1)
         SELECT ${exprs.map((_, i) => `"k${i}"`).join(', ')} FROM ins`,
        ps.values,
      );
      for (const r of rowsOut) inserted.add(JSON.stringify(exprs.map((_, i) => r[`k${i}`] ?? null)));
    }
    return inserted;
  }
}
