import { Pool, type PoolClient, type PoolConfig, types } from 'pg';
import { SqlError } from './errors';
import type { ExecResult, Row, Sql, SqlExecutor, SqlParam } from './types';
import { exactInteger, normalizeParam, pgTimestampToIso } from './values';

const OID = { int8: 20, numeric: 1700, timestamp: 1114, timestamptz: 1184, date: 1082 } as const;

/** Type parsers giving the same row shapes as the Data API driver (see types.ts). */
const parsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    switch (oid) {
      case OID.int8:
        return exactInteger;
      case OID.numeric:
        return (v: string) => Number(v);
      case OID.timestamp:
      case OID.timestamptz:
        return (v: string) => pgTimestampToIso(v);
      case OID.date:
        return (v: string) => v;
      default:
        return types.getTypeParser(oid, format);
    }
  },
} as PoolConfig['types'];

function toPgValues(params: readonly SqlParam[]): unknown[] {
  return params.map((param, i) => normalizeParam(param, i).value);
}

class PgExecutor implements SqlExecutor {
  constructor(protected readonly target: Pool | PoolClient) {}

  async query<T extends Row = Row>(text: string, params: readonly SqlParam[] = []): Promise<T[]> {
    try {
      const res = await this.target.query(text, toPgValues(params));
      return res.rows as T[];
    } catch (err) {
      throw wrap(err, text);
    }
  }

  async queryArrays(text: string, params: readonly SqlParam[] = []): Promise<unknown[][]> {
    try {
      const res = await this.target.query({ text, values: toPgValues(params), rowMode: 'array' });
      return res.rows as unknown[][];
    } catch (err) {
      throw wrap(err, text);
    }
  }

  async execute(text: string, params: readonly SqlParam[] = []): Promise<ExecResult> {
    try {
      const res = await this.target.query(text, toPgValues(params));
      return { rowCount: res.rowCount ?? 0 };
    } catch (err) {
      throw wrap(err, text);
    }
  }

  async batch(text: string, paramSets: readonly (readonly SqlParam[])[]): Promise<void> {
    for (const params of paramSets) await this.execute(text, params);
  }
}

export interface PgSqlOptions {
  readonly connectionString: string;
  /** @default 4 */
  readonly maxConnections?: number;
  /** Use TLS (Aurora through the pg driver in production). @default false */
  readonly ssl?: boolean;
  /** Told when an idle connection breaks (it is discarded either way). */
  readonly onIdleError?: (err: Error) => void;
}

/** node-postgres driver: local runs, tests, benchmarks; optional in production. */
export class PgSql extends PgExecutor implements Sql {
  readonly driver = 'pg' as const;
  private readonly pool: Pool;

  constructor(options: PgSqlOptions) {
    const pool = new Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 4,
      types: parsers,
      options: '-c TimeZone=UTC',
      ssl: options.ssl ? { rejectUnauthorized: true } : undefined,
    });
    // An idle connection dropped by the server (restart, failover) emits 'error' on the pool;
    // unhandled, that event would crash the process. The next query gets a fresh connection.
    pool.on('error', (err) => options.onIdleError?.(err));
    // A checked-out connection has no pool listener. When the server goes away it emits 'error'
    // too — even before `pool.connect()` resolves, if the server's FATAL arrives in the same packet
    // as its ReadyForQuery — and unhandled that would crash the process. Every connection keeps this
    // listener for life; the statements in flight (and any later one) reject with the error anyway.
    pool.on('connect', (client) => client.on('error', ignoreDeadConnection));
    super(pool);
    this.pool = pool;
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(new PgExecutor(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** See the 'connect' listener in PgSql: the error reaches the caller through its statement. */
function ignoreDeadConnection(): void {}

function wrap(err: unknown, statement: string): SqlError {
  if (err instanceof SqlError) return err;
  const e = err as { message?: string; code?: string };
  return new SqlError(e.message ?? String(err), statement, e.code, { cause: err });
}
