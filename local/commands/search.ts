import type { Command } from 'commander';
import { searchMessages } from '../../lambdas/backfill/search';
import { output, positiveInt, withDatabase } from './common';

interface Options {
  conversation?: string;
  customer?: string;
  from?: string;
  to?: string;
  limit: number;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('search')
    .description('full-text search over messages (web syntax: "phrases", OR, -exclude)')
    .argument('<query...>', 'the search text')
    .option('--conversation <id>', 'only this conversation')
    .option('--customer <id>', 'only this customer')
    .option('--from <iso>', 'messages at or after this time')
    .option('--to <iso>', 'messages before this time')
    .option('--limit <n>', 'results', positiveInt, 20)
    .option('--json', 'machine-readable output')
    .action((query: string[], o: Options) =>
      withDatabase(async (sql) => {
        const t0 = performance.now();
        const hits = await searchMessages(sql, {
          text: query.join(' '),
          conversationId: o.conversation,
          customerId: o.customer,
          from: o.from,
          to: o.to,
          limit: o.limit,
        });
        output(o.json, hits, () => {
          console.log(`${hits.length} result(s) in ${(performance.now() - t0).toFixed(1)} ms\n`);
          for (const h of hits) {
            console.log(`${h.rank.toFixed(3)}  ${h.createdAt}  ${h.conversationId}${h.customerId ? ` (${h.customerId})` : ''}  ${h.role}`);
            console.log(`       ${h.snippet.replace(/\s+/g, ' ')}\n`);
          }
        });
      }),
    );
}
