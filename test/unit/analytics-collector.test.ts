import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { AnalyticsCollector } from '../../lambdas/ingest/client';

const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/dlc-dev-analytics-events';
const sqs = mockClient(SQSClient);
const NOW = new Date('2025-10-21T10:00:00Z');

type Entry = { Id: string; MessageBody: string };
const calls = () => sqs.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input.Entries as Entry[]);
const eventsIn = (entries: Entry[]) => entries.flatMap((e) => (JSON.parse(e.MessageBody) as { events: { id: string }[] }).events);
const ok = (entries: Entry[] | undefined) => ({
  Successful: (entries ?? []).map((e) => ({ Id: e.Id, MessageId: `mid-${e.Id}`, MD5OfMessageBody: 'x' })),
  Failed: [],
});

function collector(options: Partial<ConstructorParameters<typeof AnalyticsCollector>[0]> = {}) {
  return new AnalyticsCollector({
    client: new SQSClient({ region: 'eu-west-1' }),
    queueUrl: QUEUE,
    now: () => NOW,
    baseDelayMs: 1,
    ...options,
  });
}
const event = (i: number, extra: Record<string, unknown> = {}) => ({
  eventType: 'message.received' as const,
  propertyId: 'hotel-a',
  channel: 'whatsapp',
  conversationId: `c${i}`,
  ...extra,
});

beforeEach(() => {
  sqs.reset();
  sqs.on(SendMessageBatchCommand).callsFake((input) => ok(input.Entries));
});

describe('AnalyticsCollector against an SQS double at the SDK boundary', () => {
  it('buffers, and flushes by itself at 100 events (seed 001): ids evt_… and timestamps filled in', async () => {
    const c = collector({ flushIntervalMs: 60_000 });
    for (let i = 0; i < 99; i++) c.record(event(i));
    expect(calls()).toHaveLength(0);
    expect(c.buffered).toBe(99);
    c.record(event(99));
    await c.flush();
    const sent = eventsIn(calls().flat());
    expect(sent).toHaveLength(100);
    expect(sent[0]).toMatchObject({
      id: expect.stringMatching(/^evt_[0-9a-f-]{36}$/),
      timestamp: NOW.toISOString(),
      eventType: 'message.received',
    });
    expect(new Set(sent.map((e) => e.id)).size).toBe(100);
    expect(c.stats).toMatchObject({ recorded: 100, sent: 100, invalid: 0, undelivered: 0 });
    await c.close();
  });

  it('flushes every 5 s when fewer than 100 events are buffered', async () => {
    jest.useFakeTimers();
    try {
      const c = collector();
      c.record(event(1));
      c.record(event(2));
      await jest.advanceTimersByTimeAsync(4_999);
      expect(calls()).toHaveLength(0);
      await jest.advanceTimersByTimeAsync(1);
      await c.flush();
      expect(eventsIn(calls().flat())).toHaveLength(2);
      await c.close();
    } finally {
      jest.useRealTimers();
    }
  });

  it('packs many events per message, ≤ 10 entries and ≤ 256 KiB per call', async () => {
    const c = collector({ batchSize: 10_000 });
    const pad = 'x'.repeat(10_000);
    for (let i = 0; i < 300; i++) c.record(event(i, { metadata: { note: pad } }));
    await c.close();
    const all = calls();
    expect(eventsIn(all.flat())).toHaveLength(300);
    for (const entries of all) {
      expect(entries.length).toBeLessThanOrEqual(10);
      expect(entries.reduce((n, e) => n + Buffer.byteLength(e.MessageBody), 0)).toBeLessThanOrEqual(256 * 1024);
    }
    expect(all.flat().length).toBeLessThan(300 / 10); // many events per message
  });

  it('retries the entries SendMessageBatch reports as failed (with backoff), and sends nothing twice', async () => {
    let n = 0;
    sqs.on(SendMessageBatchCommand).callsFake((input) => {
      n++;
      const entries = input.Entries as Entry[];
      if (n === 1)
        return {
          Successful: ok(entries.slice(1)).Successful,
          Failed: [{ Id: entries[0]?.Id, SenderFault: false, Code: 'ServiceUnavailable', Message: 'try again' }],
        };
      return ok(entries);
    });
    const c = collector({ batchSize: 10_000, maxMessageBytes: 2_000 });
    for (let i = 0; i < 40; i++) c.record(event(i));
    await c.close();
    const [first, second] = calls();
    expect(first?.length).toBeGreaterThan(1);
    expect(second).toHaveLength(1);
    expect(second?.[0]?.MessageBody).toBe(first?.[0]?.MessageBody);
    const ids = eventsIn([...(first ?? []).slice(1), ...(second ?? [])]).map((e) => e.id);
    expect(new Set(ids).size).toBe(40);
    expect(ids).toHaveLength(40);
    expect(c.stats).toMatchObject({ sent: 40, retries: 1, undelivered: 0 });
  });

  it('never throws into the caller, and close() hands over what SQS never accepted (nothing lost)', async () => {
    sqs.on(SendMessageBatchCommand).rejects(new Error('network down'));
    const undelivered: unknown[] = [];
    const c = collector({ batchSize: 10_000, maxAttempts: 3, onUndelivered: (events) => undelivered.push(...events) });
    for (let i = 0; i < 25; i++) expect(() => c.record(event(i))).not.toThrow();
    await expect(c.close()).resolves.toBeUndefined();
    expect(calls()).toHaveLength(3);
    expect(undelivered).toHaveLength(25);
    expect(c.stats).toMatchObject({ recorded: 25, sent: 0, undelivered: 25 });
  });

  it('validates on the spot: an invalid event is reported, and still sent so the ingest keeps it with its reason', async () => {
    const invalid: string[] = [];
    const c = collector({ onInvalid: (_e, reason) => invalid.push(reason) });
    expect(c.record(event(1, { eventType: 'message.teleported' as never }))).toBe(false);
    expect(c.record(event(2, { timestamp: new Date('2025-10-21T11:00:00Z') }))).toBe(false);
    expect(c.record(event(3))).toBe(true);
    await c.close();
    expect(invalid).toEqual([
      expect.stringContaining('eventType "message.teleported" is not one of the 25 event types'),
      expect.stringContaining('more than 5 min in the future'),
    ]);
    expect(eventsIn(calls().flat())).toHaveLength(3);
    expect(c.stats).toMatchObject({ recorded: 3, invalid: 2, sent: 3 });
  });

  it('NaN, ±Infinity and invalid Dates are neither sent altered nor dropped: rejected here, handed to onUndelivered, counted (issue 23: defect 7)', async () => {
    const invalid: string[] = [];
    const undelivered: { events: readonly unknown[]; reason: string }[] = [];
    const errors: Error[] = [];
    const c = collector({
      onInvalid: (_e, reason) => invalid.push(reason),
      onUndelivered: (events, reason) => undelivered.push({ events, reason }),
      onError: (e) => errors.push(e),
    });
    const bad = [
      event(1, { id: 'nan', eventType: 'satisfaction.rating_received', value: Number.NaN }),
      event(2, { id: 'inf', durationMs: Number.POSITIVE_INFINITY }),
      event(3, { id: 'meta', metadata: { score: Number.NEGATIVE_INFINITY, when: new Date('garbage') } }),
      event(4, { id: 'date', timestamp: new Date('not a date') }),
    ];
    for (const e of bad) expect(c.record(e)).toBe(false);
    expect(c.record(event(5, { id: 'fine', value: 0.5 }))).toBe(true);
    await c.close();
    // only the faithful event went out; the value NaN never arrived as null
    expect(eventsIn(calls().flat()).map((e) => e.id)).toEqual(['fine']);
    expect(undelivered.map((u) => [(u.events[0] as { id: string }).id, u.reason])).toEqual([
      ['nan', 'not sent: JSON cannot carry value = NaN as recorded (it would arrive altered)'],
      ['inf', 'not sent: JSON cannot carry durationMs = Infinity as recorded (it would arrive altered)'],
      [
        'meta',
        'not sent: JSON cannot carry metadata.score = -Infinity, metadata.when = an invalid Date as recorded (it would arrive altered)',
      ],
      ['date', 'not sent: JSON cannot carry timestamp = an invalid Date as recorded (it would arrive altered)'],
    ]);
    expect(undelivered[3]?.events[0]).toMatchObject({ id: 'date', timestamp: expect.any(Date) }); // handed over as recorded
    expect(invalid).toEqual(undelivered.map((u) => u.reason));
    expect(c.stats).toMatchObject({ recorded: 1, invalid: 4, undelivered: 4, sent: 1 });
    expect(errors).toEqual([]);
  });
});
