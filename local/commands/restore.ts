import { hostname } from 'node:os';
import type { Command } from 'commander';
import { checkRestoreInput, RestoreInputError, type RestoreResult, restore } from '../../lambdas/retention/restore';
import { memoryLog } from '../../lambdas/shared/observability';
import { getEnvironment } from '../../lib/config';
import { coldStoreFromEnv, restoreProgress } from '../retention-run';
import { output, positiveInt, UsageError, withDatabase } from './common';

interface Options {
  table: string;
  from: string;
  to: string;
  conversation?: string;
  holdDays?: number;
  json?: boolean;
}

function describe(r: RestoreResult): string {
  const parts = [
    `${r.table}: ${r.rowsInserted} row${r.rowsInserted === 1 ? '' : 's'} back in PostgreSQL from ${r.objects} object${r.objects === 1 ? '' : 's'}`,
  ];
  if (r.rowsPresent > 0) parts.push(`${r.rowsPresent} already there (kept in cold storage)`);
  if (r.objectsSuperseded > 0)
    parts.push(
      `${r.objectsSuperseded} object${r.objectsSuperseded === 1 ? '' : 's'} superseded (${r.objectsWritten} rewritten with the rows that stay cold)`,
    );
  return parts.join('; ');
}

export function register(program: Command): void {
  program
    .command('restore')
    .description(
      'move archived rows back from cold storage to PostgreSQL (verified against the manifest; each row is then in PostgreSQL only, held there --hold-days before retention may export it again)',
    )
    .requiredOption('--table <table>', 'table, e.g. messages (required)')
    .requiredOption('--from <time>', 'rows whose time is at or after this: 2025-01-31 (a UTC day) or 2025-01-31T10:00:00Z (required)')
    .requiredOption('--to <time>', 'and before this (required)')
    .option('--conversation <key>', 'only this conversation (conversation_key): messages, conversations or analytics_events')
    .option(
      '--hold-days <n>',
      'days the rows stay in PostgreSQL before retention may export them again (default: the environment setting)',
      positiveInt,
    )
    .option('--json', 'machine-readable output')
    .action(async (o: Options) => {
      const r = getEnvironment(process.env.ENV_NAME ?? 'dev').retention;
      const input = { table: o.table, from: o.from, to: o.to, conversation: o.conversation, holdDays: o.holdDays };
      try {
        checkRestoreInput(r.policies, input);
      } catch (e) {
        if (e instanceof RestoreInputError) throw new UsageError(e.message);
        throw e;
      }
      await withDatabase(async (sql) => {
        // Progress per object read on a terminal (stderr) in human mode; nothing when piped.
        const progress = o.json ? { store: coldStoreFromEnv(), done: () => undefined } : restoreProgress(coldStoreFromEnv(), o.table);
        const result = await restore(
          { sql, store: progress.store, log: memoryLog(), holder: `cli pid ${process.pid} on ${hostname()} (restore)` },
          r.policies,
          input,
          { holdDays: r.restoreHoldDays, rowGroupRows: r.rowGroupRows },
        ).finally(progress.done);
        output(o.json, result, () => {
          if (result.conversations)
            console.log(`conversations (first, as parents): ${describe(result.conversations).replace(/^conversations: /, '')}`);
          if (result.conversationsRemapped)
            console.log(
              `${result.conversationsRemapped} old conversation id(s) whose key is live again: their messages joined the live conversation`,
            );
          console.log(describe(result));
          if (result.heldUntil)
            console.log(`Held in PostgreSQL until ${result.heldUntil}; after that retention exports them again with their latest content.`);
          if (result.objects === 0) console.log(`Nothing in cold storage for ${o.table} in [${o.from}, ${o.to}).`);
        });
      });
    });
}
