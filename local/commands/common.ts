/** What every CLI command shares: usage errors (exit 2), option parsers, a database from DATABASE_URL. */
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

/** Runs `fn` with a pg connection to DATABASE_URL, closed afterwards. */
export async function withDatabase<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = new PgSql({ connectionString: requireEnv('DATABASE_URL') });
  try {
    return await fn(sql);
  } finally {
    await sql.close();
  }
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
