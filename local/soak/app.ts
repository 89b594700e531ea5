/**
 * The workload: the app as the jobs see it. Conversations written as seed-layout checkpoints (one key
 * per session, rewritten at every turn; messages with ids, some edited) and, for a share of the
 * threads, by a real LangGraph graph with the real RedisSaver / ShallowRedisSaver (saver-child.ts,
 * on the virtual clock; some turns through a subgraph); threads that come back after they were
 * archived, analytics events delivered to the ingest function as SQS-like records (with
 * redeliveries, duplicates and invalid events), and audits for the backfill. Everything is journaled
 * once the write is acknowledged; a write that failed is retried until it is.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type IngestRecord, ingest } from '../../lambdas/ingest/ingest';
import { memoryLog } from '../../lambdas/shared/observability';
import type { Sql } from '../../lambdas/shared/sql/types';
import { putWithAge, seedValue, sentence } from '../fixtures';
import { DAY, HOUR, type Rng, type VirtualClock } from './clock';
import type { Journal } from './journal';
import { type SaverMessage, type SaverTurn, shapeOf } from './saver-child';
import type { SaverPort } from './saver-threads';

export const SEED_PREFIX = 'langgraph:checkpoint:';
/** The deployment's zone: the aggregations' default, and the zone of a property not registered. */
export const DEFAULT_ZONE = 'Europe/Madrid';
/**
 * Each property in its own zone (registered before the workload starts): one behind UTC, one with a
 * half-hour offset (its hours start at :30 UTC), one left unregistered in the deployment's zone.
 */
export const PROPERTY_ZONES: Readonly<Record<string, string>> = {
  'hotel-norte': 'America/New_York',
  'hotel-sur': DEFAULT_ZONE,
  'hostal-centro': 'Asia/Kolkata',
};
const PROPERTIES = Object.keys(PROPERTY_ZONES);
const CHANNELS = ['whatsapp', 'web', 'messenger'];
const OTHER_TYPES = ['conversation.started', 'response.time_recorded', 'satisfaction.rating_received', 'intent.classified'];
/** A thread idle longer than this starts a new session (a new checkpoint key); below the archive's 23 h cutoff. */
const SESSION_IDLE_MS = 20 * HOUR;
/** The share of new threads written by the real LangGraph savers (half full, half shallow), when the app has them. */
const SAVER_SHARE = 0.3;

interface Msg {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  timestamp: string;
}

interface Thread {
  /** The conversation id (seed layout) or the LangGraph thread_id (saver threads): the conversation key either way. */
  readonly conv: string;
  readonly customer: string;
  /** Written by the real LangGraph saver of this kind (undefined: seed 000's layout). */
  readonly saver?: SaverTurn['kind'];
  /** Some of its turns go through the `booking` subgraph. */
  readonly subgraph?: boolean;
  /** A saver thread's turn not yet acknowledged (sent again until it is). */
  pending?: Omit<SaverTurn, 'seq'>;
  /** A saver thread's last acknowledged turn (sent again after the nemesis clobbered one of its keys). */
  lastTurn?: Omit<SaverTurn, 'seq'>;
  /** A key of the thread the app retyped: deleted before the turn is sent again. */
  retyped?: string;
  /** Virtual ms at which a saver thread's current session began. */
  sessionStart?: number;
  /** Every message the thread ever had (the app's own record), by id. */
  readonly all: Map<string, Msg>;
  session?: { key: string; messages: Msg[]; ts: string };
  /** Virtual ms of the last acknowledged write. */
  lastWrite: number;
  /** Virtual ms before which the user does not write (a pause within a session, or days away). */
  nextAt: number;
  /** The session key must be written again (a failed write, or the nemesis clobbered it); not before `dirtyUntil` (real ms). */
  dirty: boolean;
  dirtyUntil: number;
  /** Clobbers so far: a write that began before the latest one does not make the thread clean. */
  clobbers?: number;
}

interface PendingAudit {
  id: string;
  lead: string;
  actor: string | null;
  payload: unknown;
  at: string;
  message: boolean;
  leadIsNew: boolean;
}

export class App {
  private readonly threads: Thread[] = [];
  private readonly queue: IngestRecord[] = [];
  private readonly delivered: IngestRecord[] = [];
  private readonly sentValid: Record<string, unknown>[] = [];
  private readonly pendingAudits: PendingAudit[] = [];
  private readonly leads: string[] = [];
  private seq = 0;
  private junk = 0;

  constructor(
    private readonly deps: {
      redis: Redis;
      sql: Sql;
      clock: VirtualClock;
      rng: Rng;
      journal: Journal;
      timeZone: string;
      maxThreads: number;
      /** The real LangGraph savers (saver-threads.ts); without them every thread is in seed 000's layout. */
      savers?: SaverPort;
      /** The share of clobbers aimed at a full-saver thread's keys, when there is one. @default 0.4 */
      clobberSaverShare?: number;
    },
  ) {}

  private id(prefix: string): string {
    this.seq++;
    return `${prefix}-${this.seq.toString(36)}-${this.deps.rng.int(1e9).toString(36)}`;
  }

  /** One step of the app: a few conversation turns, a batch of events, maybe an audit. */
  async step(): Promise<void> {
    const { rng } = this.deps;
    const turns = 1 + rng.int(3);
    for (let i = 0; i < turns; i++) await this.turn();
    await this.flushDirty(false);
    this.makeEvents();
    await this.deliver(false);
    if (rng.chance(0.5)) this.makeAudit();
    await this.flushAudits();
  }

  // ---------------------------------------------------------------- conversations

  private async turn(): Promise<void> {
    const { rng, clock, journal } = this.deps;
    const now = clock.now();
    let t: Thread | undefined;
    const ready = this.threads.filter((x) => !x.dirty && x.nextAt <= now.getTime());
    if (this.threads.length < this.deps.maxThreads && (ready.length === 0 || rng.chance(0.1))) {
      const saver = this.deps.savers && rng.chance(SAVER_SHARE) ? rng.pick(['full', 'shallow'] as const) : undefined;
      t = {
        conv: saver ? `soak-lg-${this.id('t')}` : `soak-${this.id('t')}`,
        customer: `cust-${rng.int(50)}`,
        ...(saver ? { saver, subgraph: rng.chance(0.5) } : {}),
        all: new Map(),
        lastWrite: 0,
        nextAt: 0,
        dirty: false,
        dirtyUntil: 0,
      };
      this.threads.push(t);
      journal.op(saver ? `thread.new.saver-${saver}` : 'thread.new');
    } else if (ready.length > 0) t = rng.pick(ready);
    else return;
    // After this turn: a pause of minutes, or the user goes away for hours to days (the session ends).
    t.nextAt = now.getTime() + (rng.chance(0.25) ? rng.between(18 * HOUR, 3 * DAY) : rng.between(5 * 60_000, 3 * HOUR));
    if (t.saver) return this.saverTurn(t, now);
    const resumed = !t.session || now.getTime() - t.lastWrite > SESSION_IDLE_MS;
    if (resumed) {
      if (t.session) journal.op('thread.resumed');
      t.session = { key: `${SEED_PREFIX}${t.conv}:${now.getTime()}`, messages: [], ts: now.toISOString() };
      // Coming back, the user sometimes corrects something said in an earlier session (archived by now, or about to be).
      const earlier = [...t.all.values()].filter((m) => now.getTime() - Date.parse(m.timestamp) < DAY);
      if (earlier.length > 0 && rng.chance(0.3)) {
        const m = rng.pick(earlier);
        const edited = { ...m, content: `${m.content} (edit ${rng.int(1000)})` };
        t.session.messages.push(edited);
        journal.op('message.edit.earlier-session');
      }
    }
    const s = t.session as NonNullable<Thread['session']>;
    // An edit of a message of this session (same id, new content).
    if (s.messages.length > 0 && rng.chance(0.15)) {
      const i = rng.int(s.messages.length);
      const m = s.messages[i] as Msg;
      s.messages[i] = { ...m, content: `${m.content} (edit ${rng.int(1000)})` };
      journal.op('message.edit');
    }
    const at = now.toISOString();
    s.messages.push({ id: this.id('m'), role: 'user', content: sentence(rng.int(1e6), 4 + rng.int(10)), timestamp: at });
    s.messages.push({ id: this.id('m'), role: 'assistant', content: sentence(rng.int(1e6), 4 + rng.int(14)), timestamp: at });
    s.ts = at;
    await this.write(t);
  }

  /**
   * A saver thread's turn: the user's message (sometimes with an edit of an earlier one: same id, new
   * content, which MessagesAnnotation's reducer puts in its place) and the graph's reply, through the
   * subgraph now and then. The thread_id stays the same for good: when it comes back after the
   * archive took it, the graph starts from an empty state; before that, its new checkpoints carry
   * the whole history.
   */
  private async saverTurn(t: Thread, now: Date): Promise<void> {
    const { rng, journal } = this.deps;
    const input: SaverMessage[] = [];
    const edit = (m: Msg) => {
      const edited = { ...m, content: `${m.content} (edit ${rng.int(1000)})` };
      t.all.set(m.id, edited);
      input.push({ id: m.id, role: m.role, content: edited.content });
    };
    if (t.sessionStart === undefined || now.getTime() - t.lastWrite > SESSION_IDLE_MS) {
      if (t.sessionStart !== undefined) journal.op('thread.resumed.saver');
      t.sessionStart = now.getTime();
      // Coming back, the user sometimes corrects something said in an earlier session (archived by now, or about to be).
      const earlier = [...t.all.values()].filter((m) => now.getTime() - Date.parse(m.timestamp) < DAY);
      if (earlier.length > 0 && rng.chance(0.3)) {
        edit(rng.pick(earlier));
        journal.op('message.edit.earlier-session.saver');
      }
    } else {
      const session = [...t.all.values()].filter((m) => Date.parse(m.timestamp) >= (t.sessionStart ?? 0));
      if (session.length > 0 && rng.chance(0.15)) {
        edit(rng.pick(session));
        journal.op('message.edit.saver');
      }
    }
    const at = now.toISOString();
    const user: Msg = { id: this.id('m'), role: 'user', content: sentence(rng.int(1e6), 4 + rng.int(10)), timestamp: at };
    const reply: Msg = { id: this.id('m'), role: 'assistant', content: sentence(rng.int(1e6), 4 + rng.int(14)), timestamp: at };
    t.all.set(user.id, user);
    t.all.set(reply.id, reply);
    input.push({ id: user.id, role: user.role, content: user.content });
    const sub = t.subgraph === true && rng.chance(0.5);
    if (sub) journal.op('turn.subgraph');
    t.pending = {
      thread: t.conv,
      kind: t.saver as SaverTurn['kind'],
      sub,
      input,
      reply: { id: reply.id, role: reply.role, content: reply.content },
    };
    await this.sendSaverTurn(t);
  }

  /** Sends a saver thread's pending turn; journals the graph's state once the saver acknowledged every checkpoint. */
  private async sendSaverTurn(t: Thread): Promise<void> {
    const { journal } = this.deps;
    const turn = t.pending;
    if (!turn || !this.deps.savers) return;
    if (t.retyped) {
      try {
        await this.deps.redis.del(t.retyped);
        t.retyped = undefined;
      } catch {
        t.dirty = true;
        t.dirtyUntil = Date.now() + 200;
        return;
      }
    }
    const a = await this.deps.savers.turn(turn);
    if (!a.ok) {
      t.dirty = true;
      t.dirtyUntil = Date.now() + 200;
      journal.appError('saver.turn');
      return;
    }
    const state = new Map(a.messages.map((m) => [m.id, m.content]));
    // What was sent must be in the graph's state as sent (the reducer replaced edited ids in place).
    const sent = new Set<string>();
    for (const m of [...turn.input, turn.reply]) {
      sent.add(m.id);
      if (state.get(m.id) !== m.content) journal.appError('saver.ack-mismatch');
    }
    // A thread with earlier turns whose state holds none of them: the archive had taken it (the
    // graph started from an empty state); or its new checkpoints carry the earlier history too.
    const earlier = [...t.all.keys()].filter((id) => !sent.has(id));
    if (earlier.length > 0) journal.op(earlier.some((id) => state.has(id)) ? 'saver.turn.with-history' : 'saver.turn.after-archive');
    t.pending = undefined;
    t.lastTurn = turn;
    t.dirty = false;
    t.lastWrite = Date.parse(a.at);
    const at = new Date(a.at);
    // The whole state is journaled as the graph wrote it: a message of an earlier turn whose content
    // differs from the journal's came back from an older checkpoint (the archive removed the newer
    // ones mid-way); the graph wrote it again, so that is now its last content.
    for (const [id, content] of state) {
      const had = journal.messages.get(id);
      if (had && had.content !== content && !sent.has(id)) journal.op('saver.state-reverted');
      if (!had || had.content !== content) {
        journal.message(t.conv, id, content, at, `saver-${turn.kind}`);
        if (!had) journal.op(`saver.message.${shapeOf(id)}`);
      }
      const mine = t.all.get(id);
      if (mine && mine.content !== content) t.all.set(id, { ...mine, content });
    }
    journal.op(`saver.turn.${turn.kind}`);
  }

  private value(t: Thread): string {
    const s = t.session as NonNullable<Thread['session']>;
    return seedValue({
      conversationId: t.conv,
      customerId: t.customer,
      ts: s.ts,
      messages: s.messages.map((m) => ({ id: m.id, role: m.role, content: m.content, timestamp: m.timestamp }) as never),
    });
  }

  /** Writes the session's checkpoint; journals its messages once Redis acknowledged it. */
  private async write(t: Thread): Promise<void> {
    const { redis, clock, journal } = this.deps;
    const s = t.session as NonNullable<Thread['session']>;
    const ageMs = clock.now().getTime() - Date.parse(s.ts);
    // The nemesis may clobber the key while this write is in flight (it runs beside the app): the
    // write may land before the clobber, so the thread stays dirty and is written again.
    const clobbers = t.clobbers ?? 0;
    try {
      // The key's TTL counts from the session's start, as if written then; but at least a minute
      // (real): a session written again after a failed write or a clobber, older by then than the
      // 24 h TTL in virtual time, would otherwise expire within a second, before the archive (every
      // second here) could take it — a race of the virtual clock, not of the jobs (docs/soak.md,
      // "The clock"): the deployed app sets a full TTL at each write.
      await putWithAge(redis, s.key, this.value(t), Math.min(Math.max(0, ageMs), DAY - 60_000));
      t.dirty = (t.clobbers ?? 0) !== clobbers;
      t.lastWrite = Date.parse(s.ts);
      for (const m of s.messages) {
        t.all.set(m.id, m);
        const had = journal.messages.get(m.id);
        if (!had || had.content !== m.content) journal.message(t.conv, m.id, m.content, new Date(s.ts));
      }
      journal.op('checkpoint.write');
    } catch {
      t.dirty = true;
      journal.appError('checkpoint.write');
    }
  }

  private async flushDirty(all: boolean): Promise<void> {
    for (const t of this.threads)
      if (t.dirty && (all || Date.now() >= t.dirtyUntil)) {
        if (t.saver) await this.sendSaverTurn(t);
        else await this.write(t);
        if (!t.dirty) this.deps.journal.op(t.saver ? 'saver.turn.resent' : 'checkpoint.rewrite');
      }
  }

  /**
   * The nemesis' hand in the app: a session key deleted or retyped (a hash) mid-run, written back by
   * the app `restoreAfterMs` later; or a junk key of another type under the checkpoint prefix.
   */
  async clobber(restoreAfterMs: number): Promise<string> {
    const { redis, rng } = this.deps;
    const savers = this.threads.filter((t) => t.saver === 'full' && t.lastTurn && !t.pending && !t.dirty);
    if (savers.length > 0 && rng.chance(this.deps.clobberSaverShare ?? 0.4)) return this.clobberSaver(rng.pick(savers), restoreAfterMs);
    const live = this.threads.filter((t) => t.session && !t.dirty);
    const kind = live.length === 0 || rng.chance(0.25) ? 'junk' : rng.pick(['delete', 'retype']);
    if (kind === 'junk') {
      const key = `${SEED_PREFIX}soak-junk-${++this.junk}:${rng.int(1e6)}`;
      const type = rng.pick(['hash', 'list', 'set']);
      if (type === 'hash') await redis.hset(key, 'f', 'not a checkpoint');
      else if (type === 'list') await redis.rpush(key, 'a', 'b');
      else await redis.sadd(key, 'x');
      await redis.pexpire(key, DAY);
      return `junk-${type}`;
    }
    const t = rng.pick(live);
    const key = (t.session as NonNullable<Thread['session']>).key;
    t.clobbers = (t.clobbers ?? 0) + 1;
    t.dirty = true;
    t.dirtyUntil = Date.now() + restoreAfterMs;
    if (kind === 'delete') await redis.del(key);
    else {
      await redis.del(key);
      await redis.hset(key, 'checkpoint', 'retyped by the app');
      await redis.pexpire(key, DAY);
    }
    return kind;
  }

  /**
   * A full-saver thread's key clobbered mid-run: its newest checkpoint document deleted or retyped
   * (a hash), or its newest `messages` blob deleted. The app repairs its thread `restoreAfterMs`
   * later: the retyped key deleted, its last turn sent again (the same ids: the graph puts them back
   * on the state it finds, so checkpoints made from the damaged one hold the whole list again).
   */
  private async clobberSaver(t: Thread, restoreAfterMs: number): Promise<string> {
    const { redis, rng } = this.deps;
    const newest = (keys: string[], order: (k: string) => number | string) =>
      keys.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0)).at(-1);
    const kind = rng.pick(['delete-doc', 'retype-doc', 'delete-blob'] as const);
    const key =
      kind === 'delete-blob'
        ? newest(await redis.keys(`checkpoint_blob:${t.conv}::messages:*`), (k) => Number(k.slice(k.lastIndexOf(':') + 1)))
        : newest(await redis.keys(`checkpoint:${t.conv}::*`), (k) => k);
    if (!key) return 'saver-none';
    t.pending = t.lastTurn;
    t.dirty = true;
    t.dirtyUntil = Date.now() + restoreAfterMs;
    await redis.del(key);
    if (kind === 'retype-doc') {
      t.retyped = key;
      await redis.hset(key, 'checkpoint', 'retyped by the app');
      await redis.pexpire(key, DAY);
    }
    return `saver-${kind}`;
  }

  // ---------------------------------------------------------------- analytics events

  private makeEvents(): void {
    const { rng, clock, journal } = this.deps;
    const now = clock.now().getTime();
    const events: unknown[] = [];
    const n = 2 + rng.int(8);
    for (let i = 0; i < n; i++) {
      const roll = rng.next();
      if (roll < 0.06) {
        // invalid: an unknown type, or no property
        const id = this.id('inv');
        const bad = rng.chance(0.5)
          ? { id, eventType: 'message.teleported', timestamp: new Date(now).toISOString(), propertyId: rng.pick(PROPERTIES) }
          : { id, eventType: 'message.received', timestamp: new Date(now).toISOString() };
        events.push(bad);
        journal.events.set(id, { id, valid: false, type: String(bad.eventType), at: bad.timestamp, property: '', channel: null });
        continue;
      }
      if (roll < 0.1 && this.sentValid.length > 0) {
        // the app sends an event again (a client retry): counted once
        events.push(rng.pick(this.sentValid));
        journal.op('event.duplicate');
        continue;
      }
      // mostly on time, some late (minutes to hours)
      const late = rng.chance(0.8) ? rng.int(60_000) : rng.chance(0.8) ? rng.int(2 * HOUR) : rng.int(10 * HOUR);
      const at = new Date(now - late).toISOString();
      const type = rng.chance(0.7) ? rng.pick(['message.received', 'message.sent']) : rng.pick(OTHER_TYPES);
      const id = this.id('ev');
      const property = rng.pick(PROPERTIES);
      const channel = rng.pick(CHANNELS);
      const e: Record<string, unknown> = { id, eventType: type, timestamp: at, propertyId: property, channel, guestId: `g-${rng.int(40)}` };
      if (type === 'response.time_recorded') e.durationMs = 1000 + rng.int(60_000);
      if (type === 'satisfaction.rating_received') e.value = 1 + rng.int(5);
      if (type === 'intent.classified') e.metadata = { intent: rng.pick(['booking', 'price', 'cancel']), confidence: 0.9 };
      events.push(e);
      this.sentValid.push(e);
      if (this.sentValid.length > 500) this.sentValid.shift();
      journal.events.set(id, { id, valid: true, type, at, property, channel });
    }
    this.queue.push({ recordId: randomUUID(), body: JSON.stringify({ events }) });
  }

  /** Delivers queued records (up to 10 at once, as SQS does); failed records go back to the queue. */
  private async deliver(all: boolean): Promise<void> {
    const { sql, clock, journal, rng } = this.deps;
    do {
      const batch = this.queue.splice(0, 10);
      // SQS redelivers some records that were already processed (a visibility timeout, a partial batch failure).
      if (this.delivered.length > 0 && rng.chance(0.1)) {
        batch.push(rng.pick(this.delivered));
        journal.op('event.redelivery');
      }
      if (batch.length === 0) return;
      try {
        const r = await ingest({ sql, clock, log: memoryLog(), timeZone: this.deps.timeZone, chunkEvents: 1 + rng.int(50) }, batch);
        journal.op('ingest.call');
        journal.op('event.accepted', r.accepted);
        journal.op('event.rejected', r.rejected);
        journal.op('event.late', r.late);
        const failed = new Set(r.failedRecordIds);
        for (const rec of batch) {
          if (failed.has(rec.recordId)) this.queue.push(rec);
          else if (!this.delivered.includes(rec)) {
            this.delivered.push(rec);
            if (this.delivered.length > 200) this.delivered.shift();
          }
        }
        if (failed.size > 0) {
          journal.appError('ingest.records-failed');
          if (!all) return;
        }
      } catch {
        this.queue.unshift(...batch);
        journal.appError('ingest.threw');
        if (!all) return;
        await new Promise((r) => setTimeout(r, 200));
      }
    } while (all && this.queue.length > 0);
  }

  // ---------------------------------------------------------------- audits

  private makeAudit(): void {
    const { rng, clock } = this.deps;
    const newLead = this.leads.length === 0 || rng.chance(0.3);
    const lead = newLead ? rng.uuid() : rng.pick(this.leads);
    if (newLead) this.leads.push(lead);
    const actor = rng.pick(['customer', 'agent', 'admin', 'system', null, 'user']);
    const roll = rng.next();
    const payload = roll < 0.7 ? { text: sentence(rng.int(1e6), 6) } : roll < 0.85 ? { status: 'moved' } : {};
    // Seed 003's rule, written here on its own: a speaking actor and some text (an object without
    // text fields is its JSON, `{}` none).
    const speaks = actor !== null && ['customer', 'user', 'agent', 'assistant', 'system', 'tool'].includes(actor);
    const text = Object.keys(payload).length > 0;
    this.pendingAudits.push({
      id: rng.uuid(),
      lead,
      actor,
      payload,
      at: clock.now().toISOString(),
      message: speaks && text,
      leadIsNew: newLead,
    });
  }

  private async flushAudits(): Promise<void> {
    const { sql, journal } = this.deps;
    while (this.pendingAudits.length > 0) {
      const a = this.pendingAudits[0] as PendingAudit;
      try {
        await sql.transaction(async (tx) => {
          await tx.execute(
            `INSERT INTO leads (id, customer_id, channel, created_at) VALUES ($1::uuid, $2::text, 'whatsapp', $3::timestamptz) ON CONFLICT (id) DO NOTHING`,
            [a.lead, `lead-cust-${a.lead.slice(0, 4)}`, a.at],
          );
          await tx.execute(
            `INSERT INTO audits (id, lead_id, actor, action, payload, created_at) VALUES ($1::uuid, $2::uuid, $3::text, 'note', $4::jsonb, $5::timestamptz)
             ON CONFLICT (id) DO NOTHING`,
            [a.id, a.lead, a.actor, { sqlType: 'jsonb', value: a.payload }, a.at],
          );
        });
        this.pendingAudits.shift();
        journal.audits.set(a.id, { id: a.id, lead: a.lead, message: a.message });
        journal.op('audit.write');
      } catch {
        journal.appError('audit.write');
        return;
      }
    }
  }

  /** After the nemesis: every unacknowledged write made, every record delivered. */
  async drain(): Promise<void> {
    for (let i = 0; i < 200; i++) {
      await this.flushDirty(true);
      await this.deliver(true);
      await this.flushAudits();
      if (this.threads.every((t) => !t.dirty) && this.queue.length === 0 && this.pendingAudits.length === 0) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error('the app could not write everything it had after the nemesis stopped');
  }
}
