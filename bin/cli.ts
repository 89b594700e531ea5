#!/usr/bin/env -S npx tsx
/**
 * Operator CLI. Local commands run the same job functions as the Lambdas, against
 * DATABASE_URL / REDIS_URL (see README "Operate").
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadMigrations, migrate } from '../lambdas/shared/migrate';
import { PgSql } from '../lambdas/shared/sql/pg-driver';

const MIGRATIONS_DIR = join(__dirname, '..', 'sql');

type Command = (argv: string[]) => Promise<number>;

function requireEnv(name: string): string {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} is not set. Example: ${name}=postgres://user:pass@localhost:5432/db npm run migrate`);
    process.exit(2);
  }
  return v;
}

const commands: Record<string, { help: string; run: Command }> = {
  migrate: {
    help: 'apply pending migrations in sql/ to DATABASE_URL',
    run: async () => {
      const sql = new PgSql({ connectionString: requireEnv('DATABASE_URL') });
      try {
        const res = await migrate(sql, loadMigrations(MIGRATIONS_DIR), (m) => console.log(m));
        console.log(`${res.applied.length} applied, ${res.alreadyApplied.length} already applied`);
        return 0;
      } finally {
        await sql.close();
      }
    },
  },
};

export function registerCommand(name: string, help: string, run: Command): void {
  commands[name] = { help, run };
}

async function main(): Promise<number> {
  const [name, ...rest] = process.argv.slice(2);
  const cmd = name ? commands[name] : undefined;
  if (!cmd) {
    if (name && name !== 'help' && name !== '--help') console.error(`Unknown command "${name}".\n`);
    console.log('Usage: npx tsx bin/cli.ts <command> [options]\n');
    for (const [n, c] of Object.entries(commands)) console.log(`  ${n.padEnd(10)} ${c.help}`);
    return name && name !== 'help' && name !== '--help' ? 2 : 0;
  }
  return cmd.run(rest);
}

export { parseArgs };

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
