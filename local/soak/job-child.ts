/**
 * One job run in its own process, for the nemesis' "a job's process killed at a random point and
 * started again" (local/soak/child-jobs.ts starts it, and may SIGKILL it). It builds the same
 * dependencies as the soak's in-process jobs (local/soak/jobs.ts) against the soak's servers and
 * run-ledger file, with a VirtualClock from the soak's start, speed and realStart, so both read the
 * same virtual time. It says on stdout, one JSON object a line: `{"start":{job,runId}}` when the run
 * begins, `{"record":…}` once its ledger record is written, `{"run":…}` (the journal entry) at the end.
 *
 *   tsx local/soak/job-child.ts '<ChildSpec as JSON>'
 */
import { connectRedis } from '../../lambdas/archive/redis-store';
import { openColdStore } from '../../lambdas/retention/cold-store';
import { FileRunLedger } from '../../lambdas/shared/ledger/file';
import { PgSql } from '../../lambdas/shared/sql/pg-driver';
import { Rng, VirtualClock } from './clock';
import { Jobs, RecordingLedger } from './jobs';
import { Journal } from './journal';

/** What the child needs to run a job as the soak would. */
export interface ChildSpec {
  readonly job: 'archive' | 'retention';
  readonly databaseUrl: string;
  readonly redisUrl: string;
  readonly s3Endpoint: string;
  readonly bucket: string;
  readonly ledgerFile: string;
  /** The soak's VirtualClock: start (ISO), speed (virtual ms per real ms), realStart (wall-clock ms). */
  readonly clock: { readonly start: string; readonly speed: number; readonly realStart: number };
  readonly seed: number;
  /** Who runs it (retention's lease holder). */
  readonly holder: string;
}

const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

async function main(spec: ChildSpec): Promise<void> {
  const clock = new VirtualClock(new Date(spec.clock.start), spec.clock.speed, spec.clock.realStart);
  const sql = new PgSql({ connectionString: spec.databaseUrl, maxConnections: 4 });
  const redis = await connectRedis({ url: spec.redisUrl });
  redis.on('error', () => undefined);
  const s3Options = { endpoint: spec.s3Endpoint, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } };
  const store = openColdStore({ bucket: spec.bucket, ...s3Options });
  const { S3Client } = await import('@aws-sdk/client-s3');
  const reportsS3 = new S3Client({ ...s3Options, forcePathStyle: true });
  const journal = new Journal();
  const jobs = new Jobs({
    sql,
    redis,
    store,
    ledger: new RecordingLedger(new FileRunLedger(spec.ledgerFile), (record) => say({ record })),
    clock,
    rng: new Rng(spec.seed),
    journal,
    reports: { s3: reportsS3, bucket: spec.bucket },
    onStart: (job, runId) => say({ start: { job, runId } }),
  });
  jobs.phase = 'soak';
  try {
    const run = spec.job === 'archive' ? await jobs.archive() : await jobs.retention(spec.holder);
    say({ run });
  } finally {
    await sql.close().catch(() => undefined);
    redis.disconnect();
    reportsS3.destroy();
  }
}

if (require.main === module) {
  main(JSON.parse(process.argv[2] ?? '{}') as ChildSpec).then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(`${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
