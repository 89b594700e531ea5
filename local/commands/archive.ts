import type { Command } from 'commander';
import { archiveLocally, archiveSummary } from '../archive-run';
import { fail, output, positiveInt, positiveNumber, redisUrl, withDatabase } from './common';

interface Options {
  cutoffHours?: number;
  batchSize?: number;
  healthFile: string;
  ledgerFile: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('archive')
    .description('one archival run against DATABASE_URL and REDIS_URL (seed 000)')
    .option('--cutoff-hours <hours>', 'archive checkpoints older than this', positiveNumber)
    .option('--batch-size <n>', 'conversations per database round trip', positiveInt)
    .option('--health-file <path>', "seed 000's health record", '.local/archiver_health.json')
    .option('--ledger-file <path>', 'local run ledger', '.local/run-ledger.json')
    .option('--json', 'the health record and counters as JSON on stdout (the log goes to stderr)')
    .action((o: Options) => {
      const redis = redisUrl();
      return withDatabase(async (sql) => {
        const overrides = {
          ...(o.cutoffHours === undefined ? {} : { cutoffHours: o.cutoffHours }),
          ...(o.batchSize === undefined ? {} : { batchSize: o.batchSize }),
        };
        const { result, health } = await archiveLocally({
          sql,
          redisUrl: redis,
          ledgerFile: o.ledgerFile,
          healthFile: o.healthFile,
          overrides,
          quiet: o.json,
        });
        if (result.status === 'skipped') {
          output(o.json, { status: 'skipped', reason: result.reason }, () => console.log(`Skipped: ${result.reason}`));
          return;
        }
        if (result.status === 'failed') {
          // Human mode: the log's one ERROR line ("archive run failed: …") has said it; nothing more.
          if (o.json) output(true, { ...health, error: result.error, counters: result.run.counters }, () => undefined);
          fail();
          return;
        }
        output(o.json, { ...health, counters: result.run.counters }, () => {
          for (const line of archiveSummary(result.run, o)) console.log(line);
        });
        if (result.run.status !== 'healthy') fail();
      });
    });
}
