import { spawn } from 'node:child_process';
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

describe('impossible dates and times without an offset (issue 23: defects 5, 9)', () => {
  let db: TestDb;
  const events = join(dir, 'tz-events.jsonl');
  beforeAll(async () => {
    db = await testDb('pg');
    // now (Europe/Madrid, the dev zone) will be 2025-10-27T00:00 = 2025-10-26T23:00Z: the first event is 4 min ahead (within
    // the 5-minute skew ingest accepts), the second 30 min (in the future): whatever the machine's zone says
    writeFileSync(
      events,
      [
        '{"id":"near","eventType":"message.received","timestamp":"2025-10-26T23:04:00Z","propertyId":"hotel-a"}',
        '{"id":"ahead","eventType":"message.received","timestamp":"2025-10-26T23:30:00Z","propertyId":"hotel-a"}',
      ].join('\n'),
    );
  });
  afterAll(() => db.close());

  it('exit 2, saying why, for a date the calendar does not have (never moved to the next month), in every command', async () => {
    process.env.DATABASE_URL = db.url;
    const err = jest.spyOn(console, 'error').mockImplementation(() => {});
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const said = () => String(err.mock.calls.at(-1)?.[0]);
    try {
      const cases: [string[], RegExp][] = [
        [
          ['aggregate', '--job', 'daily_conversation_metrics', '--period', '2025-02-30', '--ledger-file', ledgerFile],
          /February 2025 has 28 days/,
        ],
        [
          ['aggregate', '--all', '--from', '2025-02-30T10:00:00Z', '--to', '2025-03-05', '--ledger-file', ledgerFile],
          /February 2025 has 28 days/,
        ],
        [['aggregate', '--all', '--now', '2025-09-31T10:00', '--ledger-file', ledgerFile], /September 2025 has 30 days/],
        [['ingest', events, '--now', '2025-02-30T10:00:00Z'], /February 2025 has 28 days/],
        [['ingest', events, '--now', '2025-10-26T02:30'], /happens twice in Europe\/Madrid.*give the offset/],
        [['report', '--type', 'daily', '--property', 'hotel-a', '--from', '2025-02-30'], /February 2025 has 28 days/],
        [
          [
            'timeseries',
            '--metric',
            'messages',
            '--granularity',
            'day',
            '--from',
            '2025-02-30',
            '--to',
            '2025-03-05',
            '--property',
            'hotel-a',
          ],
          /February 2025 has 28 days/,
        ],
        [['report', '--type', 'daily', '--property', 'hotel-a', '--from', '9999-12-31'], /would end after 9999-12-31/],
      ];
      for (const [args, message] of cases) {
        const code = await runCli(args);
        expect({ args, code, said: said() }).toEqual({ args, code: 2, said: expect.stringMatching(message) });
      }
      expect(await db.direct.query('SELECT count(*)::int AS n FROM analytics_events')).toEqual([{ n: 0 }]);
    } finally {
      err.mockRestore();
      out.mockRestore();
      delete process.env.DATABASE_URL;
    }
  });

  /** `dlc <args>` in a child process with its own TZ. */
  const dlc = (args: string[], tz: string) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const root = join(__dirname, '..', '..');
      const child = spawn(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'bin', 'cli.ts'), ...args], {
        cwd: dir,
        env: { ...process.env, TZ: tz, DATABASE_URL: db.url, ENV_NAME: 'dev' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });

  it.each(['UTC', 'America/New_York'])('--now without an offset is a time in the configured zone under TZ=%s', async (tz) => {
    await db.direct.execute('TRUNCATE analytics_events, analytics_events_rejected, agg_watermarks, agg_message_counts_hourly');
    const ingested = await dlc(['ingest', events, '--now', '2025-10-27T00:00', '--json'], tz);
    expect({
      code: ingested.code,
      stderr: ingested.stderr.split('\n').filter((l) => !/Warning|node >=22|upgrade|a\.co|trace-warnings|^\s*$/i.test(l)),
    }).toEqual({ code: 0, stderr: [] });
    const r = JSON.parse(ingested.stdout);
    expect({ accepted: r.accepted, rejected: r.rejected, reasons: r.firstRejections.map((x: { eventId: string }) => x.eventId) }).toEqual({
      accepted: 1,
      rejected: 1,
      reasons: ['ahead'],
    });
    // aggregate reads --now the same way: at 00:30 Madrid the last closed hour is 23:00–00:00 Madrid (22:00Z)
    const agg = await dlc(
      [
        'aggregate',
        '--job',
        'hourly_message_counts',
        '--now',
        '2025-10-27T00:30',
        '--json',
        '--ledger-file',
        join(dir, `ledger-${tz.replace('/', '-')}.json`),
      ],
      tz,
    );
    expect(agg.code).toBe(0);
    expect(JSON.parse(agg.stdout)[0]).toMatchObject({
      status: 'completed',
      result: { periods: ['2025-10-26T22:00:00.000Z'], timeZone: 'Europe/Madrid' },
    });
  });
});

describe('aggregate: ranges and periods of every granularity (issue 23: defect 11)', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await testDb('pg');
  });
  afterAll(() => db.close());

  it('--all over a range without a whole month (or week) runs the jobs whose periods it holds and says which it did not run', async () => {
    const runs = await aggregateLocally(db.sql, {
      all: true,
      from: '2025-10-21',
      to: '2025-10-23',
      now: '2025-11-05T12:00:00Z',
      ledgerFile: join(dir, 'ledger-no-month.json'),
    });
    expect(runs.map((r) => [r.job, r.status, r.status === 'completed' ? r.result.periods.length : r.reason])).toEqual([
      ['hourly_message_counts', 'completed', 48],
      ['hourly_response_times', 'completed', 48],
      ['daily_conversation_metrics', 'completed', 2],
      ['daily_staff_performance', 'completed', 2],
      ['daily_intent_distribution', 'completed', 2],
      ['weekly_satisfaction_trends', 'no-whole-period', 'no whole weekly period lies in [2025-10-21, 2025-10-23) in Europe/Madrid'],
      ['monthly_summary', 'no-whole-period', 'no whole monthly period lies in [2025-10-21, 2025-10-23) in Europe/Madrid'],
    ]);
    // a range no job fits in, or one job asked for by name, is still bad usage
    await expect(
      aggregateLocally(db.sql, { all: true, from: '2025-10-21T10', to: '2025-10-21T10:30', ledgerFile: join(dir, 'l-x.json') }),
    ).rejects.toThrow(/no job has a whole period in \[2025-10-21T10, 2025-10-21T10:30\)/);
    await expect(
      aggregateLocally(db.sql, { job: 'monthly_summary', from: '2025-10-21', to: '2025-10-23', ledgerFile: join(dir, 'l-y.json') }),
    ).rejects.toThrow(UsageError);
  });

  it('--period names its period to its own precision: 2025-10 is no day, 2025-10-26 no hour', async () => {
    const ledger = join(dir, 'ledger-precision.json');
    const now = '2025-11-05T12:00:00Z';
    await expect(
      aggregateLocally(db.sql, { job: 'daily_conversation_metrics', period: '2025-10', now, ledgerFile: ledger }),
    ).rejects.toThrow('"2025-10" does not name a day: a daily period is given by its first day, e.g. 2025-10-26');
    await expect(aggregateLocally(db.sql, { job: 'hourly_message_counts', period: '2025-10-26', now, ledgerFile: ledger })).rejects.toThrow(
      '"2025-10-26" does not name an hour: an hourly period is given by its first hour, e.g. 2025-10-26T02',
    );
    const ok = await aggregateLocally(db.sql, { job: 'monthly_summary', period: '2025-10-01', now, ledgerFile: ledger });
    expect(ok[0]?.status === 'completed' && ok[0].result.periods).toEqual(['2025-10']);
    const daily = await aggregateLocally(db.sql, { job: 'daily_conversation_metrics', period: '2025-10-01', now, ledgerFile: ledger });
    expect(daily[0]?.status === 'completed' && daily[0].result.periods).toEqual(['2025-10-01']);
  });
});
