/**
 * The nemesis: faults at random moments (seeded choices) while the app and the jobs run —
 * PostgreSQL killed (-9) and restarted on its data, backends terminated, Redis killed and restarted
 * (its AOF keeps what was acknowledged), the S3 server stopped and started, jobs' deadlines hit
 * mid-work, the app deleting or retyping checkpoint keys mid-run, a job's process killed (SIGKILL)
 * at a random point of its run and started again.
 */
import { Client } from 'pg';
import type { App } from './app';
import type { Rng } from './clock';
import type { Jobs } from './jobs';
import type { Journal } from './journal';
import type { SoakPostgres, SoakRedis, SoakS3 } from './procs';

export const FAULTS = ['pg-kill', 'pg-terminate-backends', 'redis-restart', 's3-restart', 'deadline', 'app-clobber', 'job-kill'] as const;
export type Fault = (typeof FAULTS)[number];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Nemesis {
  constructor(
    private readonly deps: {
      pg: SoakPostgres;
      redis: SoakRedis;
      s3: SoakS3;
      databaseUrl: string;
      app: App;
      jobs: Jobs;
      rng: Rng;
      journal: Journal;
      /** Runs a job in its own process, SIGKILLs it after `killAfterMs` of its run, and starts it again; says which job. */
      killJob: (killAfterMs: number) => Promise<string>;
      /** The faults to choose from. @default FAULTS */
      faults?: readonly Fault[];
    },
  ) {}

  /** One fault, recovered from before it returns (the process comes back; the data stays). */
  async strike(): Promise<Fault> {
    const { rng, journal } = this.deps;
    const fault = rng.pick(this.deps.faults ?? FAULTS);
    const outage = 200 + rng.int(1500);
    journal.fault(fault);
    switch (fault) {
      case 'pg-kill':
        await this.deps.pg.down(true);
        await sleep(outage);
        await this.deps.pg.up();
        break;
      case 'pg-terminate-backends':
        await this.terminateBackends();
        break;
      case 'redis-restart':
        await this.deps.redis.down(true);
        await sleep(outage);
        await this.deps.redis.up();
        break;
      case 's3-restart':
        await this.deps.s3.down(rng.chance(0.5));
        await sleep(outage);
        await this.deps.s3.up();
        break;
      case 'deadline':
        this.deps.jobs.tightDeadlines += 1 + rng.int(3);
        break;
      case 'job-kill':
        journal.fault(`job-kill:${await this.deps.killJob(rng.int(150)).catch((e) => `failed (${(e as Error).message})`)}`);
        break;
      case 'app-clobber':
        journal.fault(`app-clobber:${await this.deps.app.clobber(outage).catch(() => 'failed')}`);
        break;
    }
    return fault;
  }

  private async terminateBackends(): Promise<void> {
    const c = new Client({ connectionString: this.deps.databaseUrl });
    try {
      await c.connect();
      const r = await c.query(
        'SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      );
      this.deps.journal.op('backends.terminated', (r.rows[0] as { n: number }).n);
    } catch {
      // the database is down already
    } finally {
      await c.end().catch(() => undefined);
    }
  }
}
