import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitStatements } from './sql/lexer';
import type { Sql } from './sql/types';

export interface Migration {
  /** File name, e.g. `001_core.sql`. */
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

const FILE = /^(\d{3,})_[a-z0-9_]+\.sql$/;
/** Arbitrary constant: one advisory lock key for every migrator of this database. */
export const LOCK_KEY = 7_305_411_002;

export function checksum(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

/** Reads `NNN_name.sql` files in order; refuses gaps in naming and duplicate numbers. */
export function loadMigrations(dir: string): Migration[] {
  const names = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const seen = new Set<string>();
  return names.map((name) => {
    const m = FILE.exec(name);
    if (!m) throw new MigrationError(`Migration file ${name} does not match NNN_name.sql`);
    const num = m[1] as string;
    if (seen.has(num)) throw new MigrationError(`Two migrations share the number ${num} (${name})`);
    seen.add(num);
    const sql = readFileSync(join(dir, name), 'utf8');
    return { name, sql, checksum: checksum(sql) };
  });
}

export interface MigrateResult {
  readonly applied: string[];
  readonly alreadyApplied: string[];
}

/**
 * Applies pending migrations in order, each in its own transaction holding a transaction-scoped
 * advisory lock (works through the Data API, where there is no session to hold a session lock).
 * An applied migration whose file changed is refused, naming the file.
 */
export async function migrate(sql: Sql, migrations: readonly Migration[], log: (msg: string) => void = () => {}): Promise<MigrateResult> {
  await sql.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [LOCK_KEY]);
    await tx.execute(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name       text PRIMARY KEY,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
  });
  const applied = new Map(
    (await sql.query<{ name: string; checksum: string }>('SELECT name, checksum FROM schema_migrations')).map((r) => [r.name, r.checksum]),
  );
  for (const m of migrations) {
    const known = applied.get(m.name);
    if (known !== undefined && known !== m.checksum) {
      throw new MigrationError(
        `Migration ${m.name} was changed after it was applied (checksum ${known.slice(0, 12)}… in the database, ${m.checksum.slice(0, 12)}… on disk). Applied migrations are immutable: revert the file and add a new migration instead.`,
      );
    }
  }
  const result: MigrateResult = { applied: [], alreadyApplied: [] };
  for (const m of migrations) {
    const done = await sql.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [LOCK_KEY]);
      const rows = await tx.query<{ checksum: string }>('SELECT checksum FROM schema_migrations WHERE name = $1::text', [m.name]);
      if (rows[0]) {
        if (rows[0].checksum !== m.checksum) throw new MigrationError(`Migration ${m.name} changed while migrating`);
        return false;
      }
      for (const statement of splitStatements(m.sql)) {
        try {
          await tx.execute(statement);
        } catch (err) {
          throw new MigrationError(`Migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
        }
      }
      await tx.execute('INSERT INTO schema_migrations (name, checksum) VALUES ($1::text, $2::text)', [m.name, m.checksum]);
      return true;
    });
    (done ? result.applied : result.alreadyApplied).push(m.name);
    if (done) log(`applied ${m.name}`);
  }
  return result;
}
