import type { Command } from 'commander';
import { restore } from '../../lambdas/retention/restore';
import { memoryLog } from '../../lambdas/shared/observability';
import { getEnvironment } from '../../lib/config';
import { coldStoreFromEnv } from '../retention-run';
import { output, UsageError, withDatabase } from './common';

interface Options {
  table: string;
  from: string;
  to: string;
  conversation?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('restore')
    .description('re-insert archived rows from cold storage (verified against the manifest; idempotent)')
    .requiredOption('--table <table>', 'table, e.g. messages')
    .requiredOption('--from <time>', 'rows whose time is at or after this (ISO date or timestamp)')
    .requiredOption('--to <time>', 'and before this')
    .option('--conversation <key>', 'only this conversation (conversation_key)')
    .option('--json', 'machine-readable output')
    .action((o: Options) =>
      withDatabase(async (sql) => {
        const policies = getEnvironment(process.env.ENV_NAME ?? 'dev').retention.policies;
        if (!policies.some((p) => p.table === o.table))
          throw new UsageError(`--table: no retention policy for "${o.table}" (known: ${policies.map((p) => p.table).join(', ')})`);
        for (const [name, v] of [
          ['--from', o.from],
          ['--to', o.to],
        ] as const)
          if (Number.isNaN(Date.parse(v)))
            throw new UsageError(`${name} "${v}" is not a date or timestamp (e.g. 2025-01-31 or 2025-01-31T10:00:00Z)`);
        const result = await restore({ sql, store: coldStoreFromEnv(), log: memoryLog() }, policies, {
          table: o.table,
          from: o.from,
          to: o.to,
          conversation: o.conversation,
        });
        output(o.json, result, () => {
          if (result.conversations)
            console.log(`conversations: ${result.conversations.rowsInserted} restored first (${result.conversations.objects} objects)`);
          console.log(
            `${result.table}: ${result.rowsInserted} rows restored from ${result.objects} objects; ${result.rowsPresent} not inserted (already present or outside the range)`,
          );
        });
      }),
    );
}
