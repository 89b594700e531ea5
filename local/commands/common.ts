/**
 * What every CLI command shares: usage errors (exit 2), option parsers, a database from
 * DATABASE_URL, a Redis URL from REDIS_URL, a Lambda client for `--env`.
 */
import { LambdaClient } from '@aws-sdk/client-lambda';
import { InvalidArgumentError } from 'commander';
import { PgSql } from '../../lambdas/shared/sql/pg-driver';
import type { Sql } from '../../lambdas/shared/sql/types';

/** Bad usage (a missing variable, a wrong value): the CLI exits 2 with this message. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function requireEnv(name: string, example = 'postgres://user:pass@localhost:5432/db'): string {
  const v = process.env[name];
  if (!v) throw new UsageError(`${name} is not set. Example: ${name}=${example}`);
  return v;
}

/** Commander option parser: a positive integer. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`must be a positive integer, not "${value}"`);
  return n;
}

/** Commander option parser: a positive number. */
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`must be a positive number, not "${value}"`);
  return n;
}

/** Commander option parser: a JSON object. */
export function jsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (e) {
    throw new InvalidArgumentError(`not valid JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidArgumentError('must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** Commander option parser: an ISO date or instant (2025-01-31, 2025-01-31T10:00:00Z), as PostgreSQL reads it. */
export function isoTime(value: string): string {
  const iso = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/i;
  const date = value.slice(0, 10);
  // Date.parse rolls 2025-02-30 over to March: the day must survive the round trip.
  if (!iso.test(value) || Number.isNaN(Date.parse(value)) || new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10) !== date)
    throw new InvalidArgumentError('not a date or timestamp (e.g. 2025-01-31 or 2025-01-31T10:00:00Z)');
  return value;
}

/** Commander option parser: a UUID (lead ids). */
export function uuid(value: string): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value))
    throw new InvalidArgumentError('not an id: ids are UUIDs (e.g. 0b6f3c1e-5d2a-4c1b-9e8f-1a2b3c4d5e6f)');
  return value;
}

/** DATABASE_URL, checked to be a postgres:// URL (exit 2 otherwise). */
export function databaseUrl(): string {
  const url = requireEnv('DATABASE_URL');
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {}
  if (!parsed || !/^postgres(ql)?:$/.test(parsed.protocol) || !parsed.hostname)
    throw new UsageError('DATABASE_URL is not a postgres:// URL. Example: DATABASE_URL=postgres://user:pass@localhost:5432/db');
  return url;
}

/** REDIS_URL, checked to be a redis:// or rediss:// URL (exit 2 otherwise). */
export function redisUrl(): string {
  const url = requireEnv('REDIS_URL', 'redis://localhost:6379');
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {}
  if (!parsed || !/^rediss?:$/.test(parsed.protocol) || !parsed.hostname)
    throw new UsageError('REDIS_URL is not a redis:// URL. Example: REDIS_URL=redis://localhost:6379');
  return url;
}

/** Where a URL points, without its credentials: `host:port/path`. */
export function whereIs(url: string): string {
  const u = new URL(url);
  return `${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}

/** The database could not be reached: one line naming DATABASE_URL (exit 1). */
export class DatabaseUnreachableError extends Error {
  override readonly name = 'DatabaseUnreachableError';
}

/**
 * Runs `fn` with a pg connection to DATABASE_URL, closed afterwards. The connection is tried first,
 * so a server that is down, a wrong password or a missing database is one line naming DATABASE_URL.
 */
export async function withDatabase<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
  const url = databaseUrl();
  const sql = new PgSql({ connectionString: url });
  try {
    try {
      await sql.query('SELECT 1');
    } catch (e) {
      const cause = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
      throw new DatabaseUnreachableError(`Cannot connect to PostgreSQL at DATABASE_URL (${whereIs(url)}): ${cause}`);
    }
    return await fn(sql);
  } finally {
    await sql.close();
  }
}

/**
 * A Lambda client for `--env <env>`: the region from `--region`, else the AWS SDK's own lookup
 * (AWS_REGION, the profile); none is bad usage that says how to give one.
 */
export async function lambdaClient(o: { env?: string; region?: string }): Promise<LambdaClient> {
  const client = new LambdaClient({ region: o.region });
  try {
    await client.config.region();
  } catch {
    client.destroy();
    throw new UsageError(`--env ${o.env} calls AWS, and no region is set: pass --region (e.g. --region eu-west-1) or set AWS_REGION.`);
  }
  return client;
}

/** `--json`: only the JSON document on stdout; otherwise the human rendering. */
export function output(json: boolean | undefined, data: unknown, human: () => void): void {
  if (json) process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  else human();
}

/** A command that finished with a failure the output already explained: exit 1. */
export function fail(): void {
  process.exitCode = 1;
}
