/**
 * `npm start`: the main jobs on embedded defaults. Starts a private PostgreSQL 17 and Redis, runs
 * each demo step (local/demo-steps/) against them, prints what happened, and cleans up.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadMigrations, migrate } from '../lambdas/shared/migrate';
import { PgSql } from '../lambdas/shared/sql/pg-driver';
import { formatSeconds } from '../lambdas/shared/time';
import { getEnvironment } from '../lib/config';
import { analyticsStep } from './demo-steps/analytics';
import { archiveStep } from './demo-steps/archive';
import { retentionStep } from './demo-steps/retention';
import { servingStep } from './demo-steps/serving';
import { startPostgres, startRedis } from './services';

/** What every demo step gets: the private services, a scratch folder, a printer. */
export interface DemoContext {
  readonly sql: PgSql;
  readonly pgUrl: string;
  readonly redis: Redis;
  readonly redisUrl: string;
  /** A path in the demo's scratch folder (removed at the end). */
  file(name: string): string;
  /** The archive's time zone (seed 000: Europe/Madrid), for printed times. */
  readonly timeZone: string;
  say(line: string): void;
}

/** The steps, in order: a new one is a file in local/demo-steps/ and a line here. */
const STEPS: readonly { readonly title: string; readonly run: (ctx: DemoContext) => Promise<void> }[] = [
  { title: 'Archive: LangGraph checkpoints from Redis into PostgreSQL (seed 000)', run: archiveStep },
  { title: 'Analytics: a day of events across the DST change, the seven aggregations, late data (seed 001)', run: analyticsStep },
  { title: 'Analytics: dashboard, time series and an HTML report (seed 001 read side)', run: servingStep },
  { title: 'Retention: old rows to S3 cold storage (Parquet), verified, then deleted; DuckDB; restore', run: retentionStep },
];

export async function demo(): Promise<number> {
  console.log('Starting a private PostgreSQL 17 and Redis…');
  const pg = await startPostgres({ forceLocal: true });
  const redisServer = await startRedis({ forceLocal: true });
  const work = mkdtempSync(join(tmpdir(), 'dlc-demo-'));
  const sql = new PgSql({ connectionString: pg.url });
  const redis = new Redis(redisServer.url);
  const ctx: DemoContext = {
    sql,
    pgUrl: pg.url,
    redis,
    redisUrl: redisServer.url,
    file: (name) => join(work, name),
    timeZone: getEnvironment('dev').archive.schedule.timeZone,
    say: (line) => console.log(line),
  };
  try {
    const m = await migrate(sql, loadMigrations(join(__dirname, '..', 'sql')));
    console.log(`Migrations applied: ${m.applied.join(', ')}`);
    for (const step of STEPS) {
      const t0 = performance.now();
      console.log(`\n━━ ${step.title}\n`);
      await step.run(ctx);
      console.log(`\n(${step.title.split(':')[0]} step took ${formatSeconds(performance.now() - t0)})`);
    }
    return 0;
  } finally {
    redis.disconnect();
    await sql.close();
    await redisServer.stop();
    await pg.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
