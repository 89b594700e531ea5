import { readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetFunctionUrlConfigCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { runCli } from '../../bin/cli';
import { handleRequest } from '../../lambdas/analytics-api/api';
import { DashboardCache } from '../../lambdas/analytics-api/dashboard';
import { memoryLog } from '../../lambdas/shared/observability';
import { systemClock } from '../../lambdas/shared/runtime';
import { buildFixture, insertFixture } from '../support/analytics-fixture';
import { type TestDb, testDb } from '../support/db';

const TZ = 'Europe/Madrid';

describe('analytics CLI commands (metrics, timeseries, report)', () => {
  let db: TestDb;
  let out: jest.SpyInstance;
  let err: jest.SpyInstance;
  const stdout = () => out.mock.calls.map((c) => String(c[0])).join('');
  const stderr = () => [...err.mock.calls, ...(console.error as unknown as jest.Mock).mock.calls].map((c) => String(c[0])).join('');
  beforeAll(async () => {
    db = await testDb('pg');
    await insertFixture(
      db.direct,
      buildFixture('hotel-1', { hourFrom: '2025-03-24', hourTo: '2025-04-01', dayFrom: '2025-03-17', dayTo: '2025-04-07', timeZone: TZ }),
    );
  });
  afterAll(() => db.close());
  beforeEach(() => {
    process.env.DATABASE_URL = db.url;
    out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    jest.spyOn(console, 'error').mockImplementation(() => {});
    jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
      process.stdout.write(`${a.join(' ')}\n`);
    });
    process.exitCode = undefined;
  });
  afterEach(() => {
    jest.restoreAllMocks();
    process.exitCode = undefined;
    delete process.env.DATABASE_URL;
  });

  it('metrics --json prints only the dashboard JSON', async () => {
    expect(await runCli(['metrics', '--property', 'hotel-1', '--json'])).toBe(0);
    expect(Object.keys(JSON.parse(stdout())).sort()).toEqual(['activeConversations', 'comparison', 'pendingTasks', 'staffOnline', 'today']);
  });

  it('timeseries --json: a continuous series; a bad value is bad usage (2) with the API message', async () => {
    const args = [
      'timeseries',
      '--metric',
      'messages',
      '--granularity',
      'day',
      '--from',
      '2025-03-24',
      '--to',
      '2025-03-31',
      '--property',
      'hotel-1',
    ];
    expect(await runCli([...args, '--dimension', 'channel', '--json'])).toBe(0);
    const ts = JSON.parse(stdout());
    expect(ts.series.length).toBeGreaterThan(1);
    for (const s of ts.series) expect(s.points).toHaveLength(7);
    out.mockClear();
    expect(await runCli([...args.slice(0, 2), 'nope', ...args.slice(3), '--json'])).toBe(2);
    expect(stdout()).toBe('');
    expect(stderr()).toContain('400: unknown metric "nope"');
    expect(await runCli([...args.slice(0, 3), '--granularity', 'minute'])).toBe(2); // commander's own choice check
  });

  describe('human mode: numbers formatted and aligned, hours in their zone, no data said in words, the flags named (issue 22, items 9 and 10)', () => {
    const ts = (...more: string[]) => runCli(['timeseries', '--property', 'hotel-1', ...more]);
    const week = ['--granularity', 'week', '--from', '2025-03-17', '--to', '2025-04-07'];
    /** The value lines (`  <period>  <number>[ <unit>]`): each number ends in the same column. */
    const valuesAligned = (text: string) => {
      const ends = text
        .split('\n')
        .filter((l) => /^ {2}\d{4}-/.test(l))
        .map((l) => l.replace(/ (s|%|min)$/, '').length);
      expect(ends.length).toBeGreaterThan(0);
      expect(new Set(ends).size).toBe(1);
    };

    it('timeseries: milliseconds as seconds, one right-aligned column, each hour in the zone the header names with its offset (DST day)', async () => {
      expect(await ts('--metric', 'response_time_avg_ms', '--granularity', 'hour', '--from', '2025-03-30', '--to', '2025-03-31')).toBe(0);
      expect(stdout().split('\n').slice(0, 6)).toEqual([
        'response_time_avg_ms by hour, in seconds: mean response time (over the timed responses)',
        'hotel-1, from 2025-03-30 to 2025-03-31 (exclusive), hours in Europe/Madrid',
        '',
        '  2025-03-30 00:00 +01:00  5.21 s',
        '  2025-03-30 01:00 +01:00  8.09 s',
        '  2025-03-30 03:00 +02:00  4.77 s',
      ]);
      expect(stdout()).not.toMatch(/\d\.\d{3,}|T\d\d:|Z\b/);
      valuesAligned(stdout());
    });

    it('timeseries: rates as %, counts with thousands separators, scores with one decimal; values right-aligned across series', async () => {
      expect(
        await ts(
          '--metric',
          'escalation_rate',
          '--granularity',
          'day',
          '--from',
          '2025-03-24',
          '--to',
          '2025-03-28',
          '--dimensions',
          'channel',
        ),
      ).toBe(0);
      expect(stdout()).toContain('\nchannel=email\n  2025-03-24      —\n  2025-03-25  100.0 %\n');
      expect(stdout()).toContain('\nchannel=webchat\n  2025-03-24    0.0 %\n  2025-03-25    8.3 %\n');
      valuesAligned(stdout());
      out.mockClear();
      expect(await ts('--metric', 'messages', ...week)).toBe(0);
      expect(stdout().split('\n').slice(3)).toEqual(['  2025-03-17      0', '  2025-03-24  3,202', '  2025-03-31    420', '']);
      out.mockClear();
      expect(await ts('--metric', 'nps', ...week)).toBe(0);
      expect(stdout().split('\n').slice(3)).toEqual(['  2025-03-17  -33.3', '  2025-03-24    1.7', '  2025-03-31   30.9', '']);
    });

    it('timeseries: a range without data says so in words (was: only a header, or zeros)', async () => {
      for (const dims of [[], ['--dimensions', 'channel']]) {
        out.mockClear();
        expect(await ts('--metric', 'messages', '--granularity', 'day', '--from', '2024-03-24', '--to', '2024-03-28', ...dims)).toBe(0);
        expect(stdout().split('\n')[2]).toBe(
          'No data for messages of hotel-1 between 2024-03-24 and 2024-03-28 (Europe/Madrid): nothing aggregated in that range.',
        );
      }
    });

    it("timeseries: --dimensions, the API's name (--dimension still accepted, not both); errors name --from and --to, never startDate/endDate", async () => {
      const q = ['--metric', 'messages', '--granularity', 'day', '--from', '2025-03-24', '--to', '2025-03-26', '--json'];
      expect(await ts(...q, '--dimensions', 'channel')).toBe(0);
      const plural = JSON.parse(stdout());
      out.mockClear();
      expect(await ts(...q, '--dimension', 'channel')).toBe(0);
      expect(JSON.parse(stdout()).series).toEqual(plural.series);
      expect(plural.query.dimensions).toEqual(['channel']);
      expect(await ts(...q, '--dimension', 'channel', '--dimensions', 'direction')).toBe(2);
      expect(stderr()).toContain('--dimensions and --dimension are one option: give it once');
      out.mockClear();
      expect(await runCli(['timeseries', '--help'])).toBe(0);
      expect(stdout()).toMatch(/^ {2}--dimensions <names> +group by \(comma-separated; --dimension is accepted too\)$/m);
      const cases: [string[], string][] = [
        [['--from', '2025-03-2', '--to', '2025-03-28'], '400: --from must be a date YYYY-MM-DD, not "2025-03-2"'],
        [['--from', '2025-03-24', '--to', '2025-02-30'], '400: --to "2025-02-30" is not a date: February 2025 has 28 days'],
        [
          ['--from', '2025-03-28', '--to', '2025-03-02'],
          '400: --to "2025-03-02" must be after --from "2025-03-28" (from is inclusive, to exclusive)',
        ],
      ];
      for (const [range, message] of cases) {
        err.mockClear();
        (console.error as unknown as jest.Mock).mockClear();
        const code = await ts('--metric', 'messages', '--granularity', 'day', ...range);
        expect({ range, code, said: stderr().trim() }).toEqual({ range, code: 2, said: message });
      }
    });

    it('metrics: the dashboard in three groups, numbers right-aligned with their unit', async () => {
      expect(await runCli(['metrics', '--property', 'hotel-1'])).toBe(0);
      expect(stdout()).toBe(
        [
          'Dashboard for hotel-1',
          'Today so far (the property’s time zone)',
          '  Conversations resolved     0',
          '  Messages received          0',
          '  Messages sent              0',
          '  Mean response time      0.00 s',
          '  Escalation rate          0.0 %',
          'Change from yesterday',
          '  Conversations started    0.0 %',
          '  Response time            0.0 %',
          '  Satisfaction             0.0 %',
          'Now',
          '  Active conversations       0',
          '  Staff online               0',
          '  Pending tasks              0',
          '',
        ].join('\n'),
      );
    });

    it("report --sections: the names the JSON and the CSV use (camelCase), the seed's snake_case accepted", async () => {
      for (const sections of ['responseTimes,staffPerformance', 'response_times,staff_performance']) {
        out.mockClear();
        expect(await runCli(['report', '--type', 'weekly', '--property', 'hotel-1', '--from', '2025-03-24', '--sections', sections])).toBe(
          0,
        );
        expect(Object.keys(JSON.parse(stdout()).sections)).toEqual(['responseTimes', 'staffPerformance']);
      }
      out.mockClear();
      expect(await runCli(['report', '--help'])).toBe(0);
      expect(stdout().replace(/\s+/g, ' ')).toContain(
        '--sections <list> comma-separated, as named in the JSON and CSV: summary, conversations, responseTimes, staffPerformance, satisfaction, topIntents, channelBreakdown',
      );
    });
  });

  it('report --format html --out FILE writes the page', async () => {
    const file = join(tmpdir(), `dlc-report-${process.pid}.html`);
    try {
      expect(
        await runCli([
          'report',
          '--type',
          'weekly',
          '--property',
          'hotel-1',
          '--from',
          '2025-03-24',
          '--to',
          '2025-03-31',
          '--format',
          'html',
          '--out',
          file,
          '--json',
        ]),
      ).toBe(0);
      expect(JSON.parse(stdout())).toMatchObject({ file, format: 'html' });
      expect(readFileSync(file, 'utf8')).toContain('data-chart="messages"');
    } finally {
      rmSync(file, { force: true });
    }
  });

  describe('--env prod: the deployed Function URL, SigV4-signed', () => {
    let server: Server;
    let seen: IncomingHttpHeaders[] = [];
    const lambda = mockClient(LambdaClient);
    beforeAll(async () => {
      server = createServer((req, res) => {
        seen.push(req.headers);
        const u = new URL(req.url ?? '/', 'http://x');
        void handleRequest(
          {
            sql: db.sql,
            clock: systemClock,
            log: memoryLog(),
            limits: { timeZone: TZ, maxPoints: 2000, maxRangeDays: 3660 },
            cache: new DashboardCache(
              {
                sql: db.sql,
                clock: systemClock,
                settings: { timeZone: TZ, activeConversationWindowHours: 24, staffStatusWindowHours: 24, pendingTaskWindowDays: 90 },
              },
              { ttlMs: 0, max: 1 },
            ),
          },
          { method: req.method ?? 'GET', path: u.pathname, query: u.search.slice(1), requestId: 'r' },
        ).then((r) => {
          res.writeHead(r.statusCode, r.headers);
          res.end(r.isBase64Encoded ? Buffer.from(r.body, 'base64') : r.body);
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('finds the URL by function name and signs the request for the lambda service', async () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      lambda
        .on(GetFunctionUrlConfigCommand, { FunctionName: 'dlc-prod-analytics-api' })
        .resolves({ FunctionUrl: `http://127.0.0.1:${port}/` });
      const saved = { ...process.env };
      Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_REGION: 'eu-west-1' });
      seen = [];
      try {
        expect(await runCli(['metrics', '--property', 'hotel-1', '--env', 'prod', '--region', 'eu-west-1', '--json'])).toBe(0);
      } finally {
        process.env = saved;
      }
      expect(JSON.parse(stdout()).today).toBeDefined();
      expect(seen[0]?.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/,
      );
      expect(seen[0]?.['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    });
  });
});
