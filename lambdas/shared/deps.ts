/**
 * Runtime configuration of a Lambda or CLI run, read from the environment ONCE (at cold start)
 * and validated: a bad value fails fast with every problem listed.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { ConfigError, type EnvironmentConfig, getEnvironment } from '../../lib/config';
import { DynamoRunLedger } from './ledger/dynamodb';
import { FileRunLedger } from './ledger/file';
import type { RunLedger } from './ledger/types';
import { DataApiSql } from './sql/data-api-driver';
import { PgSql } from './sql/pg-driver';
import type { Sql } from './sql/types';

export type SqlConfig =
  | { readonly driver: 'data-api'; readonly resourceArn: string; readonly secretArn: string; readonly database: string }
  | { readonly driver: 'pg'; readonly url: string; readonly ssl: boolean };

export type LedgerConfig = { readonly kind: 'dynamodb'; readonly table: string } | { readonly kind: 'file'; readonly path: string };

/** Local Redis by URL, or ElastiCache Serverless (cluster mode, TLS) with IAM authentication. */
export type RedisConfig =
  | { readonly kind: 'url'; readonly url: string }
  | {
      readonly kind: 'elasticache';
      readonly host: string;
      readonly port: number;
      readonly cacheName: string;
      readonly user: string;
      readonly region: string;
    };

export interface RuntimeConfig {
  readonly env: EnvironmentConfig;
  readonly sql: SqlConfig;
  readonly ledger: LedgerConfig;
  readonly redis?: RedisConfig;
}

export function loadRuntimeConfig(vars: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  const problems: string[] = [];
  let env: EnvironmentConfig | undefined;
  try {
    env = getEnvironment(vars.ENV_NAME ?? 'dev');
  } catch (e) {
    problems.push((e as Error).message);
  }
  const driver = vars.DB_DRIVER ?? (vars.DB_CLUSTER_ARN ? 'data-api' : 'pg');
  let sql: SqlConfig | undefined;
  if (driver === 'data-api') {
    const { DB_CLUSTER_ARN, DB_SECRET_ARN, DB_NAME } = vars;
    if (!DB_CLUSTER_ARN?.startsWith('arn:')) problems.push('DB_CLUSTER_ARN must be the Aurora cluster ARN');
    if (!DB_SECRET_ARN?.startsWith('arn:')) problems.push('DB_SECRET_ARN must be the database secret ARN');
    if (!DB_NAME) problems.push('DB_NAME is required with the data-api driver');
    sql = { driver, resourceArn: DB_CLUSTER_ARN ?? '', secretArn: DB_SECRET_ARN ?? '', database: DB_NAME ?? '' };
  } else if (driver === 'pg') {
    if (!vars.DATABASE_URL || !/^postgres(ql)?:\/\//.test(vars.DATABASE_URL))
      problems.push('DATABASE_URL must be a postgres:// URL (or set DB_DRIVER=data-api with DB_CLUSTER_ARN)');
    sql = { driver, url: vars.DATABASE_URL ?? '', ssl: vars.DB_SSL === 'true' };
  } else problems.push(`DB_DRIVER must be data-api or pg, not "${driver}"`);
  const ledger: LedgerConfig = vars.LEDGER_TABLE
    ? { kind: 'dynamodb', table: vars.LEDGER_TABLE }
    : { kind: 'file', path: vars.LEDGER_FILE ?? '.local/run-ledger.json' };
  let redis: RedisConfig | undefined;
  if (vars.VALKEY_ENDPOINT) {
    const [host, port] = vars.VALKEY_ENDPOINT.split(':');
    if (!host || !port || !/^\d+$/.test(port)) problems.push('VALKEY_ENDPOINT must be host:port');
    if (!vars.VALKEY_CACHE_NAME) problems.push('VALKEY_CACHE_NAME is required with VALKEY_ENDPOINT');
    if (!vars.VALKEY_USER) problems.push('VALKEY_USER is required with VALKEY_ENDPOINT');
    const region = vars.AWS_REGION ?? '';
    if (!region) problems.push('AWS_REGION is required with VALKEY_ENDPOINT');
    redis = {
      kind: 'elasticache',
      host: host ?? '',
      port: Number(port),
      cacheName: vars.VALKEY_CACHE_NAME ?? '',
      user: vars.VALKEY_USER ?? '',
      region,
    };
  } else if (vars.REDIS_URL) {
    if (!/^rediss?:\/\//.test(vars.REDIS_URL)) problems.push('REDIS_URL must be a redis:// or rediss:// URL');
    redis = { kind: 'url', url: vars.REDIS_URL };
  }
  if (problems.length > 0 || !env || !sql) throw new ConfigError(`Invalid runtime configuration:\n - ${problems.join('\n - ')}`);
  return { env, sql, ledger, redis };
}

export function createSql(config: SqlConfig, rdsData?: RDSDataClient): Sql {
  if (config.driver === 'pg') return new PgSql({ connectionString: config.url, ssl: config.ssl });
  return new DataApiSql({
    client: rdsData ?? new RDSDataClient({}),
    resourceArn: config.resourceArn,
    secretArn: config.secretArn,
    database: config.database,
  });
}

export function createLedger(config: LedgerConfig, dynamo?: DynamoDBClient): RunLedger {
  if (config.kind === 'file') return new FileRunLedger(config.path);
  return new DynamoRunLedger({ client: dynamo ?? new DynamoDBClient({}), tableName: config.table });
}
