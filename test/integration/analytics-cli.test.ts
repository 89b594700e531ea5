import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../bin/cli';
import { aggregateLocally } from '../../local/commands/aggregate';
import { UsageError } from '../../local/commands/common';
import { ingestFile } from '../../local/commands/ingest';
import { DRIVERS, type TestDb, testDb } from '../support/db';

const dir = mkdtempSync(join(tmpdir(), 'dlc-analytics-cli-'));
const ledgerFile = join(dir, 'ledger.json');

describe.each(DRIVERS)('npm run ingest / aggregate through the %s driver', (driver) => {
  let db: TestDb;
  beforeEach(async () => {
    db = await testDb(driver);
  });
  afterEach(() => db.close());

  it('ingests a JSONL file with --now, then aggregates every job as the schedules would', async () => {
    const file = join(dir, `events-${driver}.jsonl`);
    const line = (id: string, type: string, ts: string, extra = '') =>
      `{"id":"${id}","eventType":"${type}","timestamp":"${ts}","propertyId":"hotel-a","channel":"sms"${extra}}`;
    writeFileSync(
      file,
      [
        line('e1', 'message.received', '2025-10-26T00:30:00Z'),
        line('e2', 'message.received', '2025-10-26T01:30:00Z'),
        '',
        line('e3', 'conversation.started', '2025-10-26T09:00:00Z', ',"conversationId":"c1"'),
        line('e1', 'message.received', '2025-10-26T00:30:00Z'),
        '{"id":"bad","eventType":"message.received"}',
      ].join('\n'),
    );
    const now = new Date('2025-10-27T00:00:05Z');
    const r = await ingestFile(db.sql, file, now);
    expect(r).toMatchObject({ accepted: 3, duplicates: 1, rejected: 1, lines: 6, failedLines: [] });
    expect(r.firstRejections[0]).toMatchObject({ recordId: 'line 6', eventId: 'bad' });
    const runs = await aggregateLocally(db.sql, { all: true, now: now.toISOString(), ledgerFile: `${ledgerFile}-${driver}` });
    expect(runs.map((x) => [x.job, x.status === 'completed' ? x.result.periods : x.reason])).toEqual([
      ['hourly_message_counts', ['2025-10-26T23:00:00.000Z']],
      ['hourly_response_times', ['2025-10-26T23:00:00.000Z']],
      ['daily_conversation_metrics', ['2025-10-26']],
      ['daily_staff_performance', ['2025-10-26']],
      ['daily_intent_distribution', ['2025-10-26']],
      ['weekly_satisfaction_trends', ['2025-10-20']],
      ['monthly_summary', ['2025-09']],
    ]);
    const range = await aggregateLocally(db.sql, {
      job: 'hourly_message_counts',
      from: '2025-10-26',
      to: '2025-10-27',
      now: now.toISOString(),
      ledgerFile: `${ledgerFile}-${driver}`,
    });
    expect(range[0]?.status === 'completed' && range[0].result.periods.length).toBe(25);
    expect(await db.direct.query('SELECT period_start, count FROM agg_message_counts_hourly ORDER BY 1')).toEqual([
      { period_start: '2025-10-26T00:00:00.000Z', count: 1 }, // 02:30 CEST
      { period_start: '2025-10-26T01:00:00.000Z', count: 1 }, // 02:30 CET, the repeated hour
    ]);
    await expect(
      aggregateLocally(db.sql, { job: 'daily_staff_performance', period: '2025-10-27', now: now.toISOString(), ledgerFile }),
    ).rejects.toThrow(UsageError);
    await expect(aggregateLocally(db.sql, { job: 'nope', ledgerFile })).rejects.toThrow(/Unknown job "nope"/);
    await expect(aggregateLocally(db.sql, { all: true, timeZone: 'Mars/Olympus', ledgerFile })).rejects.toThrow(/Unknown time zone/);
  });
});

describe('exit codes', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await testDb('pg');
    process.env.DATABASE_URL = db.url;
  });
  afterAll(async () => {
    delete process.env.DATABASE_URL;
    await db.close();
  });
  it('2 for bad usage (a period not closed, a bad --now), 0 for a run', async () => {
    const err = jest.spyOn(console, 'error').mockImplementation(() => {});
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(
        await runCli([
          'aggregate',
          '--job',
          'monthly_summary',
          '--period',
          '2025-10',
          '--now',
          '2025-10-31T12:00:00Z',
          '--ledger-file',
          ledgerFile,
        ]),
      ).toBe(2);
      expect(String(err.mock.calls.at(-1)?.[0])).toMatch(/has not closed/);
      expect(await runCli(['ingest', join(dir, 'missing.jsonl'), '--now', 'yesterday'])).toBe(2);
      expect(
        await runCli([
          'aggregate',
          '--job',
          'monthly_summary',
          '--period',
          '2025-10',
          '--now',
          '2025-11-01T03:00:00Z',
          '--json',
          '--ledger-file',
          ledgerFile,
        ]),
      ).toBe(0);
      const printed = JSON.parse(String(out.mock.calls.at(-1)?.[0]));
      expect(printed[0]).toMatchObject({ job: 'monthly_summary', status: 'completed', result: { periods: ['2025-10'] } });
    } finally {
      err.mockRestore();
      out.mockRestore();
    }
  });
});
