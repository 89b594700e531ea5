/**
 * Issue 26.10: late data after retention never lowers good aggregates. Raw events are kept 90 days,
 * aggregates a year or more; an aggregate bucket whose raw events are partly in cold storage is
 * never recomputed from what is left (docs/decisions.md, "Late events and the raw horizon").
 *
 * Retention is simulated as it commits an object (lambdas/retention: in one transaction, delete the
 * expired rows of a UTC day and record the object in archive_manifest), and run for real once
 * (s3rver); the figures are checked against an oracle that counts the fixture's events in
 * TypeScript, not with the aggregation SQL.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../bin/cli';
import { type AggregateMode, runAggregation } from '../../lambdas/aggregate/aggregate';
import { BeyondHorizonError } from '../../lambdas/aggregate/horizon';
import { runRederivations } from '../../lambdas/aggregate/rederive';
import { AGGREGATIONS, aggregation } from '../../lambdas/aggregate/registry';
import { ingest } from '../../lambdas/ingest/ingest';
import { memoryLog } from '../../lambdas/shared/observability';
import { setProperty } from '../../lambdas/shared/properties';
import type { Sql, SqlExecutor } from '../../lambdas/shared/sql/types';
import { RETENTION_POLICIES } from '../../lib/config';
import { aggregateLocally } from '../../local/commands/aggregate';
import { UsageError } from '../../local/commands/common';
import { DRIVERS, type TestDb, testDb } from '../support/db';
import { run as runRetention, s3, withCliEnv, withUpload } from '../support/retention-harness';
import { reconcileTestRoles, roleSql } from '../support/roles';

const TZ = 'Europe/Madrid';
const dir = mkdtempSync(join(tmpdir(), 'dlc-raw-horizon-'));

type Ev = { id: string; type: 'message.received' | 'message.sent'; at: string; property: string };
const m = (id: string, at: string, property = 'hotel-a', type: Ev['type'] = 'message.received'): Ev => ({ id, type, at, property });

// July 2026: 7 messages of hotel-a, all older than the retention cutoff (all exported).
// August 2026: 8 messages of hotel-a (4 before the cutoff, 4 after) and 2 of hotel-b (1 before, 1 after).
const FIXTURE: Ev[] = [
  m('jul-1', '2026-07-01T00:30:00+02:00'), // the first local hour of July (still 30 June in UTC)
  m('jul-2', '2026-07-05T10:00:00+02:00', 'hotel-a', 'message.sent'),
  m('jul-3', '2026-07-09T10:00:00+02:00'),
  m('jul-4', '2026-07-14T10:00:00+02:00'),
  m('jul-5', '2026-07-18T10:00:00+02:00', 'hotel-a', 'message.sent'),
  m('jul-6', '2026-07-22T10:00:00+02:00'),
  m('jul-7', '2026-07-31T23:30:00+02:00'), // the last local hour of July
  m('aug-1', '2026-08-01T00:15:00+02:00'),
  m('aug-2', '2026-08-07T10:00:00+02:00', 'hotel-a', 'message.sent'),
  m('aug-3', '2026-08-12T10:00:00+02:00'),
  m('aug-4', '2026-08-18T10:00:00+02:00'), // the newest exported raw event: the horizon
  m('aug-5', '2026-08-25T10:00:00+02:00'),
  m('aug-6', '2026-08-26T10:00:00+02:00', 'hotel-a', 'message.sent'),
  m('aug-7', '2026-08-28T10:00:00+02:00'),
  m('aug-8', '2026-08-31T23:45:00+02:00'), // the last local hour of August (1 September in UTC)
  m('b-aug-1', '2026-08-05T10:00:00+02:00', 'hotel-b'),
  m('b-aug-2', '2026-08-27T10:00:00+02:00', 'hotel-b'),
];
/** 90 days before 2026-11-22 10:00 in Madrid: what retention exports on that day. */
const CUTOFF = '2026-08-24T08:00:00.000Z';
const HORIZON = '2026-08-18T08:00:00.000Z';
const SEPT_1 = new Date('2026-09-01T06:00:00Z');
const NOV_22 = new Date('2026-11-22T09:00:00Z');
/** A late message for August of hotel-a: after the cutoff (its raw neighbours of 25–31 August are still there). */
const LATE: Ev = m('late-aug', '2026-08-29T10:00:00+02:00');

/** The oracle: messages per (property, local month), counted here from the events themselves. */
const month = new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit' });
function expectedMonthly(events: readonly Ev[]): { property_id: string; period_month: string; total_messages: number }[] {
  const n = new Map<string, number>();
  for (const e of events) {
    const k = `${e.property}|${month.format(new Date(e.at))}`;
    n.set(k, (n.get(k) ?? 0) + 1);
  }
  return [...n]
    .map(([k, total_messages]) => {
      const [property_id, period_month] = k.split('|') as [string, string];
      return { property_id, period_month, total_messages };
    })
    .sort((a, b) => (a.period_month + a.property_id).localeCompare(b.period_month + b.property_id));
}

const body = (events: readonly Ev[]) =>
  JSON.stringify({
    events: events.map((e) => ({ id: e.id, eventType: e.type, timestamp: e.at, propertyId: e.property, channel: 'whatsapp' })),
  });

/** Retention's commit, per UTC day: delete the expired rows and record their object, in one transaction. */
async function exportRawEvents(db: TestDb, cutoff: string): Promise<number> {
  return db.direct.transaction(async (tx) => {
    const gone = await tx.query<{ day: string; n: number; first: string; last: string }>(
      `WITH d AS (DELETE FROM analytics_events WHERE occurred_at < $1::timestamptz RETURNING occurred_at)
       SELECT (occurred_at AT TIME ZONE 'UTC')::date::text AS day, count(*)::int AS n, min(occurred_at) AS first, max(occurred_at) AS last
       FROM d GROUP BY 1 ORDER BY 1`,
      [{ sqlType: 'timestamptz', value: new Date(cutoff) }],
    );
    for (const g of gone)
      await tx.execute(
        `INSERT INTO archive_manifest (table_name, bucket, object_key, format, day, row_count, bytes, sha256, range_start, range_end, run_id, verified_at, deleted_at)
         VALUES ('analytics_events', 'cold', $1::text, 'parquet', $2::text::date, $3::bigint, 1000, repeat('0', 64), $4::timestamptz, $5::timestamptz, 'test-retention', now(), now())`,
        [
          { sqlType: 'text', value: `analytics_events/day=${g.day}/test.parquet` },
          { sqlType: 'text', value: g.day },
          { sqlType: 'integer', value: g.n },
          { sqlType: 'timestamptz', value: new Date(g.first) },
          { sqlType: 'timestamptz', value: new Date(g.last) },
        ],
      );
    return gone.reduce((s, g) => s + g.n, 0);
  });
}

describe.each(DRIVERS)('late events and the raw horizon (issue 26.10) through the %s driver', (driver) => {
  let db: TestDb;
  let asAggregate: Sql & { close(): Promise<void> };
  let asIngest: Sql & { close(): Promise<void> };
  const aggregate = (job: string, now: Date, mode: AggregateMode = { kind: 'scheduled' }) =>
    runAggregation({ sql: asAggregate, log: memoryLog(), clock: { now: () => now } }, aggregation(job), mode, TZ);
  const ingestAt = (now: Date, recordId: string, events: readonly Ev[]) =>
    ingest({ sql: asIngest, clock: { now: () => now }, log: memoryLog(), timeZone: TZ }, [{ recordId, body: body(events) }]);
  const monthly = () =>
    db.direct.query<{ property_id: string; period_month: string; total_messages: number }>(
      'SELECT property_id, period_month, total_messages FROM agg_monthly_summary ORDER BY period_month, property_id',
    );
  const rawCount = async (where: string) =>
    (await db.direct.query<{ n: number }>(`SELECT count(*)::int AS n FROM analytics_events WHERE ${where}`))[0]?.n;

  beforeEach(async () => {
    db = await testDb(driver);
    await reconcileTestRoles(db);
    asAggregate = roleSql(db, 'dlc_aggregate', driver);
    asIngest = roleSql(db, 'dlc_ingest', driver);
    // Every event arrives on time; July and August are aggregated on 1 September (the schedule's run
    // leaves the watermark there, so later events for them are late data).
    expect(await ingestAt(SEPT_1, 'on-time', FIXTURE)).toMatchObject({ accepted: FIXTURE.length, rejected: 0 });
    await aggregate('monthly_summary', SEPT_1, { kind: 'range', from: '2026-07', to: '2026-09' });
    await aggregate('monthly_summary', SEPT_1);
    expect(await monthly()).toEqual(expectedMonthly(FIXTURE));
    expect(await monthly()).toContainEqual({ property_id: 'hotel-a', period_month: '2026-08', total_messages: 8 });
    expect(await monthly()).toContainEqual({ property_id: 'hotel-a', period_month: '2026-07', total_messages: 7 });
  });
  afterEach(async () => {
    await asAggregate.close();
    await asIngest.close();
    await db.close();
  });

  it('a late event for a month whose first raw events are in cold storage is rejected with its reason, and the month stays 8', async () => {
    // Prepare: retention exports what is older than 90 days (all of July, 1–18 August)
    expect(await exportRawEvents(db, CUTOFF)).toBe(12);
    expect(await rawCount(`occurred_at >= '2026-07-31T22:00:00Z' AND occurred_at < '2026-08-31T22:00:00Z'`)).toBe(5); // 4 + 1 of 10
    // Act: on 22 November (86 days after it happened, inside the 90-day window) the late August
    // message arrives with one for November; then the schedule runs.
    const novEvent = m('nov-1', '2026-11-20T10:00:00+01:00');
    const r = await ingestAt(NOV_22, 'late', [LATE, novEvent]);
    const run = await aggregate('monthly_summary', NOV_22);
    // Assert: August and July keep the figures of every event (the oracle), not what is left of them
    expect(await monthly()).toEqual(expectedMonthly(FIXTURE));
    expect(await monthly()).toContainEqual({ property_id: 'hotel-a', period_month: '2026-08', total_messages: 8 });
    expect(run).toMatchObject({ periods: ['2026-09', '2026-10'], invalidatedBuckets: [], bucketsBeyondHorizon: [], rowsZeroed: 0 });
    // Assert: the late event is kept with its reason (counted), never in the raw table
    expect(r).toMatchObject({ accepted: 1, rejected: 1, late: 1, invalidations: 0, failedRecordIds: [] });
    const rejected = await db.direct.query<{ event_id: string; reason: string; raw: string }>(
      'SELECT event_id, reason, raw FROM analytics_events_rejected',
    );
    expect(rejected).toEqual([
      {
        event_id: 'late-aug',
        reason:
          `late: raw events of its period are already in cold storage (raw horizon ${HORIZON}), so its aggregates can no longer ` +
          'be recomputed and it would never be counted; events from 2026-08-31T22:00:00.000Z on are accepted',
        raw: expect.stringContaining('"timestamp":"2026-08-29T10:00:00+02:00"'),
      },
    ]);
    expect(await rawCount(`id = 'late-aug'`)).toBe(0);
  });

  it('a late event that got in before its month lost raw rows is not counted from partial data: the bucket stays, counted and logged', async () => {
    // Prepare: the late message is ingested on 20 November, before retention's run of the 22nd
    // moved the horizon into August: accepted, and its month invalidated.
    expect(await ingestAt(new Date('2026-11-20T09:00:00Z'), 'late', [LATE])).toMatchObject({ accepted: 1, invalidations: 1 });
    await exportRawEvents(db, CUTOFF);
    // Act: the schedule runs (catching up September and October)
    const log = memoryLog();
    const run = await runAggregation(
      { sql: asAggregate, log, clock: { now: () => NOV_22 } },
      aggregation('monthly_summary'),
      { kind: 'scheduled' },
      TZ,
    );
    // Assert: the August bucket of hotel-a is left as it is (8, not 4 + 1), reported, never zeroed
    expect(await monthly()).toEqual(expectedMonthly(FIXTURE));
    expect(run).toMatchObject({
      periods: ['2026-09', '2026-10'],
      invalidatedBuckets: [],
      bucketsBeyondHorizon: [{ property_id: 'hotel-a', period: '2026-08' }],
      rawHorizon: HORIZON,
      rowsZeroed: 0,
    });
    expect(log.lines.find((l) => l.level === 'warn')?.message).toBe(
      `monthly_summary: 1 bucket(s) left as they are: their periods start at or before the raw horizon ${HORIZON} ` +
        '(raw events up to it are in cold storage only; recomputing would lower good figures)',
    );
    // the invalidation was consumed, the late event stays in the raw table (retention exports it in time)
    expect(await db.direct.query('SELECT * FROM agg_invalidations')).toEqual([]);
    expect(await rawCount(`id = 'late-aug'`)).toBe(1);
  });

  it('recompute history over months whose raw events are in cold storage is refused, naming the horizon: nothing is zeroed', async () => {
    // Prepare
    await exportRawEvents(db, CUTOFF);
    const ledgerFile = join(dir, `ledger-${driver}.json`);
    // Act + Assert: the CLI (as the README shows it) refuses before any job runs
    const history = aggregateLocally(asAggregate, {
      job: 'monthly_summary',
      from: '2026-07',
      to: '2026-11',
      now: NOV_22.toISOString(),
      ledgerFile,
    });
    await expect(history).rejects.toThrow(UsageError);
    await expect(history).rejects.toThrow(
      'monthly_summary: the monthly period starting 2026-07-01T00:00:00+02:00 cannot be recomputed: raw analytics events up to ' +
        '2026-08-18T10:00:00+02:00 (the raw horizon) are in cold storage only',
    );
    // every job is checked before any runs: the first one refused names its own first recomputable period
    await expect(
      aggregateLocally(asAggregate, { all: true, from: '2026-07', to: '2026-09', now: NOV_22.toISOString(), ledgerFile }),
    ).rejects.toThrow(
      /^hourly_message_counts: the hourly period starting 2026-07-01T00:00:00\+02:00 .* \(--from 2026-08-18T11:00:00\+02:00\)\.$/,
    );
    for (const t of ['agg_message_counts_hourly', 'agg_conversation_metrics_daily', 'agg_satisfaction_weekly'])
      expect(await db.direct.query(`SELECT * FROM ${t}`)).toEqual([]);
    // the job function itself (the Lambda's `{ from, to }`) refuses too
    await expect(aggregate('monthly_summary', NOV_22, { kind: 'period', start: '2026-08' })).rejects.toThrow(BeyondHorizonError);
    expect(await monthly()).toEqual(expectedMonthly(FIXTURE)); // July still 7, August still 8
    // From the month after the horizon on, history is recomputed as before
    const ok = await aggregateLocally(asAggregate, {
      job: 'monthly_summary',
      from: '2026-09',
      to: '2026-11',
      now: NOV_22.toISOString(),
      ledgerFile,
    });
    expect(ok).toMatchObject([{ status: 'completed', result: { periods: ['2026-09', '2026-10'], bucketsBeyondHorizon: [] } }]);
    expect(await monthly()).toEqual(expectedMonthly(FIXTURE));
  });

  it('with the real retention run (export, verify, manifest, delete on s3rver): the late event is rejected, August stays 8, history is refused', async () => {
    // Prepare: retention's own run on 22 November exports the raw events older than 90 days
    const store = await s3();
    try {
      const { outcome } = await runRetention(db.sql, store.store, { tables: ['analytics_events'] });
      expect(outcome.counters).toMatchObject({ rows_exported: 12, rows_deleted: 12 });
    } finally {
      await store.stop();
    }
    // Act: the late August message arrives, the schedule runs, an operator recomputes history
    const r = await ingestAt(NOV_22, 'late', [LATE]);
    await aggregate('monthly_summary', NOV_22);
    const history = aggregate('monthly_summary', NOV_22, { kind: 'range', from: '2026-07', to: '2026-11' });
    // Assert
    await expect(history).rejects.toThrow(`raw analytics events up to 2026-08-18T10:00:00+02:00 (the raw horizon)`);
    expect(await monthly()).toEqual(expectedMonthly(FIXTURE));
    expect(r).toMatchObject({ accepted: 0, rejected: 1, late: 1 });
    expect(await db.direct.query('SELECT event_id, reason FROM analytics_events_rejected')).toEqual([
      {
        event_id: 'late-aug',
        reason: expect.stringMatching(
          /^late: raw events of its period are already in cold storage \(raw horizon 2026-08-18T08:00:00.000Z\)/,
        ),
      },
    ]);
  });
});

describe.each(DRIVERS)('late events and retention at the same time (issue 26.10, the race) through the %s driver', (driver) => {
  let db: TestDb;
  let asAggregate: Sql & { close(): Promise<void> };
  let asIngest: Sql & { close(): Promise<void> };
  let asRetention: Sql & { close(): Promise<void> };
  let store: Awaited<ReturnType<typeof s3>>;
  const monthly = () =>
    db.direct.query<{ property_id: string; period_month: string; total_messages: number }>(
      'SELECT property_id, period_month, total_messages FROM agg_monthly_summary ORDER BY period_month, property_id',
    );
  const ingestWith = (sql: Sql, recordId: string, events: readonly Ev[]) =>
    ingest({ sql, clock: { now: () => NOV_22 }, log: memoryLog(), timeZone: TZ }, [{ recordId, body: body(events) }]);
  const aggregateMonthly = () =>
    runAggregation(
      { sql: asAggregate, log: memoryLog(), clock: { now: () => NOV_22 } },
      aggregation('monthly_summary'),
      { kind: 'scheduled' },
      TZ,
    );

  beforeEach(async () => {
    db = await testDb(driver);
    await reconcileTestRoles(db);
    asAggregate = roleSql(db, 'dlc_aggregate', driver);
    asIngest = roleSql(db, 'dlc_ingest', driver);
    asRetention = roleSql(db, 'dlc_retention', driver);
    store = await s3();
    // As above: every event on time, July and August aggregated on 1 September.
    await ingest({ sql: asIngest, clock: { now: () => SEPT_1 }, log: memoryLog(), timeZone: TZ }, [
      { recordId: 'on-time', body: body(FIXTURE) },
    ]);
    const run = (mode: AggregateMode) =>
      runAggregation({ sql: asAggregate, log: memoryLog(), clock: { now: () => SEPT_1 } }, aggregation('monthly_summary'), mode, TZ);
    await run({ kind: 'range', from: '2026-07', to: '2026-09' });
    await run({ kind: 'scheduled' });
    expect(await monthly()).toEqual(expectedMonthly(FIXTURE));
  });
  afterEach(async () => {
    await store.stop();
    await asAggregate.close();
    await asIngest.close();
    await asRetention.close();
    await db.close();
  });

  it('a late event committed while retention exports its month: retention deletes none of that month, the aggregation recounts it, the next retention exports it', async () => {
    // Act 1: retention's run; while it uploads its first object, the late August message is ingested
    let lateResult: Awaited<ReturnType<typeof ingestWith>> | undefined;
    const racing = withUpload(store.store, async (key, bodyStream, condition) => {
      lateResult ??= await ingestWith(asIngest, 'late', [LATE]);
      return store.store.upload(key, bodyStream, condition);
    });
    const first = await runRetention(asRetention, racing, { tables: ['analytics_events'] });
    // Assert 1: the late event is in, with its month's invalidation; July's rows went, except the last one,
    // whose UTC day (31 July) it shares with August's first local hour: that object stayed whole
    expect(lateResult).toMatchObject({ accepted: 1, late: 0, invalidations: 1 });
    expect(first.outcome.counters).toMatchObject({ rows_deleted: 6, verification_failures: 0 });
    expect(first.outcome.counters.objects_changed).toBeGreaterThan(0);
    expect(first.log.lines.filter((l) => l.level === 'warn').map((l) => String(l.extra?.reason))).toContainEqual(
      expect.stringMatching(/^since these rows were exported, monthly_summary has late events to recount from 2026-07-31T22:00:00.000Z/),
    );
    expect(
      await db.direct.query('SELECT count(*)::int AS n FROM analytics_events WHERE occurred_at >= $1::timestamptz', [
        { sqlType: 'timestamptz', value: new Date('2026-07-31T22:00:00Z') },
      ]),
    ).toEqual([{ n: 11 }]);
    // Act 2: the schedule recounts August; the next retention run exports what the first left
    const recount = await aggregateMonthly();
    const second = await runRetention(asRetention, store.store, { tables: ['analytics_events'] });
    // Assert 2: August counts the late message (9), nothing beyond the horizon; every expired event exported once
    expect(await monthly()).toEqual(expectedMonthly([...FIXTURE, LATE]));
    expect(recount.bucketsBeyondHorizon).toEqual([]);
    expect(second.outcome.counters).toMatchObject({ rows_deleted: 6, objects_changed: 0 });
  });

  /** Until a session waits for the raw horizon's lock (true), or `done()` says the other side finished without waiting (false). */
  const untilWaitingForLock = async (done: () => boolean): Promise<boolean> => {
    for (;;) {
      const [w] = await db.direct.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
      );
      if ((w?.n ?? 0) > 0) return true;
      if (done()) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('an ingest chunk written but not committed when retention commits: retention waits for it (the raw horizon lock), then keeps its month', async () => {
    // Act: ingest's statement runs in a transaction left open (its lock stays held, its rows uncommitted); retention runs meanwhile
    let finished = false;
    let retention: ReturnType<typeof runRetention> | undefined;
    let waited: boolean | undefined;
    const r = await asIngest.transaction(async (tx) => {
      const result = await ingest({ sql: tx, clock: { now: () => NOV_22 }, log: memoryLog(), timeZone: TZ }, [
        { recordId: 'late', body: body([LATE]) },
      ]);
      retention = runRetention(asRetention, store.store, { tables: ['analytics_events'] });
      void retention.finally(() => {
        finished = true;
      });
      waited = await untilWaitingForLock(() => finished);
      return result;
    });
    const first = await (retention as NonNullable<typeof retention>);
    await aggregateMonthly();
    // Assert: retention waited, then saw the late event's invalidation and kept August; August counts it
    expect(waited).toBe(true);
    expect(r).toMatchObject({ accepted: 1, invalidations: 1 });
    expect(first.outcome.counters).toMatchObject({ rows_deleted: 6, verification_failures: 0 });
    expect(await monthly()).toEqual(expectedMonthly([...FIXTURE, LATE]));
  });

  it('retention committing an object when ingest writes: ingest waits for it (the raw horizon lock), judges the event again against the horizon it moved, and retention then keeps the month the event reopened', async () => {
    // Act: retention's first commit (30 June's object) pauses at its manifest row, its lock held; the late event is ingested meanwhile
    const ingestLog = memoryLog();
    let ingesting: ReturnType<typeof ingest> | undefined;
    let finished = false;
    let waited: boolean | undefined;
    const pausing: Sql = Object.assign(Object.create(asRetention), {
      transaction: <T>(fn: (tx: SqlExecutor) => Promise<T>) =>
        asRetention.transaction((tx) =>
          fn(
            Object.assign(Object.create(tx), {
              execute: async (text: string, params?: never[]) => {
                if (text.includes('INSERT INTO archive_manifest') && !ingesting) {
                  ingesting = ingest({ sql: asIngest, clock: { now: () => NOV_22 }, log: ingestLog, timeZone: TZ }, [
                    { recordId: 'late', body: body([LATE]) },
                  ]);
                  void ingesting.finally(() => {
                    finished = true;
                  });
                  waited = await untilWaitingForLock(() => finished);
                }
                return tx.execute(text, params);
              },
            }),
          ),
        ),
    });
    const { outcome } = await runRetention(pausing, store.store, { tables: ['analytics_events'] });
    const r = await (ingesting as NonNullable<typeof ingesting>);
    await aggregateMonthly();
    // Assert: ingest waited; the horizon had moved (to 30 June) when it got the lock, so the event was judged
    // again: still on time for August, accepted with August's invalidation; retention then kept August
    expect(waited).toBe(true);
    expect(ingestLog.lines.map((l) => l.message)).toContain(
      'Ingest: retention moved the raw horizon while these records were judged; judging them again',
    );
    expect(r).toMatchObject({ accepted: 1, late: 0, invalidations: 1, failedRecordIds: [] });
    expect(outcome.counters).toMatchObject({ rows_deleted: 6 });
    expect(await monthly()).toEqual(expectedMonthly([...FIXTURE, LATE]));
  });

  it("retention commits between ingest's look at the horizon and its insert: the late event is judged again and rejected, with its reason", async () => {
    // Act: ingest reads the horizon (nothing exported yet); before it writes, a whole retention run commits
    let ran = false;
    const racing: Sql = Object.assign(Object.create(asIngest), {
      query: async (text: string, params?: never[]) => {
        const rows = await asIngest.query(text, params);
        if (!ran && text.includes('raw_horizon(')) {
          ran = true;
          const { outcome } = await runRetention(asRetention, store.store, { tables: ['analytics_events'] });
          expect(outcome.counters).toMatchObject({ rows_deleted: 12 });
        }
        return rows;
      },
    });
    const r = await ingestWith(racing, 'late', [LATE]);
    await aggregateMonthly();
    // Assert: rejected as late (not accepted into a month that can no longer be recounted), kept with its reason
    expect(ran).toBe(true);
    expect(r).toMatchObject({ accepted: 0, rejected: 1, late: 1, failedRecordIds: [] });
    expect(await db.direct.query('SELECT event_id, reason FROM analytics_events_rejected')).toEqual([
      {
        event_id: 'late-aug',
        reason: expect.stringMatching(
          /^late: raw events of its period are already in cold storage \(raw horizon 2026-08-18T08:00:00.000Z\)/,
        ),
      },
    ]);
    expect(await db.direct.query("SELECT count(*)::int AS n FROM analytics_events WHERE id = 'late-aug'")).toEqual([{ n: 0 }]);
    expect(await monthly()).toEqual(expectedMonthly(FIXTURE));
  });
});

describe('recompute history before the raw horizon: exit code', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await testDb('pg');
    process.env.DATABASE_URL = db.url;
  });
  afterAll(async () => {
    delete process.env.DATABASE_URL;
    await db.close();
  });

  it('2 (bad usage) with a message naming the horizon and the first month that can be recomputed; 0 after it', async () => {
    await db.direct.execute(
      `INSERT INTO archive_manifest (table_name, bucket, object_key, row_count, bytes, sha256, range_start, range_end, run_id)
       VALUES ('analytics_events', 'cold', 'analytics_events/day=2026-08-18/x.parquet', 1, 1, repeat('0', 64),
               '2026-08-18T08:00:00Z', '2026-08-18T08:00:00Z', 'r')`,
    );
    const err = jest.spyOn(console, 'error').mockImplementation(() => {});
    const out = jest.spyOn(console, 'log').mockImplementation(() => {});
    const args = ['aggregate', '--job', 'monthly_summary', '--now', NOV_22.toISOString(), '--ledger-file', join(dir, 'cli.json')];
    try {
      expect(await runCli([...args, '--from', '2026-07', '--to', '2026-11'])).toBe(2);
      expect(String(err.mock.calls.at(-1)?.[0])).toMatch(
        /raw analytics events up to 2026-08-18T10:00:00\+02:00 \(the raw horizon\) are in cold storage only.*\(--from 2026-09\)\.$/,
      );
      expect(await runCli([...args, '--from', '2026-09', '--to', '2026-11'])).toBe(0);
    } finally {
      err.mockRestore();
      out.mockRestore();
    }
  });
});

/**
 * Issue 24's soak, L: retention exported raw events of hours no aggregation had computed yet, and the
 * aggregations then left those hours beyond the raw horizon, uncounted for good. Retention now exports
 * the raw events only up to the first period an aggregation has yet to compute (sql/028,
 * lambdas/retention/aggregation-hold.ts). Here retention runs before a due hourly aggregation (the
 * order the soak's catch-up ran them in); the oracle counts the fixture's events per hour itself.
 */
describe.each(DRIVERS)('retention waits for the aggregations (issue 24, L) through the %s driver', (driver) => {
  const HOUR = 3_600_000;
  const DAY0 = Date.parse('2026-10-05T08:00:00Z');
  /** Messages of two properties over seven UTC hours of 5 October (08:00–14:59Z), 1 to 4 an hour. */
  const EVENTS: Ev[] = [];
  for (let h = 0; h < 7; h++)
    for (let i = 0; i <= (h * 5) % 4; i++) {
      const at = new Date(DAY0 + h * HOUR + i * 7 * 60_000).toISOString();
      EVENTS.push(m(`w-${h}-${i}`, at, i % 2 ? 'hotel-b' : 'hotel-a', i === 2 ? 'message.sent' : 'message.received'));
    }
  /** Two days after the events: retention's cutoff (2 days here) is past every one of them. */
  const LATER = new Date(DAY0 + 2 * 24 * HOUR + 8 * HOUR);
  const twoDays = { policies: RETENTION_POLICIES.map((p) => (p.table === 'analytics_events' ? { ...p, days: 2 } : p)) };
  /** The oracle: events per (hour, property, direction), from the fixture. */
  const expectedHourly = (events: readonly Ev[]) => {
    const n = new Map<string, number>();
    for (const e of events) {
      const hour = new Date(Math.floor(Date.parse(e.at) / HOUR) * HOUR).toISOString();
      const k = `${hour}|${e.property}|${e.type === 'message.received' ? 'inbound' : 'outbound'}`;
      n.set(k, (n.get(k) ?? 0) + 1);
    }
    return [...n].map(([k, count]) => `${k}|${count}`).sort();
  };
  let db: TestDb;
  let asAggregate: Sql & { close(): Promise<void> };
  let asIngest: Sql & { close(): Promise<void> };
  let asRetention: Sql & { close(): Promise<void> };
  let store: Awaited<ReturnType<typeof s3>>;
  const hourly = (now: Date) =>
    runAggregation(
      { sql: asAggregate, log: memoryLog(), clock: { now: () => now } },
      aggregation('hourly_message_counts'),
      { kind: 'scheduled' },
      TZ,
    );
  const retention = (now: Date) => runRetention(asRetention, store.store, { tables: ['analytics_events'] }, twoDays, 600_000, now);
  const counted = async () =>
    (
      await db.direct.query<{ k: string }>(
        `SELECT to_char(period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.000"Z"') || '|' || property_id || '|' || direction || '|' || count AS k
           FROM agg_message_counts_hourly WHERE count > 0`,
      )
    )
      .map((r) => r.k)
      .sort();

  beforeAll(async () => {
    store = await s3();
  });
  afterAll(() => store.stop());
  beforeEach(async () => {
    db = await testDb(driver);
    await reconcileTestRoles(db);
    asAggregate = roleSql(db, 'dlc_aggregate', driver);
    asIngest = roleSql(db, 'dlc_ingest', driver);
    asRetention = roleSql(db, 'dlc_retention', driver);
    // Arrange: every event on time; the hourly job ran once, at 09:00:30Z (it computed 08:00Z, then stopped running)
    const r = await ingest({ sql: asIngest, clock: { now: () => new Date(DAY0 + 7 * HOUR) }, log: memoryLog(), timeZone: TZ }, [
      { recordId: 'on-time', body: body(EVENTS) },
    ]);
    expect(r).toMatchObject({ accepted: EVENTS.length, rejected: 0 });
    await hourly(new Date(DAY0 + HOUR + 30_000));
  });
  afterEach(async () => {
    await Promise.all([asAggregate.close(), asIngest.close(), asRetention.close()]);
    await db.close();
  });

  it('retention before a due aggregation exports only the computed hour and says why; the aggregation then counts every hour; the next retention exports the rest', async () => {
    // Act 1: retention two days later, before the hourly job has caught up
    const first = await retention(LATER);
    // Assert 1: only hour 08:00Z (computed) went cold; the table's report names the aggregation
    const hour8 = EVENTS.filter((e) => Date.parse(e.at) < DAY0 + HOUR).length;
    expect(first.outcome.counters).toMatchObject({ rows_exported: hour8, rows_deleted: hour8, tables_held_back: 1 });
    const [report] = first.outcome.tables;
    expect(report).toMatchObject({
      table: 'analytics_events',
      cutoff: new Date(DAY0 + HOUR).toISOString(),
      heldBack: {
        policyCutoff: new Date(LATER.getTime() - 2 * 24 * HOUR).toISOString(),
        by: `hourly_message_counts has computed only up to ${new Date(DAY0 + HOUR).toISOString()} in ${TZ}`,
      },
    });
    expect(first.log.lines.map((e) => e.message)).toContainEqual(expect.stringContaining('exported up to 2026-10-05T09:00:00.000Z'));
    // Act 2: the hourly job catches up
    const caughtUp = await hourly(new Date(LATER.getTime() + 30_000));
    // Assert 2: every hour counted, none left beyond the horizon
    expect(caughtUp.bucketsBeyondHorizon).toEqual([]);
    expect(await counted()).toEqual(expectedHourly(EVENTS));
    // Act 3 + Assert 3: the next retention run is not held and exports the rest
    const second = await retention(new Date(LATER.getTime() + 60_000));
    expect(second.outcome.tables[0]?.heldBack).toBeUndefined();
    expect(second.outcome.counters.tables_held_back).toBe(0);
    expect(second.outcome.counters).toMatchObject({ rows_exported: EVENTS.length - hour8, rows_deleted: EVENTS.length - hour8 });
    expect(await counted()).toEqual(expectedHourly(EVENTS));
  });

  it('a late event waiting to be recounted holds the raw events of its hour until the aggregation has claimed it', async () => {
    // Arrange: the job has caught up; then a late message for 11:00Z arrives (an invalidation of that hour)
    await hourly(new Date(LATER.getTime() - 3_600_000 + 30_000));
    const late = m('w-late', new Date(DAY0 + 3 * HOUR + 25 * 60_000).toISOString(), 'hotel-b');
    const r = await ingest({ sql: asIngest, clock: { now: () => LATER }, log: memoryLog(), timeZone: TZ }, [
      { recordId: 'late', body: body([late]) },
    ]);
    expect(r).toMatchObject({ accepted: 1, late: 0, invalidations: 1 });
    // Act: retention, then the aggregation, then retention
    const first = await retention(LATER);
    await hourly(new Date(LATER.getTime() + 30_000));
    const second = await retention(new Date(LATER.getTime() + 60_000));
    // Assert: held to 11:00Z by the invalidation, the late message counted, then everything exported
    expect(first.outcome.tables[0]).toMatchObject({
      cutoff: new Date(DAY0 + 3 * HOUR).toISOString(),
      heldBack: {
        by: `hourly_message_counts has late events to recount from ${new Date(DAY0 + 3 * HOUR).toISOString()} (agg_invalidations)`,
      },
    });
    expect(await counted()).toEqual(expectedHourly([...EVENTS, late]));
    expect(first.outcome.counters.rows_exported + second.outcome.counters.rows_exported).toBe(EVENTS.length + 1);
    expect(await db.direct.query('SELECT count(*)::int AS n FROM analytics_events')).toEqual([{ n: 0 }]);
  });

  it('a zone the aggregations still run holds the raw events back; one no property is in any more does not', async () => {
    // Arrange: the hourly job has caught up in Madrid; New York's watermark stopped ten days before the events
    await hourly(new Date(LATER.getTime() - HOUR + 30_000));
    const ny = 'America/New_York';
    await db.direct.execute(
      `INSERT INTO agg_watermarks (agg_table, unit, time_zone, event_types, aggregated_through, covers_unregistered, computed_through)
       VALUES ('agg_message_counts_hourly', 'hour', $1::text, '{}', $2::timestamptz, false, $2::timestamptz)`,
      [
        { sqlType: 'text', value: ny },
        { sqlType: 'timestamptz', value: new Date(DAY0 - 10 * 24 * HOUR) },
      ],
    );
    await db.direct.execute("INSERT INTO properties (property_id, time_zone) VALUES ('hotel-ny', $1::text)", [
      { sqlType: 'text', value: ny },
    ]);
    // Act 1 + Assert 1: a property is in New York: its periods there are still to compute, nothing goes
    const held = await retention(LATER);
    expect(held.outcome.counters.rows_exported).toBe(0);
    expect(held.outcome.tables[0]?.heldBack?.by).toBe(
      `hourly_message_counts has computed only up to ${new Date(DAY0 - 10 * 24 * HOUR).toISOString()} in ${ny}`,
    );
    // Act 2 + Assert 2: the property moves to Madrid; New York's row stays, and no run will ever advance it
    await db.direct.execute("UPDATE properties SET time_zone = 'Europe/Madrid' WHERE property_id = 'hotel-ny'");
    const free = await retention(new Date(LATER.getTime() + 60_000));
    expect(free.outcome.tables[0]?.heldBack).toBeUndefined();
    expect(free.outcome.counters.rows_exported).toBe(EVENTS.length);
  });

  it('a zone change still to re-derive holds the property’s raw events until every aggregation has re-derived it', async () => {
    // Arrange: the hourly job has caught up; then hotel-b moves to New York (one re-derivation per aggregate table)
    await hourly(new Date(LATER.getTime() - HOUR + 30_000));
    const moved = await setProperty(db.sql, { propertyId: 'hotel-b', timeZone: 'America/New_York', defaultZone: TZ });
    expect(moved.previousTimeZone).toBe(TZ);
    const firstB = Math.min(...EVENTS.filter((e) => e.property === 'hotel-b').map((e) => Date.parse(e.at)));
    const beforeB = EVENTS.filter((e) => Date.parse(e.at) < firstB).length;
    // Act 1 + Assert 1: held at hotel-b's first event (named by the first aggregate table in order)
    const held = await retention(LATER);
    expect(held.outcome.tables[0]).toMatchObject({
      cutoff: new Date(firstB).toISOString(),
      heldBack: {
        by: `daily_conversation_metrics has to re-derive hotel-b in its new zone, from its first event at ${new Date(firstB).toISOString()} (property_rederivations)`,
      },
    });
    expect(held.outcome.counters.rows_exported).toBe(beforeB);
    // Act 2 + Assert 2: every aggregation re-derives it (as its next scheduled run does); nothing is held then
    for (const def of AGGREGATIONS) {
      const done = await runRederivations({ sql: asAggregate, log: memoryLog(), clock: { now: () => LATER } }, def, TZ);
      expect(done.filter((d) => d.error)).toEqual([]);
    }
    const free = await retention(new Date(LATER.getTime() + 60_000));
    expect(free.outcome.tables[0]?.heldBack).toBeUndefined();
    expect(free.outcome.counters.rows_exported).toBe(EVENTS.length - beforeB);
  });

  // defined with the pg driver only: the CLI connects to DATABASE_URL itself
  if (driver === 'pg')
    it('the CLI in human mode says what was held back and by whom', async () => {
      const out = jest.spyOn(console, 'log').mockImplementation(() => {});
      const err = jest.spyOn(console, 'error').mockImplementation(() => {});
      const args = ['retention', '--table', 'analytics_events', '--days', 'analytics_events=2', '--ledger-file', join(dir, 'held.json')];
      try {
        await withCliEnv(db.url, store.url, async () => {
          // the real clock: two days ago is long after the events; the hourly job computed 08:00Z of 5 October only
          expect(await runCli([...args, '--dry-run'])).toBe(0);
          const held = new RegExp(
            `^analytics_events: held back to 2026-10-05T09:00:00.000Z \\(the policy's cutoff is \\S+\\): hourly_message_counts has computed only up to 2026-10-05T09:00:00.000Z in ${TZ}$`,
          );
          expect(String(out.mock.calls[0]?.[0])).toMatch(held);
          expect(String(out.mock.calls[1]?.[0])).toMatch(/^analytics_events: cutoff 2026-10-05T09:00:00.000Z, 1 row over 1 day/);
          out.mockClear();
          expect(await runCli(args)).toBe(0);
          expect(String(out.mock.calls[0]?.[0])).toMatch(held);
          expect(String(out.mock.calls[1]?.[0])).toMatch(/^analytics_events: cutoff 2026-10-05T09:00:00.000Z; exported 1, deleted 1 rows/);
        });
        expect(err).not.toHaveBeenCalled();
      } finally {
        out.mockRestore();
        err.mockRestore();
      }
    });
});
