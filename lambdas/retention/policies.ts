/**
 * SQL for one table policy (lib/config.ts RETENTION_POLICIES), written once for both drivers:
 * every parameter cast, keyset pages ordered by (time, key…), values read as PostgreSQL text.
 */
import type { Hash } from 'node:crypto';
import type { RetentionPolicy } from '../../lib/config';
import type { SqlExecutor, SqlParam } from '../shared/sql/types';
import { formatInZone, localDate, zonedTimeToUtc } from '../shared/time';
import type { ColumnLayout } from './parquet';

export interface Column {
  readonly name: string;
  readonly type: string;
}

/** The table as it is now: its stored columns (generated ones are derived and not exported). */
export interface TableShape {
  readonly policy: RetentionPolicy;
  readonly columns: readonly Column[];
  readonly types: ReadonlyMap<string, string>;
  readonly hasIdentity: boolean;
}

export const q = (name: string): string => `"${name.replace(/"/g, '""')}"`;

export async function tableShape(sql: SqlExecutor, policy: RetentionPolicy): Promise<TableShape> {
  const rows = await sql.query<{ name: string; type: string; generated: boolean; identity: boolean }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            a.attgenerated <> '' AS generated, a.attidentity <> '' AS identity
       FROM pg_attribute a
      WHERE a.attrelid = to_regclass($1::text) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [policy.table],
  );
  if (rows.length === 0) throw new Error(`retention: table ${policy.table} does not exist`);
  const types = new Map(rows.map((r) => [r.name, r.type]));
  for (const c of [...policy.timeColumns, ...policy.keyColumns])
    if (!types.has(c)) throw new Error(`retention: ${policy.table}.${c} (named by its policy) does not exist`);
  return {
    policy,
    columns: rows.filter((r) => !r.generated).map((r) => ({ name: r.name, type: r.type })),
    types,
    hasIdentity: rows.some((r) => r.identity),
  };
}

/** The row's time in SQL, on alias `t`. */
export function timeExpr(policy: RetentionPolicy, alias = 't'): string {
  const cols = policy.timeColumns.map((c) => `${alias}.${q(c)}`);
  return cols.length === 1 ? (cols[0] as string) : `coalesce(${cols.join(', ')})`;
}

const timeCast = (policy: RetentionPolicy) =>
  policy.timeKind === 'timestamptz' ? 'timestamptz' : policy.timeKind === 'date' ? 'date' : 'text';

/**
 * The cutoff: the same wall-clock time `days` calendar days ago in `timeZone` (correct across
 * daylight-saving changes). Date periods expire when before the cutoff's date, months before its month.
 */
export function cutoffFor(policy: RetentionPolicy, days: number, now: Date, timeZone: string): { instant: Date; value: string } {
  // Wall clock in the zone: `YYYY-MM-DDTHH:MM:SS±hh:mm`.
  const [y, m, d, hh, mm, ss] = (formatInZone(now, timeZone).match(/\d+/g) ?? []).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const instant = new Date(zonedTimeToUtc(y, m, d - days, hh, mm, timeZone).getTime() + ss * 1000 + now.getUTCMilliseconds());
  const date = localDate(instant, timeZone);
  const value = policy.timeKind === 'timestamptz' ? instant.toISOString() : policy.timeKind === 'date' ? date : date.slice(0, 7);
  return { instant, value };
}

/** Builds a statement's `$n` parameters in order. */
export class Params {
  readonly values: SqlParam[] = [];
  add(v: SqlParam): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

/** The row's time as a timestamptz (a date or month: its first instant in UTC), as the manifest and holds record it. */
export function timeAsTimestamptz(policy: RetentionPolicy, alias = 't'): string {
  const t = timeExpr(policy, alias);
  if (policy.timeKind === 'timestamptz') return t;
  if (policy.timeKind === 'date') return `(${t}::text || ' 00:00:00+00')::timestamptz`;
  return `(${t} || '-01 00:00:00+00')::timestamptz`;
}

/** Rows of the policy's table (alias `t`) that a restore holds in PostgreSQL at `now` (retention_holds). */
export function heldWhere(policy: RetentionPolicy, now: string, ps: Params): string {
  return `EXISTS (SELECT 1 FROM retention_holds h WHERE h.table_name = ${ps.add(policy.table)}::text AND h.held_until > ${ps.add(now)}::text::timestamptz
      AND ${timeAsTimestamptz(policy)} BETWEEN h.range_start AND h.range_end)`;
}

/** Rows before the cutoff, alias `t`. */
export function pastCutoffWhere(policy: RetentionPolicy, cutoff: string, ps: Params): string {
  return `${timeExpr(policy)} < ${ps.add(cutoff)}::text::${timeCast(policy)}`;
}

/**
 * Expired rows of the policy's table, alias `t`: before the cutoff, not held by a restore at `now`,
 * and for conversations, empty.
 */
export function expiredWhere(policy: RetentionPolicy, cutoff: string, now: string, ps: Params): string {
  const parts = [pastCutoffWhere(policy, cutoff, ps), `NOT ${heldWhere(policy, now, ps)}`];
  if (policy.requires === 'no-messages') parts.push('NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = t.id)');
  return parts.join(' AND ');
}

/** A time we can name a UTC day for (finite, years 1–9999); others are counted and kept. */
export function exportableWhere(policy: RetentionPolicy): string {
  const t = timeExpr(policy);
  if (policy.timeKind === 'month') return 'true';
  const year = policy.timeKind === 'timestamptz' ? `extract(year FROM ${t} AT TIME ZONE 'UTC')` : `extract(year FROM ${t})`;
  return `isfinite(${t}) AND ${year} BETWEEN 1 AND 9999`;
}

/** The UTC day (YYYY-MM-DD) of the row: the object's partition. */
export function dayExpr(policy: RetentionPolicy): string {
  const t = timeExpr(policy);
  if (policy.timeKind === 'timestamptz') return `to_char(${t} AT TIME ZONE 'UTC', 'YYYY-MM-DD')`;
  if (policy.timeKind === 'date') return `to_char(${t}, 'YYYY-MM-DD')`;
  return `${t} || '-01'`;
}

/** Rows of one UTC day (sargable on the time column). */
export function dayWhere(policy: RetentionPolicy, day: string, ps: Params): string {
  const t = timeExpr(policy);
  if (policy.timeKind === 'timestamptz') {
    const next = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    return `${t} >= ${ps.add(`${day} 00:00:00+00`)}::text::timestamptz AND ${t} < ${ps.add(`${next} 00:00:00+00`)}::text::timestamptz`;
  }
  if (policy.timeKind === 'date') return `${t} = ${ps.add(day)}::text::date`;
  return `${t} = ${ps.add(day.slice(0, 7))}::text`;
}

/** The keyset: (time, key…) as SQL expressions and the casts of their text values. */
export function keyset(shape: TableShape): { exprs: string[]; casts: string[] } {
  const { policy } = shape;
  return {
    exprs: [timeExpr(policy), ...policy.keyColumns.map((c) => `t.${q(c)}`)],
    casts: [timeCast(policy), ...policy.keyColumns.map((c) => shape.types.get(c) as string)],
  };
}

/** `(time, key…) <op> (values)` with each value cast from its text. */
export function keysetCompare(shape: TableShape, op: '>' | '>=' | '<=', values: readonly string[], ps: Params): string {
  const { exprs, casts } = keyset(shape);
  const rhs = values.map((v, i) => `${ps.add(v)}::text::${casts[i]}`);
  return `(${exprs.join(', ')}) ${op} (${rhs.join(', ')})`;
}

/**
 * A row's version, for the delete's check that it removes the rows exported and nothing else: the
 * `xmin` of the row (the transaction that wrote this version; an UPDATE, or a delete and re-insert
 * under the same key, gives the row a new one). The export reads it beside the values; the delete
 * returns it; both take the md5 over `xmin,` per row in keyset order (`versionsMd5`). Cheaper by far
 * than hashing each row's text (PostgreSQL ≈ 9 µs of CPU per row here), and stricter: any rewrite
 * counts, even one that left the text as it was (the rows then stay, and the object is replaced).
 */
export const ROW_VERSION = 't.xmin::text';

/** The md5 over a `ROW_VERSION` column, in keyset order: `xmin,` per row (the export's side: `addVersions`). */
export function versionsMd5(column: string, orderBy: readonly string[]): string {
  return `md5(string_agg(${column} || ',', '' ORDER BY ${orderBy.join(', ')}))`;
}

/** Adds a page's row versions to the export's md5: the bytes `versionsMd5` aggregates, one update per page. */
export function addVersions(md5: Hash, versions: readonly string[]): void {
  if (versions.length === 0) return;
  md5.update(`${versions.join(',')},`);
}

/** How the policy's table is laid out in Parquet: its time and key columns carry statistics. */
export function columnLayout(policy: RetentionPolicy): ColumnLayout {
  return { indexed: new Set([...policy.timeColumns, ...policy.keyColumns]) };
}

/** Time bound of a keyset value, as a timestamptz text for the manifest. */
export function keyTimeAsTimestamp(policy: RetentionPolicy, value: string): string {
  if (policy.timeKind === 'timestamptz') return value;
  if (policy.timeKind === 'date') return `${value} 00:00:00+00`;
  return `${value}-01 00:00:00+00`;
}
