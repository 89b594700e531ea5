import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoRunLedger } from '../../lambdas/shared/ledger/dynamodb';
import { FileRunLedger } from '../../lambdas/shared/ledger/file';
import type { RunLedger, RunRecord } from '../../lambdas/shared/ledger/types';
import { memoryLog, memoryMetrics } from '../../lambdas/shared/observability';
import { runExclusive } from '../../lambdas/shared/runtime';
import { type Running, startDynamo } from '../../local/services';
import { createLedgerTable } from '../support/dynamo-ledger';

const run = (over: Partial<RunRecord>): RunRecord => ({
  job: 'archive',
  runId: 'r1',
  startedAt: '2025-10-28T14:00:00+01:00',
  finishedAt: '2025-10-28T14:00:05+01:00',
  durationMs: 5000,
  status: 'healthy',
  counters: { checkpoints_archived: 12, messages_archived: 143 },
  errors: 0,
  workRemaining: false,
  ...over,
});

let dynamo: Running;
beforeAll(async () => {
  dynamo = await startDynamo();
});
afterAll(() => dynamo.stop());

async function dynamoLedger(): Promise<RunLedger> {
  return new DynamoRunLedger(await createLedgerTable(dynamo.url));
}

const adapters: [string, () => Promise<RunLedger>][] = [
  ['DynamoDB (dynalite)', dynamoLedger],
  ['JSON file', async () => new FileRunLedger(join(mkdtempSync(join(tmpdir(), 'dlc-ledger-')), 'ledger.json'))],
];

describe.each(adapters)('run ledger: %s', (_name, make) => {
  it('refuses a second taker while the lease holds, and hands it over once it expires', async () => {
    const ledger = await make();
    const t0 = new Date('2025-10-28T13:00:00Z');
    expect(await ledger.acquire('archive', 'run-a', 60_000, t0)).toBe(true);
    expect(await ledger.acquire('archive', 'run-b', 60_000, new Date(t0.getTime() + 59_000))).toBe(false);
    expect(await ledger.acquire('other-job', 'run-b', 60_000, t0)).toBe(true);
    // run-a crashed and never released: after its lease, run-b takes over
    expect(await ledger.acquire('archive', 'run-b', 60_000, new Date(t0.getTime() + 60_001))).toBe(true);
    // run-a's late release must not free run-b's lock
    await ledger.release('archive', 'run-a');
    expect(await ledger.acquire('archive', 'run-c', 60_000, new Date(t0.getTime() + 61_000))).toBe(false);
    await ledger.release('archive', 'run-b');
    expect(await ledger.acquire('archive', 'run-c', 60_000, new Date(t0.getTime() + 61_000))).toBe(true);
  });

  it('only one of many simultaneous takers wins', async () => {
    const ledger = await make();
    const now = new Date();
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => ledger.acquire('race', `r${i}`, 60_000, now)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('keeps the last run, the last success and the history', async () => {
    const ledger = await make();
    await ledger.record(run({ runId: 'r1' }));
    await ledger.record(
      run({ runId: 'r2', startedAt: '2025-10-28T15:00:00+01:00', finishedAt: '2025-10-28T15:00:01+01:00', status: 'unhealthy', errors: 2 }),
    );
    expect((await ledger.lastRun('archive'))?.runId).toBe('r2');
    expect((await ledger.lastSuccess('archive'))?.runId).toBe('r1');
    expect((await ledger.history('archive')).map((r) => r.runId)).toEqual(['r2', 'r1']);
  });

  it('runExclusive: a guard (the database lease) that cannot be taken — the database down — is a failed run, recorded and counted; one held by another run is a skip', async () => {
    const ledger = await make();
    const log = memoryLog();
    const metrics = memoryMetrics();
    const down = { acquire: async () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')), release: async () => undefined };
    const opts = { job: 'retention', ledger, log, metrics, leaseMs: 60_000, timeZone: 'Europe/Madrid' };
    await expect(runExclusive({ ...opts, guard: down }, async () => ({ counters: {}, errors: 0 }))).rejects.toThrow('ECONNREFUSED');
    expect(await ledger.lastRun('retention')).toMatchObject({
      status: 'unhealthy',
      errors: 1,
      error: 'connect ECONNREFUSED 127.0.0.1:5432',
    });
    expect(metrics.values).toMatchObject({ RunsFailed: 1 });
    const held = {
      acquire: async () => ({ ok: false as const, reason: 'another retention run (cli) holds the database lease' }),
      release: async () => undefined,
    };
    const skipped = await runExclusive({ ...opts, guard: held }, async () => ({ counters: {}, errors: 0 }));
    expect(skipped).toEqual({
      status: 'skipped',
      reason: 'another retention run (cli) holds the database lease; this invocation exits without doing anything',
    });
    // Both released the ledger's lease: the next run takes it.
    expect(await ledger.acquire('retention', 'next', 60_000)).toBe(true);
  });

  it('runExclusive records the run, emits metrics, and a concurrent invocation exits cleanly', async () => {
    const ledger = await make();
    const log = memoryLog();
    const metrics = memoryMetrics();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const opts = { job: 'archive', ledger, log, metrics, leaseMs: 60_000, timeZone: 'Europe/Madrid' };
    const first = runExclusive(opts, async () => {
      await gate;
      return { counters: { checkpoints_archived: 3, messages_archived: 30 }, errors: 0 };
    });
    await new Promise((r) => setTimeout(r, 50));
    const second = await runExclusive(opts, async () => ({ counters: {}, errors: 0 }));
    release();
    const done = await first;
    expect(second.status).toBe('skipped');
    expect(done.status).toBe('completed');
    expect(metrics.values).toMatchObject({ CheckpointsArchived: 3, MessagesArchived: 30, RunsSkipped: 1, RunsSucceeded: 1, Errors: 0 });
    const last = await ledger.lastRun('archive');
    expect(last).toMatchObject({ status: 'healthy', counters: { checkpoints_archived: 3, messages_archived: 30 } });
    expect(last?.finishedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0[12]:00$/);
    // the lock was released
    expect(await ledger.acquire('archive', 'next', 1000)).toBe(true);
  });

  it('a failing run is recorded unhealthy and its error rethrown', async () => {
    const ledger = await make();
    const opts = { job: 'j', ledger, log: memoryLog(), metrics: memoryMetrics(), leaseMs: 60_000, timeZone: 'UTC' };
    await expect(runExclusive(opts, async () => Promise.reject(new Error('database down')))).rejects.toThrow('database down');
    expect(await ledger.lastRun('j')).toMatchObject({ status: 'unhealthy', error: 'database down', errors: 1 });
    expect(await ledger.lastSuccess('j')).toBeUndefined();
  });
});
