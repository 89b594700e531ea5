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
