/** One archival run from the command line, as seed 000's worker does (`npm run archive`). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type ArchiveSettings, healthRecord, runArchive } from '../lambdas/archive/archive';
import { CheckpointStore, connectRedis, type RedisClient } from '../lambdas/archive/redis-store';
import { FileRunLedger } from '../lambdas/shared/ledger/file';
import { type Log, memoryLog, memoryMetrics } from '../lambdas/shared/observability';
import { deadline } from '../lambdas/shared/runtime';
import type { Sql } from '../lambdas/shared/sql/types';
import { formatInZone } from '../lambdas/shared/time';
import { getEnvironment } from '../lib/config';
import { whereIs } from './commands/common';

export interface LocalArchiveOptions {
  readonly sql: Sql;
  readonly redisUrl: string;
  readonly ledgerFile: string;
  /** Seed 000's health file (`/tmp/archiver_health.json` in the original). */
  readonly healthFile: string;
  readonly overrides?: Partial<ArchiveSettings>;
  readonly log?: Log;
  /** Log lines to stderr only (the CLI's `--json` keeps stdout for the result). */
  readonly quiet?: boolean;
}

/** Prints log lines stamped in the job's time zone (seed 000: Europe/Madrid for every timestamp). */
export function linePrinter(timeZone: string, allToStderr = false) {
  return (line: { level: string; message: string }): void => {
    const out = allToStderr || line.level === 'error' || line.level === 'warn' ? console.error : console.log;
    out(`${formatInZone(new Date(), timeZone)} ${line.level.toUpperCase().padEnd(5)} ${line.message}`);
  };
}

/** Redis could not be reached: one line naming REDIS_URL (exit 1), instead of ioredis' retries and stack traces. */
export class RedisUnreachableError extends Error {
  override readonly name = 'RedisUnreachableError';
}

/** A client that answered PING. Its connection errors are kept, not printed: a failed command reports them. */
export async function connectRedisOrExplain(url: string): Promise<RedisClient> {
  const client = await connectRedis({ url });
  let last: Error | undefined;
  client.on('error', (e: Error) => {
    last = e;
  });
  try {
    await client.ping();
  } catch (e) {
    client.disconnect();
    throw new RedisUnreachableError(`Cannot reach Redis at REDIS_URL (${whereIs(url)}): ${(last ?? (e as Error)).message}`);
  }
  return client;
}

export async function archiveLocally(o: LocalArchiveOptions) {
  const env = getEnvironment(process.env.ENV_NAME ?? 'dev');
  const settings: ArchiveSettings = { ...env.archive, timeZone: env.archive.schedule.timeZone, ...o.overrides };
  const store = new CheckpointStore(await connectRedisOrExplain(o.redisUrl), settings.scanCount);
  const metrics = memoryMetrics();
  try {
    const result = await runArchive(
      {
        sql: o.sql,
        store,
        log: o.log ?? memoryLog(linePrinter(settings.timeZone, o.quiet)),
        metrics,
        ledger: new FileRunLedger(o.ledgerFile),
        leaseMs: (env.archive.timeoutMinutes + 5) * 60_000,
        deadline: deadline({ budgetMs: env.archive.timeoutMinutes * 60_000 }),
      },
      settings,
    );
    if (result.status === 'completed') {
      const health = healthRecord(result.run);
      mkdirSync(dirname(o.healthFile), { recursive: true });
      writeFileSync(o.healthFile, `${JSON.stringify(health, null, 2)}\n`);
      return { result, health, metrics: metrics.values };
    }
    return { result, health: undefined, metrics: metrics.values };
  } finally {
    await store.quit();
  }
}
