/** One archival run from the command line, as seed 000's worker does (`npm run archive`). */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type ArchiveOutcome, type ArchiveSettings, healthRecord, JOB, runArchive } from '../lambdas/archive/archive';
import { CheckpointStore, connectRedis, type RedisClient } from '../lambdas/archive/redis-store';
import { FileRunLedger } from '../lambdas/shared/ledger/file';
import type { RunRecord } from '../lambdas/shared/ledger/types';
import { type Log, memoryLog, memoryMetrics } from '../lambdas/shared/observability';
import { deadline, JobFailed, type RunResult } from '../lambdas/shared/runtime';
import type { Sql } from '../lambdas/shared/sql/types';
import { formatInZone, formatSeconds } from '../lambdas/shared/time';
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

/**
 * Prints log lines stamped in the job's time zone (seed 000: Europe/Madrid for every timestamp).
 * A line's `error` (structured in CloudWatch) is part of the printed line: "archive run failed" says why.
 */
export function linePrinter(timeZone: string, allToStderr = false) {
  return (line: { level: string; message: string; extra?: Record<string, unknown> }): void => {
    const out = allToStderr || line.level === 'error' || line.level === 'warn' ? console.error : console.log;
    const error = typeof line.extra?.error === 'string' && !line.message.includes(line.extra.error) ? `: ${line.extra.error}` : '';
    out(`${formatInZone(new Date(), timeZone)} ${line.level.toUpperCase().padEnd(5)} ${line.message}${error}`);
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

/** A run that failed part-way (a database outage, Redis gone): recorded in the ledger as unhealthy, said once in the log. */
export interface FailedRun {
  readonly status: 'failed';
  readonly run: RunRecord;
  readonly error: string;
}

export async function archiveLocally(o: LocalArchiveOptions): Promise<{
  result: RunResult<ArchiveOutcome> | FailedRun;
  health: ReturnType<typeof healthRecord> | undefined;
  metrics: Record<string, number>;
}> {
  const env = getEnvironment(process.env.ENV_NAME ?? 'dev');
  const settings: ArchiveSettings = { ...env.archive, timeZone: env.archive.schedule.timeZone, ...o.overrides };
  const store = new CheckpointStore(await connectRedisOrExplain(o.redisUrl), settings.scanCount);
  const metrics = memoryMetrics();
  const ledger = new FileRunLedger(o.ledgerFile);
  const runId = randomUUID();
  const writeHealth = (run: RunRecord) => {
    const health = healthRecord(run);
    mkdirSync(dirname(o.healthFile), { recursive: true });
    writeFileSync(o.healthFile, `${JSON.stringify(health, null, 2)}\n`);
    return health;
  };
  try {
    const result = await runArchive(
      {
        sql: o.sql,
        store,
        log: o.log ?? memoryLog(linePrinter(settings.timeZone, o.quiet)),
        metrics,
        ledger,
        leaseMs: (env.archive.timeoutMinutes + 5) * 60_000,
        deadline: deadline({ budgetMs: env.archive.timeoutMinutes * 60_000 }),
        runId,
      },
      settings,
    );
    if (result.status === 'completed') return { result, health: writeHealth(result.run), metrics: metrics.values };
    return { result, health: undefined, metrics: metrics.values };
  } catch (err) {
    // The failed run is in the ledger (runExclusive recorded it): seed 000's health file says so too.
    const run = err instanceof JobFailed ? await ledger.lastRun(JOB) : undefined;
    if (run?.runId !== runId) throw err;
    return { result: { status: 'failed', run, error: (err as Error).message }, health: writeHealth(run), metrics: metrics.values };
  } finally {
    await store.quit();
  }
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The operator's summary of a finished archival run (human mode; `--json` prints the health record and counters). */
export function archiveSummary(run: RunRecord, files: { healthFile: string; ledgerFile: string }): string[] {
  const c = (k: string) => run.counters[k] ?? 0;
  const lines = [
    `Archived ${c('checkpoints_archived')} of ${plural(c('checkpoints_expired'), 'expired checkpoint')}: ` +
      `${plural(c('messages_archived'), 'message')} written, ${c('messages_updated')} updated ` +
      `(run ${run.status}, ${formatSeconds(run.durationMs)}, ${plural(run.errors, 'error')}).`,
  ];
  const stayed = [
    [c('checkpoints_fresh'), 'fresh (not old enough yet)'],
    [c('checkpoints_malformed'), 'malformed (a copy in checkpoint_quarantine)'],
    [c('checkpoints_blocked'), 'blocked (part of the thread unreadable: quarantined)'],
    [c('checkpoints_changed'), 'changed during the run (the next run takes them)'],
    [c('checkpoints_without_age'), 'without a time or TTL'],
    [c('conversations_failed'), 'whose conversation could not be written (see the log)'],
  ].filter(([n]) => (n as number) > 0);
  if (stayed.length) lines.push(`  Left in Redis: ${stayed.map(([n, what]) => `${n} ${what}`).join(', ')}.`);
  const skipped = [
    [c('messages_invalid'), 'invalid message(s) skipped (kept with their checkpoint in quarantine)'],
    [c('messages_id_conflicts'), 'message id conflict(s) (the newer version kept)'],
    [
      c('checkpoints_superseded_incomplete'),
      'checkpoint(s) whose messages blob was absent but superseded (archived from the later one, a copy in quarantine)',
    ],
    [c('keys_orphaned'), 'orphaned companion key(s) without a checkpoint (left)'],
    [c('quarantine_failed'), 'quarantine write(s) that failed (see the log)'],
  ].filter(([n]) => (n as number) > 0);
  if (skipped.length) lines.push(`  Also: ${skipped.map(([n, what]) => `${n} ${what}`).join(', ')}.`);
  if (run.workRemaining) lines.push('  Work remains: the next run takes the rest.');
  lines.push(`  Health record: ${files.healthFile}; run ledger: ${files.ledgerFile}.`);
  return lines;
}
