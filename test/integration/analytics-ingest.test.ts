import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { AnalyticsCollector } from '../../lambdas/ingest/client';
import { ingest } from '../../lambdas/ingest/ingest';
import { processSqsBatch } from '../../lambdas/ingest/sqs';
import { memoryLog, memoryMetrics } from '../../lambdas/shared/observability';
import type { Sql, SqlExecutor, SqlParam } from '../../lambdas/shared/sql/types';
import { DRIVERS, type TestDb, testDb } from '../support/db';

const NOW = new Date('2025-10-21T10:00:00Z');
const clock = { now: () => NOW };
const ev = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  eventType: 'message.received',
  timestamp: '2025-10-21T09:59:00Z',
  propertyId: 'hotel-a',
  channel: 'whatsapp',
  conversationId: 'c1',
  ...extra,
});
const body = (...events: unknown[]) => JSON.stringify({ events });
const sqsEvent = (records: { id: string; body: string }[]): SQSEvent => ({
  Records: records.map((r) => ({
    messageId: r.id,
    receiptHandle: `rh-${r.id}`,
    body: r.body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '0',
      SenderId: 'x',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {},
    md5OfBody: 'x',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:dlc-dev-analytics-events',
    awsRegion: 'eu-west-1',
  })),
});

/** The real database until `down` is set: then every statement fails as a lost connection would. */
function withOutage(sql: Sql, failAfterCalls: number): Sql & { calls: number } {
  const wrapper = Object.create(sql) as Sql & { calls: number };
  wrapper.calls = 0;
  const outage =
    (run: SqlExecutor) =>
    async <T extends Record<string, unknown>>(text: string, params?: readonly SqlParam[]) => {
      wrapper.calls++;
      if (wrapper.calls > failAfterCalls) throw new Error('Connection terminated unexpectedly');
      return run.query<T>(text, params);
    };
  wrapper.query = outage(sql);
  // statements in a transaction count too (each chunk is written in one)
  wrapper.transaction = (fn) => sql.transaction((tx) => fn(Object.assign(Object.create(tx) as SqlExecutor, { query: outage(tx) })));
  return wrapper;
}

describe.each(DRIVERS)('analytics ingest through the %s driver', (driver) => {
  let db: TestDb;
  beforeEach(async () => {
    db = await testDb(driver);
  });
  afterEach(() => db.close());
  const count = async (table: string) =>
    ((await db.direct.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0] as { n: number }).n;

  it('a duplicate delivery inserts once', async () => {
    const deps = { sql: db.sql, clock, log: memoryLog() };
    const record = { recordId: 'm1', body: body(ev('evt_1'), ev('evt_2'), ev('evt_1')) };
    const first = await ingest(deps, [record]);
    const again = await ingest(deps, [{ ...record, recordId: 'm1-redelivered' }]);
    expect(first).toMatchObject({ accepted: 2, duplicates: 1, rejected: 0, failedRecordIds: [] });
    expect(again).toMatchObject({ accepted: 0, duplicates: 3, rejected: 0, failedRecordIds: [] });
    expect(
      await db.direct.query(
        'SELECT id, event_type, occurred_at, property_id, channel, conversation_id, metadata FROM analytics_events ORDER BY id',
      ),
    ).toEqual([
      {
        id: 'evt_1',
        event_type: 'message.received',
        occurred_at: '2025-10-21T09:59:00.000Z',
        property_id: 'hotel-a',
        channel: 'whatsapp',
        conversation_id: 'c1',
        metadata: {},
      },
      {
        id: 'evt_2',
        event_type: 'message.received',
        occurred_at: '2025-10-21T09:59:00.000Z',
        property_id: 'hotel-a',
        channel: 'whatsapp',
        conversation_id: 'c1',
        metadata: {},
      },
    ]);
  });

  it('an impossible date is rejected with its reason, never moved to the next month; text reading \\u0000 is stored as sent (issue 23: defects 5, 8)', async () => {
    const deps = { sql: db.sql, clock, log: memoryLog() };
    const literal = { path: 'C:\\u0000\\logs', '\\u0000': 'key too' };
    const r = await ingest(deps, [
      {
        recordId: 'm1',
        body: body(
          ev('sept-31', { timestamp: '2025-09-31T10:00+02:00' }),
          ev('hour-24', { timestamp: '2025-10-20T24:00:00Z' }),
          ev('literal', { metadata: literal }),
          ev('real-nul', { metadata: { note: 'a\u0000b' } }),
        ),
      },
    ]);
    expect(r).toMatchObject({ accepted: 1, rejected: 3, failedRecordIds: [] });
    expect(await db.direct.query('SELECT event_id, reason FROM analytics_events_rejected ORDER BY event_id')).toEqual([
      { event_id: 'hour-24', reason: 'timestamp "2025-10-20T24:00:00Z" is not a real date and time: hours go from 00 to 23' },
      { event_id: 'real-nul', reason: 'metadata contains a NUL character (U+0000), which PostgreSQL cannot store' },
      {
        event_id: 'sept-31',
        reason: 'timestamp "2025-09-31T10:00+02:00" is not a real date and time: September 2025 has 30 days',
      },
    ]);
    expect(await db.direct.query('SELECT id, metadata FROM analytics_events')).toEqual([{ id: 'literal', metadata: literal }]);
    expect(
      await db.direct.query(
        "SELECT count(*)::int AS n FROM analytics_events WHERE occurred_at >= '2025-10-01' AND occurred_at < '2025-10-02'",
      ),
    ).toEqual([{ n: 0 }]);
  });

  it('invalid events land in analytics_events_rejected with their reasons while the rest of the batch is inserted', async () => {
    const metrics = memoryMetrics();
    const { response, result } = await processSqsBatch(
      { sql: db.sql, clock, log: memoryLog(), metrics },
      sqsEvent([
        {
          id: 'm1',
          body: body(
            ev('ok-1'),
            ev('bad-type', { eventType: 'message.teleported' }),
            ev('future', { timestamp: '2025-10-21T10:06:00Z' }),
            ev('too-old', { timestamp: '2025-07-01T00:00:00Z' }),
            ev('ok-2', { eventType: 'satisfaction.rating_received', value: 5 }),
          ),
        },
        {
          id: 'm2',
          body: body(
            ev('no-property', { propertyId: '' }),
            ev('bad-number', { value: 'NaN', durationMs: -3 }),
            ev('bad-rating', { eventType: 'satisfaction.rating_received', value: 7 }),
            ev('big-meta', { metadata: { blob: 'x'.repeat(17_000) } }),
            ev('meta-array', { metadata: [1, 2] }),
            ev('extra', { colour: 'blue' }),
            ev('ok-3'),
          ),
        },
        { id: 'm3', body: 'this is not JSON \u0000' },
      ]),
    );
    expect(result.errors).toEqual([]);
    expect(response).toEqual({ batchItemFailures: [] });
    expect(result).toMatchObject({ accepted: 3, rejected: 10 });
    expect(metrics.values).toMatchObject({ EventsAccepted: 3, EventsRejected: 10, RecordsFailed: 0 });
    expect((await db.direct.query('SELECT id FROM analytics_events ORDER BY id')).map((r) => r.id)).toEqual(['ok-1', 'ok-2', 'ok-3']);
    const rejected = await db.direct.query<{ event_id: string | null; reason: string; raw: string; source: string }>(
      'SELECT event_id, reason, raw, source FROM analytics_events_rejected ORDER BY id',
    );
    expect(rejected.map((r) => [r.event_id, r.reason])).toEqual([
      ['bad-type', 'eventType "message.teleported" is not one of the 25 event types'],
      ['future', 'timestamp 2025-10-21T10:06:00Z is more than 5 min in the future'],
      ['too-old', 'timestamp 2025-07-01T00:00:00Z is older than the raw-event retention (90 days)'],
      ['no-property', 'propertyId is required'],
      ['bad-number', 'value must be a finite number; durationMs must be an integer from 0 to 2147483647'],
      ['bad-rating', 'a satisfaction.rating_received event needs value 1–5 (an integer rating)'],
      ['big-meta', expect.stringMatching(/^metadata is 170\d\d bytes, more than 16384$/)],
      ['meta-array', 'metadata must be a JSON object'],
      ['extra', 'unknown field "colour"'],
      [null, expect.stringMatching(/^message body is not JSON: /)],
    ]);
    expect(JSON.parse(rejected[0]?.raw ?? '')).toEqual(ev('bad-type', { eventType: 'message.teleported' }));
    expect(rejected[9]?.raw).toBe('this is not JSON \\u0000');
    expect(new Set(rejected.map((r) => r.source))).toEqual(new Set(['sqs']));
  });

  it('a database outage fails exactly the records in hand; the records already written stay written', async () => {
    // the raw horizon (read once per pass) and the first chunk go through, then the database is gone
    const sql = withOutage(db.sql, 2);
    const { response, result } = await processSqsBatch(
      { sql, clock, log: memoryLog(), chunkEvents: 2 },
      sqsEvent([
        { id: 'm1', body: body(ev('a1'), ev('a2')) },
        { id: 'm2', body: body(ev('b1'), ev('b2')) },
        { id: 'm3', body: body(ev('c1'), ev('bad', { eventType: 'nope' })) },
      ]),
    );
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }, { itemIdentifier: 'm3' }] });
    expect(result.failedRecordIds).toEqual(['m2', 'm3']);
    expect((await db.direct.query('SELECT id FROM analytics_events ORDER BY id')).map((r) => r.id)).toEqual(['a1', 'a2']);
    expect(await count('analytics_events_rejected')).toBe(0); // m3's rejection is retried with it, not half-written
    // SQS redelivers m2 and m3 once the database is back: each event lands once.
    const retry = await processSqsBatch(
      { sql: db.sql, clock, log: memoryLog() },
      sqsEvent([
        { id: 'm2', body: body(ev('b1'), ev('b2')) },
        { id: 'm3', body: body(ev('c1'), ev('bad', { eventType: 'nope' })) },
      ]),
    );
    expect(retry.response).toEqual({ batchItemFailures: [] });
    expect(await count('analytics_events')).toBe(5);
    expect(await count('analytics_events_rejected')).toBe(1);
  });

  it('a redelivered record does not keep its rejected events twice; the same bad event in a new message is kept again', async () => {
    const bad = body(ev('ok-r'), ev('bad-r', { eventType: 'nope' }), ev('bad-r2', { value: 'NaN' }));
    const first = await processSqsBatch(
      { sql: db.sql, clock, log: memoryLog() },
      sqsEvent([
        { id: 'r1', body: bad },
        { id: 'r2', body: '{' },
      ]),
    );
    expect(first.result).toMatchObject({ accepted: 1, rejected: 3, rejectedDuplicates: 0 });
    // SQS redelivers both messages (say the Lambda timed out after the commit).
    const again = await processSqsBatch(
      { sql: db.sql, clock, log: memoryLog() },
      sqsEvent([
        { id: 'r1', body: bad },
        { id: 'r2', body: '{' },
      ]),
    );
    expect(again.result).toMatchObject({ accepted: 0, duplicates: 1, rejected: 0, rejectedDuplicates: 3 });
    expect(await count('analytics_events_rejected')).toBe(3);
    // The app sends the same bad events again, in a new message: a new occurrence, kept.
    const resent = await processSqsBatch({ sql: db.sql, clock, log: memoryLog() }, sqsEvent([{ id: 'r3', body: bad }]));
    expect(resent.result).toMatchObject({ rejected: 2, rejectedDuplicates: 0 });
    expect(await count('analytics_events_rejected')).toBe(5);
  });

  it('the whole batch failing is reported record by record (no exception), so SQS retries each', async () => {
    const { response } = await processSqsBatch(
      { sql: withOutage(db.sql, 0), clock, log: memoryLog() },
      sqsEvent([
        { id: 'm1', body: body(ev('a1')) },
        { id: 'm2', body: body(ev('b1')) },
      ]),
    );
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }] });
  });

  it('end to end: what the collector sends (SQS double) is what the ingest inserts', async () => {
    const sqs = mockClient(SQSClient);
    const bodies: { id: string; body: string }[] = [];
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries?: { Id: string; MessageBody: string }[] }) => {
      for (const e of input.Entries ?? []) bodies.push({ id: `msg-${bodies.length}`, body: e.MessageBody as string });
      return { Successful: (input.Entries ?? []).map((e) => ({ Id: e.Id, MessageId: 'x', MD5OfMessageBody: 'x' })), Failed: [] };
    });
    const c = new AnalyticsCollector({
      client: new SQSClient({ region: 'eu-west-1' }),
      queueUrl: 'https://sqs.example/q',
      now: clock.now,
      maxMessageBytes: 4_000,
    });
    for (let i = 0; i < 150; i++)
      c.record({ eventType: 'conversation.started', propertyId: 'hotel-a', channel: 'sms', conversationId: `c${i}` });
    c.record({ eventType: 'conversation.started', propertyId: '' });
    await c.close();
    sqs.restore();
    expect(bodies.length).toBeGreaterThan(1);
    const { response, result } = await processSqsBatch({ sql: db.sql, clock, log: memoryLog() }, sqsEvent(bodies));
    expect(response.batchItemFailures).toEqual([]);
    expect(result).toMatchObject({ accepted: 150, rejected: 1 });
  });
});
