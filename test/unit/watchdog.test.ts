import type { RunLedgerReader, RunRecord } from '../../lambdas/shared/ledger/types';
import { memoryLog, memoryMetrics } from '../../lambdas/shared/observability';
import { FAILING_RUNS, parseWatchedJobs, watch } from '../../lambdas/watchdog/watchdog';

/** A ledger reader over runs kept in memory (newest last, as they were recorded). */
function ledgerOf(runs: RunRecord[]): RunLedgerReader {
  const of = (job: string) => runs.filter((r) => r.job === job).reverse();
  return {
    lastRun: async (job) => of(job)[0],
    lastSuccess: async (job) => of(job).find((r) => r.status === 'healthy'),
    history: async (job, limit = 20) => of(job).slice(0, limit),
  };
}

const run = (job: string, finishedAt: string, status: RunRecord['status'], error?: string): RunRecord => ({
  job,
  runId: `${job}-${finishedAt}`,
  startedAt: finishedAt,
  finishedAt,
  durationMs: 1,
  status,
  counters: {},
  errors: status === 'healthy' ? 0 : 1,
  workRemaining: false,
  ...(error ? { error } : {}),
});

const now = new Date('2025-10-28T12:00:00Z');

describe('watchdog: job health from the ledger', () => {
  it('counts a job stale once its last success is older than its own limit, and never a job that never ran', async () => {
    // Prepare
    const ledger = ledgerOf([
      run('archive', '2025-10-28T10:29:00Z', 'healthy'), // 91 min ago, limit 90
      run('retention', '2025-10-27T11:00:00Z', 'healthy'), // 25 h ago, limit 26 h
      run('reports-weekly', '2025-10-20T03:00:00Z', 'healthy'), // 8 days 9 h ago, limit 8 days
    ]);
    const metrics = memoryMetrics();
    const log = memoryLog();
    // Act
    const out = await watch(
      { ledger, log, metrics, clock: { now: () => now } },
      parseWatchedJobs('archive=90,retention=1560,reports-weekly=11520,never_ran=90'),
      { measureDatabase: false },
    );
    // Assess
    expect(out.stale).toEqual(['archive', 'reports-weekly']);
    expect(out.jobs.never_ran).toMatchObject({ minutesSinceSuccess: null, stale: false });
    expect(metrics.values).toEqual({ StaleJobs: 2, FailingJobs: 0 });
    expect(metrics.flushed).toBe(1);
    const lines = log.lines.filter((l) => l.message === 'Job health');
    expect(lines.map((l) => l.extra?.job)).toEqual(['archive', 'retention', 'reports-weekly', 'never_ran']);
    expect(lines[0]?.extra).toMatchObject({ minutesSinceSuccess: 91, staleAfterMinutes: 90, stale: true });
  });

  it(`counts a job failing when its last ${FAILING_RUNS} runs were all unhealthy, naming the latest error`, async () => {
    // Prepare
    const ledger = ledgerOf([
      run('hourly_message_counts', '2025-10-28T10:00:00Z', 'unhealthy', 'timeout'),
      run('hourly_message_counts', '2025-10-28T11:00:00Z', 'unhealthy', 'permission denied for table agg_message_counts_hourly'),
      run('archive', '2025-10-28T11:00:00Z', 'healthy'),
      run('archive', '2025-10-28T11:30:00Z', 'unhealthy'),
      run('retention', '2025-10-28T04:00:00Z', 'unhealthy'),
    ]);
    const metrics = memoryMetrics();
    // Act
    const out = await watch(
      { ledger, log: memoryLog(), metrics, clock: { now: () => now } },
      parseWatchedJobs('hourly_message_counts=90,archive=90,retention=1560'),
      { measureDatabase: false },
    );
    // Assess: one unhealthy run is not "consistently"; two are
    expect(out.failing).toEqual(['hourly_message_counts']);
    expect(out.jobs.hourly_message_counts?.lastError).toBe('permission denied for table agg_message_counts_hourly');
    // never succeeded: late since its oldest attempt (2 h ago > 90 min)
    expect(out.stale).toEqual(['hourly_message_counts']);
    expect(metrics.values).toEqual({ StaleJobs: 1, FailingJobs: 1 });
  });

  it('refuses a WATCHED_JOBS entry without a limit', () => {
    expect(() => parseWatchedJobs('archive=90,retention')).toThrow('WATCHED_JOBS: "retention" is not <job>=<minutes>');
    expect(() => parseWatchedJobs('archive=0')).toThrow('WATCHED_JOBS: "archive=0"');
    expect(parseWatchedJobs('')).toEqual([]);
  });
});
