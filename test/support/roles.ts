/**
 * Connecting as a database role in tests: the roles of the registry are created once per server
 * (roles are cluster-wide; serialized with an advisory lock in the admin database), then each
 * test database is reconciled by the real step and reached as the role through either driver.
 */
import { Client } from 'pg';
import { type RoleReconciled, reconcileRoles } from '../../lambdas/shared/db-role-reconcile';
import { DB_ROLES, type DbRoleName } from '../../lambdas/shared/db-roles';
import { DataApiSql } from '../../lambdas/shared/sql/data-api-driver';
import { PgSql } from '../../lambdas/shared/sql/pg-driver';
import type { Sql } from '../../lambdas/shared/sql/types';
import { DataApiDouble } from './data-api-double';
import type { DriverName, TestDb } from './db';

export const testPassword = (role: string) => `test-password-${role}`;

/** Creates every registry role on the test server if missing (cluster-wide, once). */
export async function ensureRoles(): Promise<void> {
  const admin = process.env.DLC_PG_ADMIN_URL;
  if (!admin) throw new Error('DLC_PG_ADMIN_URL is not set: run integration tests through jest');
  const c = new Client({ connectionString: admin });
  await c.connect();
  try {
    await c.query('SELECT pg_advisory_lock(7305411012)');
    for (const r of DB_ROLES) {
      const { rowCount } = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [r.name]);
      if (!rowCount) await c.query(`CREATE ROLE ${r.name} LOGIN PASSWORD '${testPassword(r.name)}'`);
    }
  } finally {
    await c.query('SELECT pg_advisory_unlock(7305411012)').catch(() => undefined);
    await c.end();
  }
}

/** Reconciles the roles in this test database (as the master user) with the real step. */
export async function reconcileTestRoles(db: TestDb): Promise<RoleReconciled[]> {
  await ensureRoles();
  return reconcileRoles(db.direct, async () => null);
}

export function roleUrl(db: TestDb, role: string): string {
  const url = new URL(db.url);
  url.username = role;
  url.password = testPassword(role);
  return url.toString();
}

/** The database reached as `role` through `driver` (the Data API double logs in as the role too). */
export function roleSql(db: TestDb, role: DbRoleName, driver: DriverName): Sql & { double?: DataApiDouble } {
  const url = roleUrl(db, role);
  if (driver === 'pg') return new PgSql({ connectionString: url });
  const double = new DataApiDouble(url);
  const sql = new DataApiSql({
    client: double,
    resourceArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:test',
    secretArn: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${role}`,
    database: 'test',
    resumeBaseDelayMs: 1,
  });
  const close = sql.close.bind(sql);
  return Object.assign(sql, {
    double,
    close: async () => {
      await close();
      await double.close();
    },
  });
}
