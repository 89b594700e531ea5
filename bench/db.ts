import { join } from 'node:path';
import { loadMigrations, migrate } from '../lambdas/shared/migrate';
import { PgSql } from '../lambdas/shared/sql/pg-driver';
import { createDatabase } from '../local/services';

/** Runs `fn` against a fresh, migrated database on the server at `adminUrl`, then drops it. */
export async function withMigratedDatabase<T>(
  adminUrl: string,
  options: { prefix: string; maxConnections: number },
  fn: (sql: PgSql, url: string) => Promise<T>,
): Promise<T> {
  const db = await createDatabase(adminUrl, options.prefix);
  const sql = new PgSql({ connectionString: db.url, maxConnections: options.maxConnections });
  try {
    await migrate(sql, loadMigrations(join(__dirname, '..', 'sql')));
    return await fn(sql, db.url);
  } finally {
    await sql.close();
    await db.stop();
  }
}
