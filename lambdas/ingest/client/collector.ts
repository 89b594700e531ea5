/**
 * Seed 001's AnalyticsCollector for the application: `record(event)` validates on the spot, buffers,
 * and sends to the ingest queue with SendMessageBatch (many events per message, ≤ 10 entries and
 * ≤ 256 KiB per call), flushing at 100 events or every 5 s (both configurable). Failed entries are
 * retried with exponential backoff. It never throws into the caller's request path; `close()`
 * resolves once every buffered event is sent, or handed to `onUndelivered` (never silently lost).
 *
 * An event that fails validation is reported (`onInvalid`, `stats.invalid`) and still sent: the
 * ingest Lambda keeps it in analytics_events_rejected with the reason, where it can be looked at.
 * Except an event JSON cannot carry as recorded — a NaN or ±Infinity anywhere (JSON writes them as
 * null, so `value: NaN` would arrive as "no value" and be accepted), an invalid Date (no instant at
 * all): sending it would alter it, so it is rejected here, reported (`onInvalid`) and handed to
 * `onUndelivered`, counted in `stats.invalid` and `stats.undelivered`; never sent, never dropped silently.
 */
import { randomUUID } from 'node:crypto';
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import { type AnalyticsEvent, DEFAULT_RULES, type ValidationRules, validateEvent } from '../event';

export type RecordInput = Omit<AnalyticsEvent, 'id' | 'timestamp'> & { id?: string; timestamp?: Date | string };

export interface CollectorOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  /** Flush when this many events are buffered (seed 001: 100). */
  readonly batchSize?: number;
  /** Flush at least this often (seed 001: 5000 ms). */
  readonly flushIntervalMs?: number;
  /** Bytes per SendMessageBatch call, all entries together (SQS: 256 KiB). @default 256 KiB */
  readonly maxBatchBytes?: number;
  /** Bytes per message (SQS: 256 KiB). @default 256 KiB */
  readonly maxMessageBytes?: number;
  /** Attempts per entry before it is handed to onUndelivered. @default 5 */
  readonly maxAttempts?: number;
  readonly baseDelayMs?: number;
  readonly rules?: ValidationRules;
  readonly now?: () => Date;
  readonly onInvalid?: (event: unknown, reason: string) => void;
  /** Events that could not be sent after every retry (e.g. to write them to a local file). */
  readonly onUndelivered?: (events: readonly unknown[], reason: string) => void;
  readonly onError?: (error: Error) => void;
}

export interface CollectorStats {
  recorded: number;
  invalid: number;
  sent: number;
  messages: number;
  calls: number;
  retries: number;
  undelivered: number;
}

const ENVELOPE = '{"events":[]}'.length;

export class AnalyticsCollector {
  private buffer: string[] = [];
  private readonly timer: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  readonly stats: CollectorStats = { recorded: 0, invalid: 0, sent: 0, messages: 0, calls: 0, retries: 0, undelivered: 0 };
  private readonly o: Required<Omit<CollectorOptions, 'onInvalid' | 'onUndelivered' | 'onError'>> & CollectorOptions;

  constructor(options: CollectorOptions) {
    this.o = {
      batchSize: 100,
      flushIntervalMs: 5_000,
      maxBatchBytes: 256 * 1024,
      maxMessageBytes: 256 * 1024,
      maxAttempts: 5,
      baseDelayMs: 200,
      rules: DEFAULT_RULES,
      now: () => new Date(),
      ...options,
    };
    this.timer = setInterval(() => void this.flush(), this.o.flushIntervalMs);
    this.timer.unref();
  }

  /** Records one event (id `evt_…` and timestamp now when absent). Never throws; false if it was invalid. */
  record(input: RecordInput): boolean {
    try {
      const raw = input.timestamp;
      // an invalid Date stays as it is: reported below, not turned into an exception the caller never sees
      const ts = raw instanceof Date ? (Number.isNaN(raw.getTime()) ? raw : raw.toISOString()) : (raw ?? this.o.now().toISOString());
      const event = { ...input, id: input.id ?? `evt_${randomUUID()}`, timestamp: ts };
      const altered = unsendable(event);
      if (altered.length > 0) {
        const reason = `not sent: JSON cannot carry ${altered.join(', ')} as recorded (it would arrive altered)`;
        this.stats.invalid++;
        this.stats.undelivered++;
        this.o.onInvalid?.(event, reason);
        this.o.onUndelivered?.([event], reason);
        return false;
      }
      const v = validateEvent(event, this.o.now(), this.o.rules);
      let text: string;
      try {
        text = JSON.stringify(event);
      } catch (e) {
        this.stats.invalid++;
        this.o.onUndelivered?.([event], `not serializable: ${(e as Error).message}`);
        this.stats.undelivered++;
        return false;
      }
      if (this.closed) {
        this.o.onUndelivered?.([event], 'recorded after close()');
        this.stats.undelivered++;
        return false;
      }
      this.stats.recorded++;
      if (!v.ok) {
        this.stats.invalid++;
        this.o.onInvalid?.(event, v.reason);
      }
      this.buffer.push(text);
      if (this.buffer.length >= this.o.batchSize) void this.flush();
      return v.ok;
    } catch (e) {
      this.o.onError?.(e as Error);
      return false;
    }
  }

  /** Sends everything buffered now (flushes run one at a time). Never rejects. */
  flush(): Promise<void> {
    this.chain = this.chain.then(() => this.sendBuffered()).catch((e) => this.o.onError?.(e as Error));
    return this.chain;
  }

  /** Stops the timer and flushes until the buffer is empty. Events recorded afterwards go to onUndelivered. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.closed = true;
    while (this.buffer.length > 0) await this.flush();
    await this.chain;
  }

  get buffered(): number {
    return this.buffer.length;
  }

  private async sendBuffered(): Promise<void> {
    while (this.buffer.length > 0) {
      const events = this.buffer.splice(0);
      // Pack events into messages, messages into calls (≤ 10 entries, ≤ maxBatchBytes per call).
      const calls: string[][][] = [];
      let call: string[][] = [];
      let callBytes = 0;
      let message: string[] = [];
      let messageBytes = ENVELOPE;
      const closeMessage = () => {
        if (message.length === 0) return;
        if (call.length === 10 || callBytes + messageBytes > this.o.maxBatchBytes) {
          calls.push(call);
          call = [];
          callBytes = 0;
        }
        call.push(message);
        callBytes += messageBytes;
        message = [];
        messageBytes = ENVELOPE;
      };
      for (const e of events) {
        const size = Buffer.byteLength(e) + 1;
        const limit = Math.min(this.o.maxBatchBytes, this.o.maxMessageBytes);
        if (ENVELOPE + size > limit) {
          this.stats.undelivered++;
          this.o.onUndelivered?.([JSON.parse(e)], `event of ${size} bytes exceeds the ${limit}-byte message limit`);
          continue;
        }
        if (messageBytes + size > limit) closeMessage();
        message.push(e);
        messageBytes += size;
      }
      closeMessage();
      if (call.length > 0) calls.push(call);
      for (const c of calls) await this.sendCall(c);
    }
  }

  private async sendCall(messages: string[][]): Promise<void> {
    let pending: { entry: SendMessageBatchRequestEntry; events: string[] }[] = messages.map((events, i) => ({
      entry: { Id: `m${i}`, MessageBody: `{"events":[${events.join(',')}]}` },
      events,
    }));
    let lastReason = '';
    for (let attempt = 1; attempt <= this.o.maxAttempts && pending.length > 0; attempt++) {
      if (attempt > 1) {
        this.stats.retries += pending.length;
        await sleep(this.o.baseDelayMs * 2 ** (attempt - 2) * (0.5 + Math.random() / 2));
      }
      this.stats.calls++;
      try {
        const out = await this.o.client.send(
          new SendMessageBatchCommand({ QueueUrl: this.o.queueUrl, Entries: pending.map((p) => p.entry) }),
        );
        const failed = new Map((out.Failed ?? []).map((f) => [f.Id, f]));
        const next: typeof pending = [];
        for (const p of pending) {
          const f = failed.get(p.entry.Id);
          if (!f) {
            this.stats.sent += p.events.length;
            this.stats.messages++;
          } else if (f.SenderFault) {
            // The request itself is wrong (a retry cannot help): hand the events over.
            this.stats.undelivered += p.events.length;
            this.o.onUndelivered?.(
              p.events.map((e) => JSON.parse(e)),
              `${f.Code}: ${f.Message ?? ''}`,
            );
          } else {
            lastReason = `${f.Code}: ${f.Message ?? ''}`;
            next.push(p);
          }
        }
        pending = next;
      } catch (e) {
        lastReason = (e as Error).message;
        this.o.onError?.(e as Error);
      }
    }
    if (pending.length > 0) {
      const events = pending.flatMap((p) => p.events);
      this.stats.undelivered += events.length;
      this.o.onUndelivered?.(
        events.map((e) => JSON.parse(e)),
        `not sent after ${this.o.maxAttempts} attempts: ${lastReason}`,
      );
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * What JSON would not carry as recorded, by path: non-finite numbers (written as null) and invalid
 * Dates (no instant), anywhere in the event. Plain objects and arrays are walked (each once).
 */
export function unsendable(event: unknown): string[] {
  const found: string[] = [];
  const seen = new Set<object>();
  const stack: [string, unknown][] = [['', event]];
  while (stack.length > 0 && found.length < 10) {
    const [path, v] = stack.pop() as [string, unknown];
    if (typeof v === 'number' && !Number.isFinite(v)) found.push(`${path} = ${v}`);
    else if (v instanceof Date) {
      if (Number.isNaN(v.getTime())) found.push(`${path} = an invalid Date`);
    } else if (typeof v === 'object' && v !== null && !seen.has(v)) {
      seen.add(v);
      const entries = Array.isArray(v)
        ? v.map((x, i) => [`${path}[${i}]`, x] as [string, unknown])
        : Object.entries(v).map(([k, x]) => [path ? `${path}.${k}` : k, x] as [string, unknown]);
      for (let i = entries.length - 1; i >= 0; i--) stack.push(entries[i] as [string, unknown]); // no spread: any length
    }
  }
  return found;
}
