import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileRunLedger } from '../../lambdas/shared/ledger/file';
import { memoryLog, memoryMetrics } from '../../lambdas/shared/observability';
import { watch } from '../../lambdas/watchdog/watchdog';
import { type TestDb, testDb } from '../support/db';

describe('watchdog', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await testDb('data-api');
  });
  afterAll(() => db.close());

  it('reads job health from a real ledger file, and measures the database size on request', async () => {
    // Prepare
    const ledger = new FileRunLedger(join(mkdtempSync(join(tmpdir(), 'dlc-wd-')), 'l.json'));
    const base = { runId: 'r', durationMs: 1, counters: {}, errors: 0, workRemaining: false };
    await ledger.record({
      ...base,
      job: 'archive',
      startedAt: '2025-10-28T12:00:00+01:00',
      finishedAt: '2025-10-28T12:01:00+01:00',
      status: 'healthy',
    });
    await ledger.record({
      ...base,
      job: 'archive',
      startedAt: '2025-10-28T13:00:00+01:00',
      finishedAt: '2025-10-28T13:01:00+01:00',
      status: 'unhealthy',
      errors: 1,
    });
    await ledger.record({
      ...base,
      job: 'monthly_summary',
      startedAt: '2025-10-27T13:00:00+01:00',
      finishedAt: '2025-10-27T13:01:00+01:00',
      status: 'unhealthy',
      errors: 1,
    });
    const metrics = memoryMetrics();
    // Act
    const out = await watch(
      { ledger, log: memoryLog(), metrics, clock: { now: () => new Date('2025-10-28T12:31:00Z') }, sql: db.sql },
      [
        { name: 'archive', staleAfterMinutes: 90 },
        { name: 'monthly_summary', staleAfterMinutes: 32 * 24 * 60 },
        { name: 'never_ran', staleAfterMinutes: 90 },
      ],
      { measureDatabase: true },
    );
    // Assess
    expect(out.minutesSinceSuccess).toEqual({ archive: 90, monthly_summary: 1 * 24 * 60 + 31 - 0, never_ran: null });
    expect(out.stale).toEqual([]);
    expect(out.failing).toEqual([]);
    expect(metrics.values).toMatchObject({ StaleJobs: 0, FailingJobs: 0 });
    expect(out.databaseBytes).toBeGreaterThan(1_000_000);
    expect(metrics.values.DatabaseSizeBytes).toBe(out.databaseBytes);
  });
});
