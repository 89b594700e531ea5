import type { Command } from 'commander';
import { SearchError, searchMessages } from '../../lambdas/backfill/search';
import { isoTime, output, positiveInt, UsageError, withDatabase } from './common';

interface Options {
  query?: string;
  conversation?: string;
  customer?: string;
  from?: string;
  to?: string;
  limit: number;
  json?: boolean;
}

/** The search text: the words after the options, or `--query` (a text starting with `-` is not an option there). */
export function searchText(words: readonly string[], o: { query?: string }): string {
  if (o.query !== undefined && words.length > 0) throw new UsageError('Give the search text as words or as --query, not both');
  const text = o.query ?? words.join(' ');
  if (!text.trim())
    throw new UsageError(
      'No search text: dlc search hotel "late checkout" (a text starting with "-": dlc search -- -spam, or --query "-spam")',
    );
  return text;
}

export function register(program: Command): void {
  program
    .command('search')
    .description('full-text search over messages (web syntax: "phrases", OR, -exclude)')
    .argument('[query...]', 'the search text (one starting with "-" goes after --, or in --query)')
    .option('--query <text>', 'the search text, when it starts with "-" (e.g. --query "-spam")')
    .option('--conversation <id>', 'only this conversation')
    .option('--customer <id>', 'only this customer')
    .option('--from <iso>', 'messages at or after this time (2025-01-31 or 2025-01-31T10:00:00Z)', isoTime)
    .option('--to <iso>', 'messages before this time', isoTime)
    .option('--limit <n>', 'results (at most 500)', positiveInt, 20)
    .option('--json', 'machine-readable output')
    .showHelpAfterError('(a search text starting with "-" goes after --: dlc search -- -spam; or --query "-spam". Add --help for usage)')
    .addHelpText(
      'after',
      '\nA search text starting with "-" would be read as an option: put it after --\n' +
        '  dlc search -- -spam "late checkout"      (npm run search -- -- -spam)\n' +
        'or give it as --query:\n' +
        '  dlc search --query "-spam late checkout"',
    )
    .action((words: string[], o: Options) => {
      const text = searchText(words, o);
      if (o.limit > 500) throw new UsageError(`--limit ${o.limit}: at most 500 results`);
      return withDatabase(async (sql) => {
        const t0 = performance.now();
        let hits: Awaited<ReturnType<typeof searchMessages>>;
        try {
          hits = await searchMessages(sql, {
            text,
            conversationId: o.conversation,
            customerId: o.customer,
            from: o.from,
            to: o.to,
            limit: o.limit,
          });
        } catch (e) {
          // The query's own checks (empty, too long, --limit over 500) are bad usage.
          if (e instanceof SearchError) throw new UsageError(e.message);
          throw e;
        }
        output(o.json, hits, () => {
          console.log(`${hits.length} result(s) in ${(performance.now() - t0).toFixed(1)} ms\n`);
          for (const h of hits) {
            console.log(`${h.rank.toFixed(3)}  ${h.createdAt}  ${h.conversationId}${h.customerId ? ` (${h.customerId})` : ''}  ${h.role}`);
            console.log(`       ${h.snippet.replace(/\s+/g, ' ')}\n`);
          }
        });
      });
    });
}
