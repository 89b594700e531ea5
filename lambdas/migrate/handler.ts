/**
 * Deploy-time migrations: called by a CloudFormation custom resource (CDK Provider) whenever the
 * checksum of `sql/` or of the role registry changes. Create/Update apply pending migrations, then
 * reconcile the database roles (lambdas/shared/db-roles.ts) with the passwords of their secrets;
 * Delete does nothing (dropping a schema is never a side effect of a deploy).
 * The only function that connects as the master user.
 */
import { join } from 'node:path';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { ConfigError } from '../../lib/config';
import { reconcileRoles } from '../shared/db-role-reconcile';
import { createSql, loadRuntimeConfig } from '../shared/deps';
import { loadMigrations, migrate } from '../shared/migrate';
import { powertools } from '../shared/observability';
import { readDatabaseSecret } from '../shared/secrets';

const config = loadRuntimeConfig();
const { log } = powertools('migrate');
const sql = createSql(config.sql);
const migrationsDir = process.env.MIGRATIONS_DIR ?? join(__dirname, 'sql');
/** Role name → the ARN of its secret (set by the CDK from the same registry). */
const roleSecrets = parseRoleSecrets(process.env.DB_ROLE_SECRETS);
const region = process.env.AWS_REGION ?? '';

function parseRoleSecrets(text: string | undefined): Record<string, string> {
  try {
    const parsed = JSON.parse(text ?? '') as unknown;
    if (parsed && typeof parsed === 'object' && Object.values(parsed).every((v) => typeof v === 'string' && v.startsWith('arn:')))
      return parsed as Record<string, string>;
  } catch {}
  throw new ConfigError('DB_ROLE_SECRETS must be a JSON object of role name → secret ARN');
}

export async function handler(
  event: CloudFormationCustomResourceEvent,
): Promise<{ PhysicalResourceId: string; Data?: Record<string, string> }> {
  const physicalId = 'schema-migrations';
  if (event.RequestType === 'Delete') return { PhysicalResourceId: physicalId };
  const migrations = loadMigrations(migrationsDir);
  const result = await migrate(sql, migrations, (m) => log.info(m));
  log.info('Migrations done', { applied: result.applied, alreadyApplied: result.alreadyApplied.length });
  const roles = await reconcileRoles(
    sql,
    async (role) => {
      const arn = roleSecrets[role.name];
      if (!arn) throw new ConfigError(`No secret for database role ${role.name} in DB_ROLE_SECRETS`);
      const secret = await readDatabaseSecret(arn, { region });
      if (secret.username !== role.name) throw new ConfigError(`Secret ${arn} is for user ${secret.username}, not ${role.name}`);
      return secret.password;
    },
    { log: (m) => log.warn(m) },
  );
  log.info('Database roles reconciled', { roles: roles.map((r) => r.role), skipped: roles.filter((r) => r.skipped.length > 0) });
  return { PhysicalResourceId: physicalId, Data: { applied: String(result.applied.length), latest: migrations.at(-1)?.name ?? '' } };
}
