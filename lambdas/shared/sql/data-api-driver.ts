import {
  BatchExecuteStatementCommand,
  BeginTransactionCommand,
  type BeginTransactionCommandOutput,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  type ExecuteStatementCommandOutput,
  type Field,
  type RDSDataClient,
  RollbackTransactionCommand,
  type SqlParameter,
  type TypeHint,
} from '@aws-sdk/client-rds-data';
import { DataApiLimitError, SqlError } from './errors';
import { rewritePlaceholders } from './lexer';
import { DATA_API_LIMITS, type ExecResult, type Row, type Sql, type SqlExecutor, type SqlParam } from './types';
import { exactInteger, normalizeParam, pgTimestampToIso } from './values';

/** The only part of RDSDataClient the driver uses: tests pass a double here. */
export type RdsDataSender = Pick<RDSDataClient, 'send'>;

export interface DataApiSqlOptions {
  readonly client: RdsDataSender;
  readonly resourceArn: string;
  readonly secretArn: string;
  readonly database: string;
  /** Total time to keep retrying while an auto-paused cluster resumes. @default 60000 */
  readonly resumeTimeoutMs?: number;
  /** First backoff delay; doubles up to 8 s. @default 1000 */
  readonly resumeBaseDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Called on each resume retry (for logs). */
  readonly onRetry?: (attempt: number, delayMs: number, err: unknown) => void;
}

const HINTS: Partial<Record<string, TypeHint>> = { numeric: 'DECIMAL', date: 'DATE', uuid: 'UUID', jsonb: 'JSON' };

/** `$1..$n` → `:p1..:pn` with typed values. */
export function toDataApiStatement(text: string, params: readonly SqlParam[]): { sql: string; parameters: SqlParameter[] } {
  const sql = rewritePlaceholders(text, (n) => {
    if (n < 1 || n > params.length) {
      throw new SqlError(`Placeholder $${n} has no parameter (${params.length} given)`, text);
    }
    return `:p${n}`;
  });
  const parameters = params.map((param, i): SqlParameter => {
    const { sqlType, value } = normalizeParam(param, i);
    const name = `p${i + 1}`;
    if (value === null) return { name, value: { isNull: true } };
    switch (sqlType) {
      case 'integer':
      case 'bigint':
        return integerParam(name, value, i);
      case 'boolean':
        return { name, value: { booleanValue: Boolean(value) } };
      case 'numeric':
        return { name, value: { stringValue: String(value) }, typeHint: 'DECIMAL' };
      default: {
        const typeHint = HINTS[sqlType];
        return typeHint ? { name, value: { stringValue: String(value) }, typeHint } : { name, value: { stringValue: String(value) } };
      }
    }
  });
  return { sql, parameters };
}

/**
 * An integer parameter, exactly: `longValue` is a JS number (the SDK's Long), which cannot hold
 * integers beyond ±2^53, so those go as a DECIMAL string (PostgreSQL `numeric`, which every
 * `$n::bigint` cast turns into the exact bigint). `9007199254740993n` is sent as written.
 */
function integerParam(name: string, value: string | number | boolean, index: number): SqlParameter {
  const text = typeof value === 'number' ? (Number.isInteger(value) ? BigInt(value).toString() : String(value)) : String(value);
  if (!/^-?\d+$/.test(text)) throw new TypeError(`Parameter $${index + 1}: ${text} is not an integer`);
  const n = Number(text);
  if (Number.isSafeInteger(n)) return { name, value: { longValue: n } };
  return { name, value: { stringValue: text }, typeHint: 'DECIMAL' };
}

/** RDS Data API driver: the production default (no VPC, no connection pool). */
export class DataApiSql implements Sql {
  readonly driver = 'data-api' as const;
  private readonly root: DataApiExecutor;

  constructor(private readonly options: DataApiSqlOptions) {
    this.root = new DataApiExecutor(options, undefined);
  }

  query<T extends Row = Row>(text: string, params?: readonly SqlParam[]): Promise<T[]> {
    return this.root.query<T>(text, params);
  }
  queryArrays(text: string, params?: readonly SqlParam[]): Promise<unknown[][]> {
    return this.root.queryArrays(text, params);
  }
  execute(text: string, params?: readonly SqlParam[]): Promise<ExecResult> {
    return this.root.execute(text, params);
  }
  batch(text: string, paramSets: readonly (readonly SqlParam[])[]): Promise<void> {
    return this.root.batch(text, paramSets);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const { resourceArn, secretArn, database } = this.options;
    const begin = await this.root.send<BeginTransactionCommandOutput>(
      () => new BeginTransactionCommand({ resourceArn, secretArn, database }),
      'BEGIN',
    );
    const transactionId = begin.transactionId;
    if (!transactionId) throw new SqlError('BeginTransaction returned no transaction id', 'BEGIN');
    let result: T;
    try {
      result = await fn(new DataApiExecutor(this.options, transactionId));
    } catch (err) {
      await this.root
        .send(() => new RollbackTransactionCommand({ resourceArn, secretArn, transactionId }), 'ROLLBACK')
        .catch(() => undefined);
      throw err;
    }
    await this.root.send(() => new CommitTransactionCommand({ resourceArn, secretArn, transactionId }), 'COMMIT');
    return result;
  }

  async close(): Promise<void> {}
}

class DataApiExecutor implements SqlExecutor {
  constructor(
    private readonly options: DataApiSqlOptions,
    private readonly transactionId: string | undefined,
  ) {}

  async query<T extends Row = Row>(text: string, params: readonly SqlParam[] = []): Promise<T[]> {
    const out = await this.run(text, params, true);
    return parseRecords(out) as T[];
  }

  async queryArrays(text: string, params: readonly SqlParam[] = []): Promise<unknown[][]> {
    // Records come as JSON objects whose keys keep the select list's order (names are distinct).
    return (await this.query(text, params)).map((r) => Object.values(r));
  }

  async execute(text: string, params: readonly SqlParam[] = []): Promise<ExecResult> {
    const out = await this.run(text, params, false);
    return { rowCount: out.numberOfRecordsUpdated ?? 0 };
  }

  async batch(text: string, paramSets: readonly (readonly SqlParam[])[]): Promise<void> {
    if (paramSets.length === 0) return;
    const { resourceArn, secretArn, database } = this.options;
    const converted = paramSets.map((set) => toDataApiStatement(text, set));
    const sql = converted[0]?.sql ?? text;
    checkStatement(sql, text);
    let chunk: SqlParameter[][] = [];
    let bytes = sql.length;
    const flush = async () => {
      const parameterSets = chunk;
      chunk = [];
      bytes = sql.length;
      await this.send(
        () =>
          new BatchExecuteStatementCommand({
            resourceArn,
            secretArn,
            database,
            sql,
            parameterSets,
            transactionId: this.transactionId,
          }),
        text,
      );
    };
    for (const c of converted) {
      const size = JSON.stringify(c.parameters).length;
      if (chunk.length > 0 && bytes + size > DATA_API_LIMITS.maxRequestBytes / 2) await flush();
      chunk.push(c.parameters);
      bytes += size;
    }
    if (chunk.length > 0) await flush();
  }

  private run(text: string, params: readonly SqlParam[], wantRows: boolean): Promise<ExecuteStatementCommandOutput> {
    const { resourceArn, secretArn, database } = this.options;
    const { sql, parameters } = toDataApiStatement(text, params);
    checkStatement(sql, text);
    const requestBytes = sql.length + JSON.stringify(parameters).length;
    if (requestBytes > DATA_API_LIMITS.maxRequestBytes) {
      throw new DataApiLimitError(`Request of ${requestBytes} bytes exceeds the Data API's 4 MiB limit; split the bulk parameter`, text);
    }
    return this.send(
      () =>
        new ExecuteStatementCommand({
          resourceArn,
          secretArn,
          database,
          sql,
          parameters,
          transactionId: this.transactionId,
          formatRecordsAs: wantRows ? 'JSON' : 'NONE',
          // BIGINT as a JSON number would be rounded by JSON.parse beyond 2^53: ask for text.
          ...(wantRows ? { resultSetOptions: { longReturnType: 'STRING', decimalReturnType: 'STRING' } as const } : {}),
          includeResultMetadata: wantRows,
        }),
      text,
    );
  }

  /** Sends with retry while Aurora resumes from auto-pause; maps errors to SqlError. */
  async send<O>(make: () => { input: unknown }, statement: string): Promise<O> {
    const deadline = Date.now() + (this.options.resumeTimeoutMs ?? 60_000);
    const sleep = this.options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
    let delay = this.options.resumeBaseDelayMs ?? 1_000;
    for (let attempt = 1; ; attempt++) {
      try {
        // biome-ignore lint/suspicious/noExplicitAny: one send() for every Data API command
        return (await this.options.client.send(make() as any)) as O;
      } catch (err) {
        const name = (err as { name?: string }).name;
        if (name === 'DatabaseResumingException' && Date.now() + delay <= deadline) {
          this.options.onRetry?.(attempt, delay, err);
          await sleep(delay);
          delay = Math.min(delay * 2, 8_000);
          continue;
        }
        throw mapError(err, statement);
      }
    }
  }
}

function checkStatement(sql: string, original: string): void {
  if (sql.length > DATA_API_LIMITS.maxStatementChars) {
    throw new DataApiLimitError(
      `Statement of ${sql.length} characters exceeds the Data API's ${DATA_API_LIMITS.maxStatementChars}-character limit`,
      original,
    );
  }
}

function mapError(err: unknown, statement: string): SqlError {
  if (err instanceof SqlError) return err;
  const e = err as { name?: string; message?: string };
  const message = e.message ?? String(err);
  if (/response size limit|exceeds.*size/i.test(message)) {
    return new DataApiLimitError(
      `${e.name ?? 'Error'}: ${message} (the Data API returns at most 1 MiB: page the query with a keyset and LIMIT)`,
      statement,
      undefined,
      { cause: err },
    );
  }
  if (/array/i.test(message) && e.name === 'BadRequestException') {
    return new DataApiLimitError(`${e.name}: ${message}`, statement, undefined, { cause: err });
  }
  return new SqlError(`${e.name ?? 'Error'}: ${message}`, statement, undefined, { cause: err });
}

/** Integer columns, which come back as text (`longReturnType: STRING`): by name, or by JDBC type (BIGINT, INTEGER, SMALLINT, TINYINT). */
const INTEGER_TYPES = new Set(['int8', 'int4', 'int2', 'serial', 'serial4', 'serial8', 'bigserial', 'smallserial']);
const INTEGER_JDBC_TYPES = new Set([-5, 4, 5, -6]);

/** formattedRecords (JSON) + column metadata → rows of plain values, as the pg driver returns. */
function parseRecords(out: ExecuteStatementCommandOutput): Row[] {
  if (!out.formattedRecords) return [];
  const rows = JSON.parse(out.formattedRecords) as Row[];
  const meta = out.columnMetadata ?? [];
  const converters: [string, (v: unknown) => unknown][] = [];
  for (const col of meta) {
    const name = col.label ?? col.name;
    const type = (col.typeName ?? '').toLowerCase();
    if (!name) continue;
    if (type === 'json' || type === 'jsonb') converters.push([name, (v) => (typeof v === 'string' ? JSON.parse(v) : v)]);
    else if (type === 'timestamptz' || type === 'timestamp')
      converters.push([name, (v) => (typeof v === 'string' ? pgTimestampToIso(v) : v)]);
    else if (INTEGER_TYPES.has(type) || INTEGER_JDBC_TYPES.has(col.type ?? 0))
      converters.push([name, (v) => (typeof v === 'string' ? exactInteger(v) : v)]);
    else if (type === 'numeric' || type === 'float8' || type === 'float4')
      converters.push([name, (v) => (typeof v === 'string' ? Number(v) : v)]);
  }
  if (converters.length === 0) return rows;
  for (const row of rows) {
    for (const [name, convert] of converters) {
      const v = row[name];
      if (v !== null && v !== undefined) row[name] = convert(v);
    }
  }
  return rows;
}

export type { Field };
