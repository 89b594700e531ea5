import type { Command } from 'commander';
import { restore } from '../../lambdas/retention/restore';
import { memoryLog } from '../../lambdas/shared/observability';
import { getEnvironment } from '../../lib/config';
import { coldStoreFromEnv } from '../retention-run';
import { output, withDatabase } from './common';

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
