/**
 * Deploy-time migrations: called by a CloudFormation custom resource (CDK Provider) whenever the
 * checksum of `sql/` changes. Create/Update apply pending migrations; Delete does nothing
 * (dropping a schema is never a side effect of a deploy).
 */
import { join } from 'node:path';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { createSql, loadRuntimeConfig } from '../shared/deps';
import { loadMigrations, migrate } from '../shared/migrate';
import { powertools } from '../shared/observability';

const config = loadRuntimeConfig();
const { log } = powertools('migrate');
const sql = createSql(config.sql);
const migrationsDir = process.env.MIGRATIONS_DIR ?? join(__dirname, 'sql');

export async function handler(
  event: CloudFormationCustomResourceEvent,
): Promise<{ PhysicalResourceId: string; Data?: Record<string, string> }> {
  const physicalId = 'schema-migrations';
  if (event.RequestType === 'Delete') return { PhysicalResourceId: physicalId };
  const migrations = loadMigrations(migrationsDir);
  const result = await migrate(sql, migrations, (m) => log.info(m));
  log.info('Migrations done', { applied: result.applied, alreadyApplied: result.alreadyApplied.length });
  return { PhysicalResourceId: physicalId, Data: { applied: String(result.applied.length), latest: migrations.at(-1)?.name ?? '' } };
}
