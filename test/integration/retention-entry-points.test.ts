/**
 * Two retention runs started at once through two different entry points, each with its own run
 * ledger: the Lambda handler as deployed (DynamoDB ledger, on dynalite) and the operator's CLI in its
 * own process (a file ledger). The database lease they share lets one export; the other waits for the
 * object in flight, then stops with the holder named; nothing is written twice.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { Client } from 'pg';
import { type Running, startDynamo } from '../../local/services';
import { type TestDb, testDb } from '../support/db';
import { createLedgerTable } from '../support/dynamo-ledger';
import { BUCKET, s3, waitForLockWait } from '../support/retention-harness';

const ROOT = join(__dirname, '..', '..');
const _sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'bin/cli.ts'), ...args], {
      cwd: ROOT,
      env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('retention from two entry points at once (Lambda handler + CLI)', () => {
  let db: TestDb;
  let store: Awaited<ReturnType<typeof s3>>;
  let dynamo: Running;
  const saved = { ...process.env };
  beforeAll(async () => {
    dynamo = await startDynamo();
  });
  afterAll(() => dynamo.stop());
  beforeEach(async () => {
    db = await testDb('pg');
    store = await s3();
  });
  afterEach(async () => {
    process.env = { ...saved };
    await store.stop();
    await db.close();
  });

  it('one exports, the other waits for the object in flight and stops naming the holder; object count and manifest unchanged by it', async () => {
    await db.direct.execute(`INSERT INTO conversations (id, conversation_key, source, started_at, last_message_at)
      VALUES ('00000000-0000-0000-0000-0000000000e1', 'two-entry-points', 'live', '2025-01-03', '2025-01-03 12:00+00')`);
    await db.direct.execute(`INSERT INTO messages (conversation_id, message_key, role, content, created_at, source)
      SELECT '00000000-0000-0000-0000-0000000000e1', 'k' || i, 'user', 'text ' || i, '2025-01-03 10:00+00'::timestamptz + (i || ' minutes')::interval, 'live'
        FROM generate_series(1, 12) i`);
    const { tableName: table } = await createLedgerTable(dynamo.url);
    const aws = {
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      COLD_BUCKET: BUCKET,
      S3_ENDPOINT: store.url,
    };
    // The Lambda's environment as the template gives it, with local endpoints.
    Object.assign(process.env, aws, {
      ENV_NAME: 'dev',
      DB_DRIVER: 'pg',
      DATABASE_URL: db.url,
      LEDGER_TABLE: table,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.url,
    });

    // A writer holds one of the rows: the Lambda's first object waits at its delete, under the lease.
    const blocker = new Client({ connectionString: db.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query(`SELECT 1 FROM messages WHERE message_key = 'k1' FOR UPDATE`);
    // Loaded now: the handler reads its environment once, at cold start.
    const { handler } = jest.requireActual<typeof import('../../lambdas/retention/handler')>('../../lambdas/retention/handler');
    const context = { awsRequestId: 'req-1', functionName: 'dlc-dev-retention', getRemainingTimeInMillis: () => 900_000 } as Context;
    const lambda = handler({ tables: ['messages'] }, context);
    await waitForLockWait(db, '%DELETE FROM "messages"%');

    const ledgerFile = join(mkdtempSync(join(tmpdir(), 'dlc-cli-ledger-')), 'ledger.json');
    const env = { ...saved, ...aws, DATABASE_URL: db.url, ENV_NAME: 'dev' };
    const second = cli(['retention', '--table', 'messages', '--ledger-file', ledgerFile], env);
    await waitForLockWait(db, '%INSERT INTO job_leases%'); // the CLI waits for the object in flight
    await blocker.query('COMMIT');
    await blocker.end();

    const [first, other] = await Promise.all([lambda, second]);
    expect(first).toMatchObject({ status: 'healthy', counters: { rows_deleted: 12 } });
    expect(other.code).toBe(0);
    expect(other.stdout.split('\n')[0]).toMatch(
      /^Skipped: another retention run \(lambda dlc-dev-retention, run req-1\) holds the database lease until \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z unless it renews it; this invocation exits without doing anything$/,
    );
    const manifest = await db.direct.query<{ k: string; n: number; run: string }>(
      'SELECT object_key AS k, row_count::int AS n, run_id AS run FROM archive_manifest ORDER BY 1',
    );
    expect(manifest.reduce((a, m) => a + m.n, 0)).toBe(12);
    expect(new Set(manifest.map((m) => m.run))).toEqual(new Set(['req-1']));
    const listed = await store.client.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual(manifest.map((m) => m.k));
  });
});
