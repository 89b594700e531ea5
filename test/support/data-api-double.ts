/**
 * A stand-in for RDSDataClient at the client boundary: it executes what it receives on a real
 * PostgreSQL and enforces the Data API's rules, so the Data API driver is tested by the same
 * integration tests as the pg driver.
 *
 * Enforced: named parameters only (`:name`; a positional `$1` is refused), no array parameters,
 * exactly one value field per parameter, 65,536-character statements, 4 MiB requests,
 * 1 MiB results, known transaction ids. Parameters are typed as the real service types them
 * (a stringValue is varchar unless a typeHint says otherwise), so an uncast parameter that would
 * fail on Aurora fails here too. Results are JSON records (formatRecordsAs: JSON) with
 * timestamps printed as the Data API prints them ("YYYY-MM-DD HH:MM:SS.ffffff", UTC) and
 * json/jsonb/numeric as strings, integers as JSON numbers (as text with `resultSetOptions.longReturnType: STRING`).
 */
import { randomUUID } from 'node:crypto';
import {
  BadRequestException,
  BatchExecuteStatementCommand,
  BeginTransactionCommand,
  CommitTransactionCommand,
  DatabaseErrorException,
  DatabaseResumingException,
  ExecuteStatementCommand,
  NotFoundException,
  RollbackTransactionCommand,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import { Pool, type PoolClient } from 'pg';
import { lexSql } from '../../lambdas/shared/sql/lexer';
import { DATA_API_LIMITS } from '../../lambdas/shared/sql/types';

const TYPE_NAMES: Record<number, string> = {
  16: 'bool',
  20: 'int8',
  21: 'int2',
  23: 'int4',
  25: 'text',
  114: 'json',
  700: 'float4',
  701: 'float8',
  1043: 'varchar',
  1082: 'date',
  1114: 'timestamp',
  1184: 'timestamptz',
  1700: 'numeric',
  2950: 'uuid',
  3802: 'jsonb',
};
const NUMBER_TYPES = new Set(['int2', 'int4', 'int8', 'float4', 'float8']);
const INTEGER_TYPES = new Set(['int2', 'int4', 'int8']);
/** java.sql.Types codes, as the service reports them in columnMetadata.type. */
const JDBC_TYPES: Record<string, number> = {
  int2: 5,
  int4: 4,
  int8: -5,
  float4: 7,
  float8: 8,
  numeric: 2,
  bool: -7,
  text: 12,
  varchar: 12,
};
const meta = { $metadata: {} };

export interface DataApiCall {
  readonly command: string;
  readonly input: unknown;
}

export class DataApiDouble {
  readonly calls: DataApiCall[] = [];
  private readonly pool: Pool;
  private readonly transactions = new Map<string, PoolClient>();
  private resumingFailures = 0;

  constructor(connectionString: string) {
    const identity = (v: string) => v;
    this.pool = new Pool({
      connectionString,
      max: 4,
      options: '-c TimeZone=UTC',
      types: { getTypeParser: () => identity } as never,
    });
    // Connections held across calls (transactions) must survive the server going away, as in PgSql.
    this.pool.on('error', () => undefined);
    this.pool.on('connect', (client) => client.on('error', () => undefined));
  }

  /** The next `n` calls fail with DatabaseResumingException, as an auto-paused cluster does. */
  failWithResuming(n: number): void {
    this.resumingFailures = n;
  }

  async send(command: unknown): Promise<unknown> {
    const name = (command as { constructor: { name: string } }).constructor.name;
    const input = (command as { input: Record<string, unknown> }).input;
    this.calls.push({ command: name, input });
    if (this.resumingFailures > 0) {
      this.resumingFailures--;
      throw new DatabaseResumingException({ message: 'The database is resuming after being auto-paused.', ...meta });
    }
    if (command instanceof ExecuteStatementCommand) return this.execute(command.input);
    if (command instanceof BatchExecuteStatementCommand) return this.batch(command.input);
    if (command instanceof BeginTransactionCommand) {
      const client = await this.pool.connect();
      await client.query('BEGIN');
      const id = randomUUID();
      this.transactions.set(id, client);
      return { transactionId: id, ...meta };
    }
    if (command instanceof CommitTransactionCommand || command instanceof RollbackTransactionCommand) {
      const id = command.input.transactionId ?? '';
      const client = this.takeTransaction(id);
      try {
        await client.query(command instanceof CommitTransactionCommand ? 'COMMIT' : 'ROLLBACK');
      } finally {
        client.release();
      }
      return {
        transactionStatus: command instanceof CommitTransactionCommand ? 'Transaction Committed' : 'Rollback Complete',
        ...meta,
      };
    }
    throw new BadRequestException({ message: `Unsupported command ${name}`, ...meta });
  }

  async close(): Promise<void> {
    for (const client of this.transactions.values()) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
    this.transactions.clear();
    await this.pool.end();
  }

  private takeTransaction(id: string): PoolClient {
    const client = this.transactions.get(id);
    if (!client) throw new NotFoundException({ message: `Transaction ${id} is not found`, ...meta });
    this.transactions.delete(id);
    return client;
  }

  private clientFor(transactionId: string | undefined): Promise<{ client: Pool | PoolClient; done: () => void }> {
    if (!transactionId) return Promise.resolve({ client: this.pool, done: () => {} });
    const client = this.transactions.get(transactionId);
    if (!client) throw new NotFoundException({ message: `Transaction ${transactionId} is not found`, ...meta });
    return Promise.resolve({ client, done: () => {} });
  }

  private checkRequest(input: { sql?: string }): string {
    const sql = input.sql ?? '';
    if (sql.length > DATA_API_LIMITS.maxStatementChars) {
      throw new BadRequestException({
        message: `SQL statement length exceeds the maximum of ${DATA_API_LIMITS.maxStatementChars} characters`,
        ...meta,
      });
    }
    const bytes = Buffer.byteLength(JSON.stringify(input));
    if (bytes > DATA_API_LIMITS.maxRequestBytes) {
      throw new BadRequestException({ message: `Request size ${bytes} exceeds the 4 MiB limit`, ...meta });
    }
    return sql;
  }

  private async execute(input: ExecuteStatementCommand['input']): Promise<unknown> {
    const sql = this.checkRequest(input);
    const { text, values } = translate(sql, input.parameters ?? []);
    const { client } = await this.clientFor(input.transactionId);
    const res = await runPg(client, text, values);
    const out: Record<string, unknown> = { numberOfRecordsUpdated: res.command === 'SELECT' ? 0 : (res.rowCount ?? 0), ...meta };
    if (input.formatRecordsAs === 'JSON' && res.fields?.length) {
      const types = res.fields.map((f) => TYPE_NAMES[f.dataTypeID] ?? 'text');
      const records = res.rows.map((row: Record<string, string | null>) => {
        const rec: Record<string, unknown> = {};
        res.fields.forEach((f, i) => {
          rec[f.name] = formatValue(row[f.name] ?? null, types[i] as string, input.resultSetOptions?.longReturnType === 'STRING');
        });
        return rec;
      });
      const formatted = JSON.stringify(records);
      if (Buffer.byteLength(formatted) > DATA_API_LIMITS.maxResultBytes) {
        throw new BadRequestException({
          message: 'Database returned more than the allowed response size limit',
          ...meta,
        });
      }
      out.formattedRecords = formatted;
      if (input.includeResultMetadata) {
        out.columnMetadata = res.fields.map((f, i) => ({
          name: f.name,
          label: f.name,
          typeName: types[i],
          type: JDBC_TYPES[types[i] as string] ?? 1111,
        }));
      }
    }
    return out;
  }

  private async batch(input: BatchExecuteStatementCommand['input']): Promise<unknown> {
    const sql = this.checkRequest(input);
    const { client } = await this.clientFor(input.transactionId);
    const updateResults = [];
    for (const set of input.parameterSets ?? []) {
      const { text, values } = translate(sql, set);
      await runPg(client, text, values);
      updateResults.push({ generatedFields: [] });
    }
    return { updateResults, ...meta };
  }
}

async function runPg(client: Pool | PoolClient, text: string, values: unknown[]) {
  try {
    return await client.query(text, values);
  } catch (err) {
    // The real service reports SQL errors as DatabaseErrorException, without the SQLSTATE.
    throw new DatabaseErrorException({ message: `ERROR: ${(err as Error).message}`, ...meta });
  }
}

/** `:name` → `$n` with the type the Data API gives each value; refuses what the service refuses. */
function translate(sql: string, parameters: readonly SqlParameter[]): { text: string; values: unknown[] } {
  const byName = new Map<string, { index: number; cast: string; value: unknown }>();
  const values: unknown[] = [];
  for (const param of parameters) {
    if (!param.name) throw new BadRequestException({ message: 'Parameter name is required', ...meta });
    const v = (param.value ?? {}) as Record<string, unknown>;
    if ('arrayValue' in v && v.arrayValue !== undefined) {
      throw new BadRequestException({ message: `Array parameters are not supported (parameter ${param.name})`, ...meta });
    }
    const set = Object.entries(v).filter(([, x]) => x !== undefined);
    if (set.length !== 1) {
      throw new BadRequestException({ message: `Parameter ${param.name} must have exactly one value field`, ...meta });
    }
    const [kind, value] = set[0] as [string, unknown];
    let cast: string;
    switch (kind) {
      case 'stringValue':
        cast =
          (
            { DECIMAL: 'numeric', DATE: 'date', TIME: 'time', TIMESTAMP: 'timestamp', UUID: 'uuid', JSON: 'json' } as Record<string, string>
          )[param.typeHint ?? ''] ?? 'varchar';
        break;
      case 'longValue':
        cast = 'int8';
        break;
      case 'doubleValue':
        cast = 'float8';
        break;
      case 'booleanValue':
        cast = 'bool';
        break;
      case 'isNull':
        cast = '';
        break;
      default:
        throw new BadRequestException({ message: `Unsupported value type ${kind}`, ...meta });
    }
    values.push(kind === 'isNull' ? null : value);
    byName.set(param.name, { index: values.length, cast, value });
  }
  const text = lexSql(sql)
    .map((seg) => {
      if (seg.kind !== 'code') return seg.text;
      if (/\$\d/.test(seg.text)) {
        throw new BadRequestException({ message: 'Positional parameters ($1) are not supported: use :name', ...meta });
      }
      return seg.text.replace(/(?<!:):([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => {
        const p = byName.get(name);
        if (!p) throw new BadRequestException({ message: `No value specified for parameter: ${name}`, ...meta });
        return p.cast ? `($${p.index}::${p.cast})` : `$${p.index}`;
      });
    })
    .join('');
  return { text, values };
}

/** As the service prints a value in JSON records: integers as numbers unless `longReturnType: STRING`. */
function formatValue(raw: string | null, type: string, longsAsStrings: boolean): unknown {
  if (raw === null) return null;
  if (longsAsStrings && INTEGER_TYPES.has(type)) return raw;
  if (NUMBER_TYPES.has(type)) return Number(raw);
  if (type === 'bool') return raw === 't';
  if (type === 'timestamptz') return raw.replace(/\+00(:00)?$/, '');
  return raw;
}
