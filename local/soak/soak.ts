/**
 * The soak (issue 24, DESIGN invariant 10): the app, every job on its schedule, operator actions
 * and a nemesis, all at once against private PostgreSQL 17, Redis and S3 servers, on a virtual
 * clock; then the nemesis stops, every job catches up, and the checker holds what is stored against
 * the journal. Jepsen's shape: workload (app.ts, jobs.ts), nemesis (nemesis.ts), checker (checker.ts).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { AGGREGATIONS } from '../../lambdas/aggregate/registry';
import { connectRedis } from '../../lambdas/archive/redis-store';
import { openColdStore } from '../../lambdas/retention/cold-store';
import { FileRunLedger } from '../../lambdas/shared/ledger/file';
import { loadMigrations, migrate } from '../../lambdas/shared/migrate';
import { setProperty } from '../../lambdas/shared/properties';
import { PgSql } from '../../lambdas/shared/sql/pg-driver';
import { REPORT_TYPES } from '../../lib/config';
import { createDatabase } from '../services';
import { App, DEFAULT_ZONE, PROPERTY_ZONES, SEED_PREFIX } from './app';
import { type CheckerInput, type CheckResult, check } from './checker';
import { type ChildRun, runJobInChild } from './child-jobs';
import { Rng, VirtualClock } from './clock';
import { Jobs, RecordingLedger } from './jobs';
import { Journal, type JournalRun } from './journal';
import { type Fault, Nemesis } from './nemesis';
import { type SoakPostgres, type SoakRedis, type SoakS3, startSoakPostgres, startSoakRedis, startSoakS3 } from './procs';
import { SaverChild } from './saver-threads';

/** What the nemesis' `job-kill` kills: a job's process mid-run, or the app's LangGraph process (mid-turn). */
export const KILL_TARGETS = ['archive', 'retention', 'saver'] as const;
export type KillTarget = (typeof KILL_TARGETS)[number];

export interface SoakOptions {
  /** Real seconds of workload and nemesis (the catch-up and the check come after). */
  readonly seconds: number;
  readonly seed: number;
  /** Virtual hours per real second. @default 8 */
  readonly speed?: number;
  readonly journalFile?: string;
  /** Leave the three servers running and write where they are to this file. */
  readonly keepServicesFile?: string;
  /** @default true */
  readonly nemesis?: boolean;
  /** The nemesis chooses among these faults only. @default every fault (nemesis.ts FAULTS) */
  readonly faults?: readonly Fault[];
  /** What `job-kill` kills, in this order, round and round (a test's choice). @default a random pick of KILL_TARGETS each time */
  readonly killOrder?: readonly KillTarget[];
  /** The share of `app-clobber`s aimed at a full-saver thread's keys (a test's choice). @default 0.4 */
  readonly clobberSaverShare?: number;
  /** Progress lines. */
  readonly say?: (line: string) => void;
}

export interface SoakReport {
  readonly seed: number;
  readonly seconds: number;
  readonly speed: number;
  readonly virtualStart: string;
  readonly virtualEnd: string;
  readonly journal: Journal;
  readonly checks: CheckResult[];
  readonly passed: boolean;
  readonly catchUpMs: number;
  /** Jobs that could not finish their work after the nemesis stopped. */
  readonly catchUpProblems: string[];
  /**
   * What the checker was given (the journal, the ledger's records, the frozen instant, the servers'
   * addresses): with `keepServicesFile`, `check(report.checkerInput)` checks the kept servers again.
   */
  readonly checkerInput?: CheckerInput;
  /** With `keepServicesFile`: stops the kept servers and removes their data (for a caller in this process). */
  readonly stopServices?: () => Promise<void>;
}

export const VIRTUAL_START = new Date('2026-03-01T00:00:00.000Z');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` every `everyMs` (real) until `stop()` says so; the next tick waits for the previous one. */
function every(everyMs: () => number, stop: () => boolean, fn: () => Promise<unknown>): Promise<void> {
  return (async () => {
    while (!stop()) {
      await fn().catch(() => undefined);
      const until = Date.now() + everyMs();
      while (!stop() && Date.now() < until) await sleep(Math.min(100, until - Date.now()));
    }
  })();
}

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const say = o.say ?? (() => undefined);
  const speed = o.speed ?? 8;
  const journal = new Journal();
  const root = new Rng(o.seed);
  say(`Starting PostgreSQL 17, Redis and the S3 server (seed ${o.seed}, ${speed} virtual hours per second)…`);
  const started = await Promise.allSettled([startSoakPostgres(), startSoakRedis(), startSoakS3('cold')]);
  const failed = started.find((x) => x.status === 'rejected');
  if (failed) {
    for (const x of started) if (x.status === 'fulfilled') await x.value.stop();
    throw failed.reason;
  }
  const [pg, redisServer, s3Server] = started.map((x) => (x as PromiseFulfilledResult<unknown>).value) as [SoakPostgres, SoakRedis, SoakS3];
  const db = await createDatabase(pg.adminUrl, 'soak');
  const workDir = join(require('node:os').tmpdir(), `dlc-soak-${process.pid}-${Date.now().toString(36)}`);
  const ledger = new RecordingLedger(new FileRunLedger(join(workDir, 'run-ledger.json')));
  const jobsSql = new PgSql({ connectionString: db.url, maxConnections: 8 });
  const appSql = new PgSql({ connectionString: db.url, maxConnections: 2 });
  const appRedis = new Redis(redisServer.url, { maxRetriesPerRequest: 1, commandTimeout: 3_000, connectTimeout: 2_000 });
  appRedis.on('error', () => undefined);
  const jobsRedis = await connectRedis({ url: redisServer.url });
  jobsRedis.on('error', () => undefined);
  const s3Options = {
    endpoint: s3Server.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  };
  const store = openColdStore({ bucket: s3Server.bucket, ...s3Options });
  const reportsS3 = new S3Client({ ...s3Options, forcePathStyle: true, maxAttempts: 2 });
  let checks: CheckResult[] = [];
  let checkerInput: CheckerInput | undefined;
  let stopServices: (() => Promise<void>) | undefined;
  let catchUpMs = 0;
  const catchUpProblems: string[] = [];
  const clock = new VirtualClock(VIRTUAL_START, speed * 3_600);
  // The real LangGraph savers, in a process whose wall clock is this virtual clock; LangGraph loads
  // (a second or two) while the database is migrated.
  const savers = new SaverChild({
    redisUrl: redisServer.url,
    clock: { start: VIRTUAL_START.toISOString(), speed: clock.speed, realStart: clock.realStart },
  });
  const saversReady = savers.start();
  saversReady.catch(() => undefined);
  try {
    await migrate(jobsSql, loadMigrations(join(__dirname, '../../sql')));
    // Each property in its own zone, as an operator registers them (`npm run properties -- set`)
    for (const [propertyId, timeZone] of Object.entries(PROPERTY_ZONES))
      if (timeZone !== DEFAULT_ZONE) await setProperty(jobsSql, { propertyId, timeZone, defaultZone: DEFAULT_ZONE });
    const jobs = new Jobs({
      sql: jobsSql,
      redis: jobsRedis,
      store,
      ledger,
      clock,
      rng: root.fork('jobs'),
      journal,
      reports: { s3: reportsS3, bucket: s3Server.bucket },
    });
    const app = new App({
      redis: appRedis,
      sql: appSql,
      clock,
      rng: root.fork('app'),
      journal,
      timeZone: DEFAULT_ZONE,
      maxThreads: 400,
      savers,
      ...(o.clobberSaverShare !== undefined ? { clobberSaverShare: o.clobberSaverShare } : {}),
    });
    // A job's process killed at a random point of its run (in its own process), then started again.
    const childSpec = (job: 'archive' | 'retention') => ({
      job,
      databaseUrl: db.url,
      redisUrl: redisServer.url,
      s3Endpoint: s3Server.endpoint,
      bucket: s3Server.bucket,
      ledgerFile: ledger.file,
      clock: { start: VIRTUAL_START.toISOString(), speed: clock.speed, realStart: clock.realStart },
      seed: root.fork('child').int(2 ** 31),
      holder: 'killed child',
    });
    const absorb = (c: ChildRun) => {
      ledger.records.push(...c.records);
      let entry: JournalRun;
      if (c.run)
        entry = c.run; // it ended before the kill landed
      else if (c.killed)
        entry = {
          job: c.job,
          runId: c.runId ?? '',
          outcome: 'killed',
          ledgered: false,
          phase: 'soak',
          error: `SIGKILL ${c.killedAfterMs ?? '?'} ms into its run`,
          at: clock.now().toISOString(),
        };
      else
        entry = {
          job: c.job,
          runId: c.runId ?? '',
          outcome: 'failed',
          ledgered: false,
          phase: 'soak',
          error: `child exited ${c.exit}: ${c.stderr.slice(-200)}`,
        };
      journal.runs.push(entry);
      journal.op(`run.${c.job}.${entry.outcome}`);
    };
    // The archive or retention in a child process killed mid-run and started again, or the app's
    // LangGraph process killed (mid-turn when a turn is in flight: the app sends it again).
    const killRng = root.fork('job-kill');
    let kills = 0;
    const killJob = async (killAfterMs: number) => {
      const job = o.killOrder ? (o.killOrder[kills++ % o.killOrder.length] as KillTarget) : killRng.pick(KILL_TARGETS);
      if (job === 'saver') {
        // Once a turn is in flight (up to 3 s), a few ms into it: the graph has written some of its checkpoints.
        for (const giveUp = Date.now() + 3_000; savers.inFlight === 0 && Date.now() < giveUp; ) await sleep(2);
        await sleep(killAfterMs % 25);
        const how = savers.kill();
        journal.op(`job-kill.saver-${how}`);
        return `saver-${how}`;
      }
      // The scheduled job pauses while the child starts (a second or two), so the child's run has
      // work to do (hours of checkpoints, days of rows) and the kill lands mid-work.
      jobs.paused.add(job);
      try {
        const first = await runJobInChild(childSpec(job), killAfterMs);
        journal.op(first.run ? 'job-kill.run-ended-first' : 'job-kill.mid-run');
        absorb(first);
        absorb(await runJobInChild(childSpec(job)));
      } finally {
        jobs.paused.delete(job);
      }
      return job;
    };
    const nemesis = new Nemesis({
      killJob,
      ...(o.faults ? { faults: o.faults } : {}),
      pg,
      redis: redisServer,
      s3: s3Server,
      databaseUrl: db.url,
      app,
      jobs,
      rng: root.fork('nemesis'),
      journal,
    });
    // Every aggregation once at the start: their watermarks begin at the first hour, so every later
    // closed period is either aggregated on schedule or invalidated by a late event.
    await jobs.aggregations();
    await saversReady;

    const endAt = Date.now() + o.seconds * 1000;
    const over = () => Date.now() >= endAt;
    const sched = root.fork('schedule');
    say(`Running for ${o.seconds} s: the app, the jobs on their schedules${o.nemesis === false ? '' : ', the nemesis'}…`);
    const loops = [
      every(
        () => 20,
        over,
        () => app.step(),
      ),
      every(
        () => 1_000,
        over,
        async () => {
          if (jobs.paused.has('archive')) return;
          // Sometimes an operator starts a second archive from the CLI while the scheduled one runs
          // (the ledger's lease is 60 virtual s, a few real ms: the two usually overlap for real).
          const second = sched.chance(0.25) ? sleep(sched.int(300)).then(() => jobs.archive()) : undefined;
          await Promise.all([jobs.archive(), second]);
        },
      ),
      every(
        () => 1_500,
        over,
        async () => {
          // The reports run after the aggregations they read (as their schedules are placed).
          await jobs.aggregations();
          for (const type of REPORT_TYPES) await jobs.reports(type);
        },
      ),
      every(
        () => 1_000,
        over,
        () => jobs.watchdog(),
      ),
      every(
        () => 2_500,
        over,
        () => jobs.backfill(),
      ),
      every(
        () => 3_000,
        over,
        async () => {
          // Sometimes an operator starts a second retention from the CLI while the scheduled one runs.
          if (jobs.paused.has('retention')) return;
          const second = sched.chance(0.35) ? sleep(sched.int(300)).then(() => jobs.retention('cli')) : undefined;
          await Promise.all([jobs.retention('scheduled'), second]);
        },
      ),
      every(
        () => 2_000 + sched.int(3_000),
        over,
        async () => {
          const threads = [...new Set([...journal.messages.values()].map((m) => m.thread))];
          if (threads.length > 0 && sched.chance(0.35)) await jobs.restore(sched.pick(threads));
          else await jobs.restore();
        },
      ),
    ];
    if (o.nemesis !== false)
      loops.push(
        every(
          () => 1_500 + sched.int(3_000),
          over,
          () => nemesis.strike(),
        ),
      );
    await Promise.all(loops);

    // ---------------------------------------------------------------- catch-up
    say('Nemesis stopped. Catching up: the app finishes its writes, then every job runs until it has no work left…');
    const t0 = Date.now();
    await Promise.all([pg.up(), redisServer.up(), s3Server.up()]);
    jobs.phase = 'catch-up';
    jobs.tightDeadlines = 0;
    await app.drain();
    await savers.stop();
    clock.freeze();
    // A job that failed while the database was down may hold its lease until it expires (60 s here):
    // a job is given 150 s to finish its work; one that cannot is a catch-up problem (the checks still run).
    const until = async (job: string, run: () => Promise<JournalRun>, done: (r: JournalRun) => Promise<boolean> | boolean) => {
      const giveUp = Date.now() + 150_000;
      while (Date.now() < giveUp) {
        const r = await run();
        if ((r.outcome === 'healthy' || r.outcome === 'unhealthy') && (await done(r))) return;
        await sleep(r.outcome === 'busy' || r.outcome === 'skipped' ? 1_000 : 100);
      }
      catchUpProblems.push(`${job} still had work (or could not run) after 150 s of catch-up`);
    };
    const c = (r: JournalRun, k: string) => r.counters?.[k] ?? 0;
    await until(
      'archive',
      () => jobs.archive(),
      (r) => !r.workRemaining && c(r, 'checkpoints_changed') === 0 && c(r, 'conversations_failed') === 0,
    );
    await until(
      'backfill',
      () => jobs.backfill(),
      (r) => !r.workRemaining,
    );
    await until(
      'retention',
      () => jobs.retention('catch-up'),
      (r) => !r.workRemaining,
    );
    for (const a of AGGREGATIONS)
      await until(
        a.name,
        () => jobs.aggregate(a.name),
        async () => {
          const [n] = await jobsSql.query<{ n: number }>('SELECT count(*)::int AS n FROM agg_invalidations WHERE agg_table = $1::text', [
            a.table,
          ]);
          return (n?.n ?? 0) === 0;
        },
      );
    for (const type of REPORT_TYPES)
      await until(
        `reports-${type}`,
        () => jobs.reports(type),
        () => true,
      );
    // The watchdog's view once every job has caught up: check 5 wants every watched job fresh and none failing.
    await jobs.watchdog();
    catchUpMs = Date.now() - t0;

    say('Checking against the journal…');
    checkerInput = {
      databaseUrl: db.url,
      redisUrl: redisServer.url,
      s3Endpoint: s3Server.endpoint,
      bucket: s3Server.bucket,
      journal,
      ledgerRecords: ledger.records,
      now: clock.now(),
      cutoffHours: jobs.archiveSettings.cutoffHours,
      seedPrefix: SEED_PREFIX,
      propertyZones: PROPERTY_ZONES,
      ledgerFile: ledger.file,
      watchdog: { watched: jobs.watched, runs: jobs.watchdogRuns },
    };
    checks = await check(checkerInput);
  } finally {
    await savers.stop().catch(() => undefined);
    if (o.journalFile) journal.write(o.journalFile);
    await jobsSql.close().catch(() => undefined);
    await appSql.close().catch(() => undefined);
    appRedis.disconnect();
    jobsRedis.disconnect();
    reportsS3.destroy();
    const keep = o.keepServicesFile !== undefined;
    if (keep)
      writeFileSync(
        o.keepServicesFile as string,
        `${JSON.stringify(
          {
            database_url: db.url,
            redis_url: redisServer.url,
            s3_endpoint: s3Server.endpoint,
            bucket: s3Server.bucket,
            pids: [pg.pid(), redisServer.pid(), s3Server.pid()],
          },
          null,
          2,
        )}\n`,
      );
    else await db.stop().catch(() => undefined);
    await Promise.all([pg.stop(keep), redisServer.stop(keep), s3Server.stop(keep)]);
    if (keep)
      stopServices = async () => {
        await db.stop().catch(() => undefined);
        await Promise.all([pg.stop(), redisServer.stop(), s3Server.stop()]);
        rmSync(workDir, { recursive: true, force: true });
      };
    else rmSync(workDir, { recursive: true, force: true });
  }
  return {
    seed: o.seed,
    seconds: o.seconds,
    speed,
    virtualStart: VIRTUAL_START.toISOString(),
    virtualEnd: clock.now().toISOString(),
    journal,
    checks,
    passed: checks.length > 0 && checks.every((x) => x.pass) && catchUpProblems.length === 0,
    catchUpMs,
    catchUpProblems,
    ...(checkerInput ? { checkerInput } : {}),
    ...(stopServices ? { stopServices } : {}),
  };
}
