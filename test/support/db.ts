import { join } from 'node:path';
import { loadMigrations, migrate } from '../../lambdas/shared/migrate';
import { DataApiSql } from '../../lambdas/shared/sql/data-api-driver';
import { PgSql } from '../../lambdas/shared/sql/pg-driver';
import type { Sql } from '../../lambdas/shared/sql/types';
import { createDatabase } from '../../local/services';
import { DataApiDouble } from './data-api-double';

export type DriverName = 'pg' | 'data-api';
/** Every integration suite that touches SQL runs once per driver. */
export const DRIVERS: DriverName[] = ['pg', 'data-api'];

export const MIGRATIONS_DIR = join(__dirname, '../../sql');

export interface TestDb {
  readonly url: string;
  readonly sql: Sql;
  /** A pg connection for assertions, independent of the driver under test. */
  readonly direct: PgSql;
  readonly double?: DataApiDouble;
  close(): Promise<void>;
}

/** A fresh database (own name) on the run's PostgreSQL, reached through `driver`. */
export async function testDb(driver: DriverName, options: { migrate?: boolean } = {}): Promise<TestDb> {
  const admin = process.env.DLC_PG_ADMIN_URL;
  if (!admin) throw new Error('DLC_PG_ADMIN_URL is not set: run integration tests through jest (globalSetup starts PostgreSQL)');
  const db = await createDatabase(admin, 'it');
  const direct = new PgSql({ connectionString: db.url });
  let sql: Sql;
  let double: DataApiDouble | undefined;
  if (driver === 'pg') sql = new PgSql({ connectionString: db.url });
  else {
    double = new DataApiDouble(db.url);
    sql = new DataApiSql({
      client: double,
      resourceArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:test',
      secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:test',
      database: 'test',
      resumeBaseDelayMs: 1,
    });
  }
  if (options.migrate !== false) await migrate(sql, loadMigrations(MIGRATIONS_DIR));
  return {
    url: db.url,
    sql,
    direct,
    double,
    async close() {
      await sql.close();
      await double?.close();
      await direct.close();
      await db.stop();
    },
  };
}
