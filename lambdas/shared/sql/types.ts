/**
 * The `Sql` port: the one interface every job uses to reach PostgreSQL.
 *
 * SQL is written once with positional placeholders (`$1`, `$2`, ...) and runs unchanged on both
 * drivers (node-postgres and the RDS Data API). Rules that keep it portable:
 * - parameters are scalars: no arrays (the Data API has none). Bulk rows go in ONE jsonb
 *   parameter expanded with `jsonb_to_recordset`.
 * - every parameter is cast in the SQL (`$1::text`, `$2::timestamptz`, `$3::jsonb`), because the
 *   Data API sends strings as `text` and PostgreSQL does not coerce text to other types.
 * - result rows hold plain JSON values: timestamps come back as ISO-8601 strings (UTC), bigint and
 *   numeric as numbers, json/jsonb as parsed values, dates as `YYYY-MM-DD`. A bigint beyond ±2^53
 *   comes back as a JS `bigint` (exact), never as a rounded number; integer parameters are sent exactly.
 *   (`numeric` stays a number: cast it to text in SQL when every digit matters.)
 */

/** An explicit type for a parameter, when the JS value alone is ambiguous. */
export type SqlType = 'text' | 'integer' | 'bigint' | 'numeric' | 'boolean' | 'timestamptz' | 'date' | 'uuid' | 'jsonb';

export interface TypedParam {
  readonly sqlType: SqlType;
  readonly value: unknown;
}

export type SqlParam = string | number | bigint | boolean | Date | null | undefined | TypedParam;

export type Row = Record<string, unknown>;

export interface ExecResult {
  /** Rows changed (INSERT/UPDATE/DELETE), or rows returned. */
  readonly rowCount: number;
}

/** What can run statements: the connection itself or a transaction. */
export interface SqlExecutor {
  query<T extends Row = Row>(text: string, params?: readonly SqlParam[]): Promise<T[]>;
  /**
   * Like `query`, each row as its values in select-list order (no object per row: for bulk reads).
   * The select list's names must be distinct and not integer-like (`"1"`): the Data API driver reads
   * them from JSON records, whose integer-like keys JavaScript orders first.
   */
  queryArrays(text: string, params?: readonly SqlParam[]): Promise<unknown[][]>;
  execute(text: string, params?: readonly SqlParam[]): Promise<ExecResult>;
  /** The same statement once per parameter set (Data API BatchExecuteStatement). */
  batch(text: string, paramSets: readonly (readonly SqlParam[])[]): Promise<void>;
}

export interface Sql extends SqlExecutor {
  /** Runs `fn` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Which driver this is, for logs. */
  readonly driver: 'pg' | 'data-api';
  close(): Promise<void>;
}

/** Helpers to type a parameter explicitly. */
export const p = {
  text: (value: string | null | undefined): TypedParam => ({ sqlType: 'text', value }),
  int: (value: number | null | undefined): TypedParam => ({ sqlType: 'integer', value }),
  bigint: (value: number | bigint | null | undefined): TypedParam => ({ sqlType: 'bigint', value }),
  numeric: (value: number | string | null | undefined): TypedParam => ({ sqlType: 'numeric', value }),
  bool: (value: boolean | null | undefined): TypedParam => ({ sqlType: 'boolean', value }),
  ts: (value: Date | string | null | undefined): TypedParam => ({ sqlType: 'timestamptz', value }),
  date: (value: string | null | undefined): TypedParam => ({ sqlType: 'date', value }),
  uuid: (value: string | null | undefined): TypedParam => ({ sqlType: 'uuid', value }),
  json: (value: unknown): TypedParam => ({ sqlType: 'jsonb', value }),
};

export function isTypedParam(v: unknown): v is TypedParam {
  return typeof v === 'object' && v !== null && !(v instanceof Date) && 'sqlType' in v;
}

/**
 * Limits of the RDS Data API (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.html):
 * the jobs size their batches and pages below these so both drivers behave the same.
 */
export const DATA_API_LIMITS = {
  maxStatementChars: 65_536,
  maxRequestBytes: 4 * 1024 * 1024,
  maxResultBytes: 1024 * 1024,
  callTimeoutMs: 45_000,
} as const;

/** The byte budget for one JSON bulk parameter: well under the 4 MiB request limit. */
export const BULK_PARAM_BUDGET_BYTES = 2 * 1024 * 1024;
