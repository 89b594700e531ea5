/**
 * The property registry through the deployed API (issue 23): GET /properties, PUT /properties/{id},
 * run as the API's database role (dlc_analytics_api), with the CLI's rules; a zone change records one
 * re-derivation per aggregate table, which each aggregation's next scheduled run carries out as
 * dlc_aggregate (recomputed in the new zone, the former zone's rows zeroed), then forgets.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aggregateJob } from '../../lambdas/aggregate/job';
import { AGGREGATIONS } from '../../lambdas/aggregate/registry';
import { type ApiDeps, handleRequest } from '../../lambdas/analytics-api/api';
import { DashboardCache } from '../../lambdas/analytics-api/dashboard';
import { FileRunLedger } from '../../lambdas/shared/ledger/file';
import { memoryLog, memoryMetrics } from '../../lambdas/shared/observability';
import type { Sql } from '../../lambdas/shared/sql/types';
import { DRIVERS, type TestDb, testDb } from '../support/db';
import { reconcileTestRoles, roleSql } from '../support/roles';

const TZ = 'Europe/Madrid';
const limits = { timeZone: TZ, maxPoints: 2_000, maxRangeDays: 3_660 };
const settings = { timeZone: TZ, activeConversationWindowHours: 24, staffStatusWindowHours: 24, pendingTaskWindowDays: 90 };

describe.each(DRIVERS)('the property registry through the API (%s driver)', (driver) => {
  let db: TestDb;
  let asApi: Sql & { close(): Promise<void> };
  let asAggregate: Sql & { close(): Promise<void> };
  let deps: ApiDeps;
  let n = 0;
  const call = async (method: string, path: string, body?: string) => {
    const r = await handleRequest(deps, { method, path, query: '', requestId: `req-${++n}`, body });
    return { status: r.statusCode, body: JSON.parse(r.body) as Record<string, unknown> };
  };

  beforeAll(async () => {
    db = await testDb(driver);
    await reconcileTestRoles(db);
    asApi = roleSql(db, 'dlc_analytics_api', driver);
    asAggregate = roleSql(db, 'dlc_aggregate', driver);
    const clock = { now: () => new Date('2025-10-22T12:00:00Z') };
    deps = {
      sql: asApi,
      cache: new DashboardCache({ sql: asApi, clock, settings }, { ttlMs: 0, max: 1 }),
      clock,
      limits,
      log: memoryLog(),
    };
  });
  afterAll(async () => {
    await asApi.close();
    await asAggregate.close();
    await db.close();
  });

  it('refuses what the CLI refuses, with a 400 that says why; wrong methods are 405', async () => {
    const put = (id: string, body?: string) => call('PUT', `/properties/${id}`, body);
    const cases: [Promise<{ status: number; body: Record<string, unknown> }>, RegExp][] = [
      [put('Hotel%20Sol', '{"timeZone":"Europe/Madrid"}'), /"Hotel Sol" is not a property id/],
      [put('h%C3%B4tel-%C3%A9t%C3%A9', '{"timeZone":"Europe/Madrid"}'), /is not a property id/],
      [put('%E0%A4%A', '{"timeZone":"Europe/Madrid"}'), /not valid percent-encoding/],
      [put('hotel-x', '{"timeZone":"Mars/Olympus"}'), /Unknown time zone "Mars\/Olympus"/],
      [put('hotel-x', '{"timeZone":"UTC+3"}'), /time zone/i],
      [put('hotel-x', '{}'), /a time zone is required/],
      [put('hotel-x'), /a JSON body is required/],
      [put('hotel-x', 'timeZone=Europe/Madrid'), /the body is not JSON/],
      [put('hotel-x', '["Europe/Madrid"]'), /must be a JSON object/],
      [put('hotel-x', '{"timeZone":"Europe/Madrid","zone":"x"}'), /unknown field "zone"; allowed: timeZone, name/],
      [put('hotel-x', '{"timeZone":"Europe/Madrid","name":""}'), /display name is 1–200 characters/],
      [put('hotel-x', JSON.stringify({ timeZone: 'Europe/Madrid', name: 'x'.repeat(5_000) })), /at most 4096/],
    ];
    for (const [response, message] of cases) {
      const r = await response;
      expect(r.status).toBe(400);
      expect(String(r.body.error)).toMatch(message);
    }
    expect((await call('GET', '/properties/hotel-x')).status).toBe(405);
    expect((await call('PUT', '/properties', '{"timeZone":"Europe/Madrid"}')).status).toBe(405);
    expect(await call('GET', '/properties')).toEqual({ status: 200, body: { defaultTimeZone: TZ, properties: [] } });
    expect(await db.direct.query('SELECT count(*)::int AS n FROM property_rederivations')).toEqual([{ n: 0 }]);
  });

  it('registers (201), renames and changes a zone (200); a zone change is re-derived by each aggregation’s next scheduled run', async () => {
    // 18:00Z on the 20th: 23:30 in Kolkata, 20:00 in Madrid, 13:00 in Cancún — the same local day in all three
    await db.direct.execute(
      `INSERT INTO analytics_events (id, event_type, occurred_at, property_id, channel, conversation_id, metadata)
       VALUES ('k1', 'conversation.started', '2025-10-20T18:00:00Z', 'hotel-kol', 'sms', 'c1', '{}'),
              ('k2', 'message.received', '2025-10-20T18:10:00Z', 'hotel-kol', 'sms', 'c1', '{}')`,
    );
    const ledger = new FileRunLedger(join(mkdtempSync(join(tmpdir(), 'props-api-')), 'ledger.json'));
    const schedule = async (now: string) => {
      const out = [];
      for (const def of AGGREGATIONS) {
        const r = await aggregateJob(
          { sql: asAggregate, log: memoryLog(), metrics: memoryMetrics(), ledger, clock: { now: () => new Date(now) }, leaseMs: 60_000 },
          { job: def.name, mode: { kind: 'scheduled', graceMinutes: def.granularity === 'hourly' ? 0 : 60, onlyNew: true }, timeZone: TZ },
        );
        if (r.status !== 'completed') throw new Error(`${def.name} skipped: ${r.reason}`);
        out.push(r.outcome);
      }
      return out;
    };
    const hourly = () =>
      db.direct.query<{ period_start: string; count: number }>(
        "SELECT period_start, sum(count)::int AS count FROM agg_message_counts_hourly WHERE property_id = 'hotel-kol' GROUP BY 1 ORDER BY 1",
      );
    const daily = () =>
      db.direct.query(
        "SELECT period_date, conversations_started FROM agg_conversation_metrics_daily WHERE property_id = 'hotel-kol' ORDER BY 1",
      );
    // unregistered: Madrid's periods (the days around it recomputed, then the schedule from now on)
    for (const job of ['hourly_message_counts', 'daily_conversation_metrics'])
      await aggregateJob(
        {
          sql: asAggregate,
          log: memoryLog(),
          metrics: memoryMetrics(),
          ledger,
          clock: { now: () => new Date('2025-10-22T02:00:00Z') },
          leaseMs: 60_000,
        },
        { job, mode: { kind: 'range', from: '2025-10-19', to: '2025-10-22' }, timeZone: TZ },
      );
    await schedule('2025-10-22T02:00:00Z');
    expect(await hourly()).toEqual([{ period_start: '2025-10-20T18:00:00.000Z', count: 1 }]);
    expect(await daily()).toEqual([{ period_date: '2025-10-20', conversations_started: 1 }]);

    // registering it in Kolkata (a half-hour zone) moves it out of the configured zone: re-derived too
    const created = await call('PUT', '/properties/hotel-kol', '{"timeZone":"Asia/Kolkata","name":"Hotel Goa"}');
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      created: true,
      previousTimeZone: TZ,
      property: { propertyId: 'hotel-kol', displayName: 'Hotel Goa', timeZone: 'Asia/Kolkata' },
      rederivation: { tables: AGGREGATIONS.map((a) => a.table) },
    });
    expect(await db.direct.query('SELECT agg_table, previous_zone FROM property_rederivations ORDER BY 1')).toEqual(
      AGGREGATIONS.map((a) => ({ agg_table: a.table, previous_zone: TZ })).sort((a, b) => a.agg_table.localeCompare(b.agg_table)),
    );
    const runs = await schedule('2025-10-22T02:15:00Z');
    expect(runs.map((r) => r.counters.properties_rederived)).toEqual(AGGREGATIONS.map(() => 1));
    expect(runs.every((r) => r.errors === 0)).toBe(true);
    expect(await db.direct.query('SELECT count(*)::int AS n FROM property_rederivations')).toEqual([{ n: 0 }]);
    // Kolkata's hours start at :30 UTC: the Madrid-keyed hour is zeroed, the Kolkata one holds the message
    expect(await hourly()).toEqual([
      { period_start: '2025-10-20T17:30:00.000Z', count: 1 },
      { period_start: '2025-10-20T18:00:00.000Z', count: 0 },
    ]);
    expect(await daily()).toEqual([{ period_date: '2025-10-20', conversations_started: 1 }]);

    // a rename keeps the zone: nothing to re-derive
    const renamed = await call('PUT', '/properties/hotel-kol', '{"timeZone":"Asia/Kolkata","name":"Hotel Goa Beach"}');
    expect(renamed.status).toBe(200);
    expect(renamed.body).not.toHaveProperty('previousTimeZone');
    expect(renamed.body).not.toHaveProperty('rederivation');
    expect(await db.direct.query('SELECT count(*)::int AS n FROM property_rederivations')).toEqual([{ n: 0 }]);

    // to Cancún (a name left out is kept): the 20th there is 13:00; re-derived at the next run
    const moved = await call('PUT', '/properties/hotel-kol', '{"timeZone":"America/Cancun"}');
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({
      created: false,
      previousTimeZone: 'Asia/Kolkata',
      property: { displayName: 'Hotel Goa Beach', timeZone: 'America/Cancun' },
    });
    await schedule('2025-10-22T02:30:00Z');
    expect(await db.direct.query('SELECT count(*)::int AS n FROM property_rederivations')).toEqual([{ n: 0 }]);
    expect(await hourly()).toEqual([
      { period_start: '2025-10-20T17:30:00.000Z', count: 0 },
      { period_start: '2025-10-20T18:00:00.000Z', count: 1 },
    ]);
    expect(await daily()).toEqual([{ period_date: '2025-10-20', conversations_started: 1 }]);

    const list = await call('GET', '/properties');
    expect(list).toEqual({
      status: 200,
      body: {
        defaultTimeZone: TZ,
        properties: [expect.objectContaining({ propertyId: 'hotel-kol', displayName: 'Hotel Goa Beach', timeZone: 'America/Cancun' })],
      },
    });
  });
});
