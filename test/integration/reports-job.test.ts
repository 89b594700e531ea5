import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { unzipSync } from 'fflate';
import { generateReport } from '../../lambdas/analytics-api/reports';
import { AggregationNotReadyError, lastClosedPeriod, runReports } from '../../lambdas/reports/reports-job';
import { FileRunLedger } from '../../lambdas/shared/ledger/file';
import type { RunRecord } from '../../lambdas/shared/ledger/types';
import { memoryLog, memoryMetrics } from '../../lambdas/shared/observability';
import { runExclusive } from '../../lambdas/shared/runtime';
import { getEnvironment } from '../../lib/config';
import { startS3 } from '../../local/services';
import { buildFixture, insertFixture } from '../support/analytics-fixture';
import { testClock } from '../support/counting-sql';
import { DRIVERS, type TestDb, testDb } from '../support/db';

const TZ = 'Europe/Madrid';
const env = getEnvironment('dev');
const schedule = (type: string) =>
  env.analyticsServing.reportSchedules.find((s) => s.type === type) as (typeof env.analyticsServing.reportSchedules)[number];

const success = (job: string, startedAt: string): RunRecord => ({
  job,
  runId: `${job}-${startedAt}`,
  startedAt,
  finishedAt: startedAt,
  durationMs: 1,
  status: 'healthy',
  counters: {},
  errors: 0,
  workRemaining: false,
});

describe.each(DRIVERS)('scheduled reports through the %s driver', (driver) => {
  let db: TestDb;
  let s3: { url: string; stop(): Promise<void> };
  let client: S3Client;
  let dir: string;
  beforeAll(async () => {
    db = await testDb(driver);
    const opts = { hourFrom: '2025-03-24', hourTo: '2025-04-08', dayFrom: '2025-02-17', dayTo: '2025-04-14', timeZone: TZ };
    await insertFixture(db.direct, buildFixture('hotel-1', opts));
    await insertFixture(db.direct, buildFixture('hotel-2', { ...opts, seed: 3 }));
    s3 = await startS3(['cold']);
    client = new S3Client({
      endpoint: s3.url,
      forcePathStyle: true,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    dir = mkdtempSync(join(tmpdir(), 'dlc-reports-'));
  });
  afterAll(async () => {
    client.destroy();
    await s3.stop();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the period just closed, in the aggregation zone', () => {
    const now = new Date('2025-03-31T23:30:00Z'); // 01:30 on 1 April in Madrid
    expect(lastClosedPeriod('daily', now, TZ)).toBe('2025-03-31');
    expect(lastClosedPeriod('weekly', now, TZ)).toBe('2025-03-24');
    expect(lastClosedPeriod('monthly', now, TZ)).toBe('2025-03-01');
  });

  it('fails clearly, and records the failed run, when an aggregation has not succeeded since the period ended', async () => {
    const ledger = new FileRunLedger(join(dir, `l1-${driver}.json`));
    const clock = testClock('2025-03-31T23:30:00Z');
    // the daily aggregations ran, but the last hourly message count ran before midnight
    for (const job of schedule('daily').after) await ledger.record(success(job, '2025-04-01T01:00:00+02:00'));
    await ledger.record(success('hourly_message_counts', '2025-03-31T23:00:00+02:00'));
    const log = memoryLog();
    const run = () =>
      runExclusive({ job: 'reports-daily', ledger, log, metrics: memoryMetrics(), leaseMs: 60_000, timeZone: TZ, clock }, () =>
        runReports(
          { sql: db.sql, ledger, s3: client, bucket: 'cold', clock, timeZone: TZ, log },
          { type: 'daily', after: schedule('daily').after },
        ),
      );
    await expect(run()).rejects.toThrow(AggregationNotReadyError);
    await expect(run()).rejects.toThrow(
      'daily report for 2025-03-31: aggregation "hourly_message_counts" has not succeeded since the period ended (2025-04-01T00:00:00+02:00); its last success started 2025-03-31T23:00:00+02:00',
    );
    const last = await ledger.lastRun('reports-daily');
    expect(last?.status).toBe('unhealthy');
    expect(last?.error).toContain('hourly_message_counts');
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'cold', Prefix: 'reports/' }));
    expect(listed.KeyCount ?? 0).toBe(0);
  });

  it('writes each property report as JSON, CSV zip and HTML under reports/{property}/{type}/{period}', async () => {
    const ledger = new FileRunLedger(join(dir, `l2-${driver}.json`));
    const clock = testClock('2025-03-30T00:30:00Z'); // Sunday 02:30 in Madrid (summer time since 02:00)
    for (const job of schedule('weekly').after) await ledger.record(success(job, '2025-03-30T02:00:00+02:00'));
    const result = await runExclusive(
      { job: 'reports-weekly', ledger, log: memoryLog(), metrics: memoryMetrics(), leaseMs: 60_000, timeZone: TZ, clock },
      () =>
        runReports(
          { sql: db.sql, ledger, s3: client, bucket: 'cold', clock, timeZone: TZ, log: memoryLog() },
          { type: 'weekly', after: schedule('weekly').after },
        ),
    );
    expect(result.status).toBe('completed');
    const keys = ['hotel-1', 'hotel-2'].flatMap((p) => ['json', 'zip', 'html'].map((e) => `reports/${p}/weekly/2025-03-17.${e}`));
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'cold', Prefix: 'reports/' }));
    expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual([...keys].sort());
    const read = async (Key: string) =>
      Buffer.from(
        await ((await client.send(new GetObjectCommand({ Bucket: 'cold', Key }))).Body?.transformToByteArray() ?? new Uint8Array()),
      );
    const stored = JSON.parse((await read('reports/hotel-1/weekly/2025-03-17.json')).toString('utf8'));
    const direct = await generateReport(
      { sql: db.sql, timeZone: TZ, now: clock.now() },
      { type: 'weekly', propertyId: 'hotel-1', dateRange: { start: '2025-03-17' } },
    );
    expect(stored).toEqual(JSON.parse(JSON.stringify(direct)));
    expect(Object.keys(unzipSync(await read('reports/hotel-1/weekly/2025-03-17.zip')))).toContain('summary-totals.csv');
    expect((await read('reports/hotel-1/weekly/2025-03-17.html')).toString('utf8')).toContain('data-chart="ratings"');
    expect((await ledger.lastSuccess('reports-weekly'))?.counters).toEqual({ properties: 2, properties_failed: 0, objects_written: 6 });
  });

  it('an hour later the same period is not written again; a run naming the period rewrites it', async () => {
    const ledger = new FileRunLedger(join(dir, `l2b-${driver}.json`));
    const at = (iso: string) => testClock(iso);
    for (const job of schedule('weekly').after) await ledger.record(success(job, '2025-03-30T02:00:00+02:00'));
    const weekly = (clock: ReturnType<typeof testClock>, period?: string) =>
      runExclusive(
        { job: 'reports-weekly', ledger, log: memoryLog(), metrics: memoryMetrics(), leaseMs: 60_000, timeZone: TZ, clock },
        () =>
          runReports(
            { sql: db.sql, ledger, s3: client, bucket: 'cold', clock, timeZone: TZ, log: memoryLog() },
            { type: 'weekly', after: schedule('weekly').after, ...(period ? { period } : {}) },
          ),
      );
    const modified = async () => {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: 'cold', Prefix: 'reports/hotel-1/weekly/2025-03-17.' }));
      return (listed.Contents ?? []).map((o) => `${o.Key} ${o.LastModified?.toISOString()}`).sort();
    };
    await weekly(at('2025-03-30T01:30:00Z')); // written (or found written by the test above)
    const before = await modified();
    expect(before).toHaveLength(3);
    await new Promise((r) => setTimeout(r, 1_100)); // S3 times are whole seconds
    // Act: the next hourly run, same period
    await weekly(at('2025-03-30T02:30:00Z'));
    // Assess
    expect(await modified()).toEqual(before);
    expect((await ledger.lastSuccess('reports-weekly'))?.counters).toMatchObject({
      properties: 0,
      objects_written: 0,
      properties_already_written: 2,
    });
    await weekly(at('2025-03-30T03:30:00Z'), '2025-03-17');
    expect((await ledger.lastSuccess('reports-weekly'))?.counters).toMatchObject({ properties: 2, objects_written: 6 });
    expect(await modified()).not.toEqual(before);
  });

  it('one failing property does not stop the others; properties with only response-time, staff or intent rows get their report (defects 10, 11)', async () => {
    // ids stored before ingest applied the property id rule: the read side refuses them ('0 hotel' sorts first)
    for (const p of ['0 hotel', 'Hotel Sol', 'hotel/bcn'])
      await db.direct.execute(
        `INSERT INTO agg_conversation_metrics_daily (period_date, property_id, channel, conversations_started) VALUES ('2025-03-25', $1, 'email', 2)`,
        [p],
      );
    await db.direct.execute(
      `INSERT INTO agg_response_times_hourly (period_start, property_id, channel, responses, duration_sum_ms, avg_ms)
       VALUES ('2025-03-26T09:00:00Z', 'hotel-rt-only', 'email', 2, 3000, 1500)`,
    );
    await db.direct.execute(
      `INSERT INTO agg_staff_performance_daily (period_date, property_id, staff_id, conversations_handled, responses_timed, response_sum_ms)
       VALUES ('2025-03-27', 'hotel-staff-only', 'ana', 1, 1, 4000)`,
    );
    await db.direct.execute(
      `INSERT INTO agg_intent_distribution_daily (period_date, property_id, intent, count) VALUES ('2025-03-28', 'hotel-intent-only', 'horario', 3)`,
    );
    const ledger = new FileRunLedger(join(dir, `l3-${driver}.json`));
    const clock = testClock('2025-03-31T00:30:00Z'); // Monday 02:30 in Madrid
    for (const job of schedule('weekly').after) await ledger.record(success(job, '2025-03-31T02:00:00+02:00'));
    const log = memoryLog();
    const metrics = memoryMetrics();
    const result = await runExclusive({ job: 'reports-weekly', ledger, log, metrics, leaseMs: 60_000, timeZone: TZ, clock }, () =>
      runReports(
        { sql: db.sql, ledger, s3: client, bucket: 'cold', clock, timeZone: TZ, log },
        { type: 'weekly', after: schedule('weekly').after },
      ),
    );
    expect(result.status).toBe('completed');
    if (result.status !== 'completed') return;
    expect(result.outcome.failed.map((f) => f.property)).toEqual(['0 hotel', 'Hotel Sol', 'hotel/bcn']);
    for (const f of result.outcome.failed) expect(f.reason).toContain('is not a property id');
    const good = ['hotel-1', 'hotel-2', 'hotel-intent-only', 'hotel-rt-only', 'hotel-staff-only'];
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'cold', Prefix: 'reports/' }));
    const written = (listed.Contents ?? []).map((o) => o.Key as string).filter((k) => k.includes('/weekly/2025-03-24.'));
    expect(written.sort()).toEqual(good.flatMap((p) => ['html', 'json', 'zip'].map((e) => `reports/${p}/weekly/2025-03-24.${e}`)).sort());
    const last = await ledger.lastRun('reports-weekly');
    expect(last?.status).toBe('unhealthy'); // reported: the run is unhealthy, its errors are the failed properties
    expect(last?.errors).toBe(3);
    expect(last?.counters).toEqual({ properties: 8, properties_failed: 3, objects_written: 15 });
    expect(metrics.values).toMatchObject({ PropertiesFailed: 3, Errors: 3 });
    expect(log.lines.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([
      expect.stringContaining('weekly report for 2025-03-24 of property "0 hotel" failed: property "0 hotel" is not a property id'),
      expect.stringContaining('"Hotel Sol" failed'),
      expect.stringContaining('"hotel/bcn" failed'),
    ]);
  });
});
