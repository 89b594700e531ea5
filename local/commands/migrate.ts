import { join } from 'node:path';
import type { Command } from 'commander';
import { loadMigrations, migrate } from '../../lambdas/shared/migrate';
import { output, withDatabase } from './common';

export const MIGRATIONS_DIR = join(__dirname, '..', '..', 'sql');

export function register(program: Command): void {
  program
    .command('migrate')
    .description('apply pending migrations in sql/ to DATABASE_URL')
    .option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) =>
      withDatabase(async (sql) => {
        const res = await migrate(sql, loadMigrations(MIGRATIONS_DIR), o.json ? undefined : (m) => console.log(m));
        output(o.json, res, () => console.log(`${res.applied.length} applied, ${res.alreadyApplied.length} already applied`));
      }),
    );
}
