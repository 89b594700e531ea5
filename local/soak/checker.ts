/**
 * The checker: shares nothing with the jobs. It reads PostgreSQL with plain SQL (its own
 * connection), Redis with SCAN/GET, the bucket with its own S3 client (objects decoded with
 * lambdas/retention/parquet.ts readBack), and holds what it finds against the journal:
 *   1. every message the app wrote is exactly once in PostgreSQL or a live cold object (or still in
 *      Redis, its thread younger than the cutoff: seed 000's layout, or the LangGraph savers' documents
 *      read by its own small parser), with its last content, in its own conversation;
 *   2. every valid event is counted once (raw + exported; or refused as late beyond the raw horizon),
 *      every invalid one is in analytics_events_rejected once; the closed hours' message counts
 *      equal an oracle computed from the journal;
 *   3. every live manifest row names an object whose rows match its row count and SHA-256; no object
 *      is outside the manifest (superseded ones not yet retired are counted apart);
 *   4. every message-bearing audit is one message (and no other audit is one);
 *   5. every run ended in the ledger with a status; no database lease outlived its run.
 */
import { readFileSync } from 'node:fs';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { bufferReader, readBack, type TextRow } from '../../lambdas/retention/parquet';
import type { RunRecord } from '../../lambdas/shared/ledger/types';
import type { WatchdogResult, WatchedJob } from '../../lambdas/watchdog/watchdog';
import { HOUR } from './clock';
import { type Journal, type JournalRun, sha256 } from './journal';

export interface CheckResult {
  readonly name: string;
  readonly pass: boolean;
  readonly counts: Record<string, number>;
  /** The first problems, each naming the broken item. */
  readonly problems: string[];
}

export interface CheckerInput {
  readonly databaseUrl: string;
  readonly redisUrl: string;
  readonly s3Endpoint: string;
  readonly bucket: string;
  readonly journal: Journal;
  readonly ledgerRecords: readonly RunRecord[];
  /** The checker's instant (the frozen virtual clock). */
  readonly now: Date;
  readonly cutoffHours: number;
  readonly seedPrefix: string;
  /** Each property's zone (the app's; its hours and months are that zone's). */
  readonly propertyZones: Readonly<Record<string, string>>;
  /** The run ledger's file (FileRunLedger's JSON), read as the watchdog reads the ledger: history per job, last success. */
  readonly ledgerFile?: string;
  /** What the watchdog watches, and its every verdict; the last one is taken after the catch-up. */
  readonly watchdog?: { readonly watched: readonly WatchedJob[]; readonly runs: readonly WatchdogRunView[] };
}

/** One watchdog run's verdict (local/soak/jobs.ts WatchdogRun). */
export interface WatchdogRunView {
  /** When it began reading the ledger (virtual); `at`, when it had its verdict. */
  readonly startedAt?: string;
  readonly at: string;
  readonly phase: 'soak' | 'catch-up';
  readonly result: Pick<WatchdogResult, 'stale' | 'failing' | 'jobs'>;
}

interface Place {
  readonly where: 'postgres' | 'cold';
  readonly conversation: string | undefined;
  readonly content: string;
  /** The PostgreSQL row (id, conversation id) or the object key. */
  readonly detail: string;
}

class Problems {
  readonly list: string[] = [];
  total = 0;
  add(p: string): void {
    this.total++;
    if (this.list.length < 12) this.list.push(p);
  }
}

const bump = (c: Record<string, number>, k: string, n = 1) => {
  c[k] = (c[k] ?? 0) + n;
};

export async function check(input: CheckerInput): Promise<CheckResult[]> {
  const db = new Client({ connectionString: input.databaseUrl });
  await db.connect();
  const s3 = new S3Client({
    endpoint: input.s3Endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    // the local S3 server answers InternalError now and then under a long run's thousands of objects
    maxAttempts: 10,
  });
  const redis = new Redis(input.redisUrl, { maxRetriesPerRequest: 3 });
  redis.on('error', () => undefined);
  try {
    const cold = await readCold(db, s3, input.bucket);
    const places = await messagePlaces(db, cold);
    return [
      await checkMessages(redis, input, places),
      await checkEvents(db, input, cold),
      cold.result,
      checkAudits(input, places),
      await checkRuns(db, input),
    ];
  } finally {
    await db.end();
    redis.disconnect();
    s3.destroy();
  }
}

// ------------------------------------------------------------------ cold storage (check 3)

/** The scheduled reports share the cold bucket (as deployed): their objects have no manifest row. */
const REPORTS_PREFIX = 'reports/';

interface Cold {
  /** Rows of live objects per table, as records. */
  readonly rows: Map<string, Record<string, string | null>[]>;
  readonly result: CheckResult;
}

async function readCold(db: Client, s3: S3Client, bucket: string): Promise<Cold> {
  const problems = new Problems();
  const counts: Record<string, number> = {};
  const manifest = (
    await db.query<{ table_name: string; object_key: string; row_count: string; sha256: string; superseded: boolean; retired: boolean }>(
      `SELECT table_name, object_key, row_count::text, sha256, superseded_at IS NOT NULL AS superseded, retired_at IS NOT NULL AS retired
         FROM archive_manifest`,
    )
  ).rows;
  const byKey = new Map(manifest.map((m) => [m.object_key, m]));
  const rows = new Map<string, Record<string, string | null>[]>();
  const objects = new Set<string>();
  let token: string | undefined;
  do {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token })).catch((e: Error) => {
      throw new Error(`listing s3://${bucket} (${objects.size} objects listed so far): ${e.name}: ${e.message}`);
    });
    for (const o of out.Contents ?? []) objects.add(o.Key as string);
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  bump(counts, 'objects', objects.size);
  for (const m of manifest) {
    if (m.superseded) {
      bump(counts, 'superseded');
      if (objects.has(m.object_key)) {
        if (m.retired) problems.add(`${m.object_key}: superseded and retired, yet still in the bucket`);
        else bump(counts, 'superseded_awaiting_retirement');
      }
      continue;
    }
    bump(counts, 'live_manifest_rows');
    if (!objects.has(m.object_key)) {
      problems.add(`${m.object_key}: live manifest row (${m.row_count} rows of ${m.table_name}) but no object`);
      continue;
    }
    const read: Record<string, string | null>[] = [];
    let back: Awaited<ReturnType<typeof readBack>>;
    try {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: m.object_key }));
      const bytes = await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
      back = await readBack(bufferReader(bytes), async (r: TextRow[], columns) => {
        for (const row of r) read.push({ ...Object.fromEntries(columns.map((c, i) => [c, row[i] ?? null])), __object: m.object_key });
      });
    } catch (e) {
      // Its rows are unknown: the messages and events it held are missing from checks 1 and 2 too.
      bump(counts, 'objects_unreadable');
      problems.add(
        `${m.object_key}: live manifest row (${m.row_count} rows of ${m.table_name}), object unreadable: ${(e as Error).message}`,
      );
      continue;
    }
    const list = rows.get(m.table_name) ?? [];
    for (const r of read) list.push(r);
    rows.set(m.table_name, list);
    bump(counts, 'rows_cold', back.rows);
    if (back.rows !== Number(m.row_count) || back.sha256 !== m.sha256)
      problems.add(
        `${m.object_key}: rows ${back.rows} vs manifest ${m.row_count}, sha256 ${back.sha256.slice(0, 12)} vs ${m.sha256.slice(0, 12)}`,
      );
    else bump(counts, 'objects_verified');
  }
  for (const key of objects)
    if (key.startsWith(REPORTS_PREFIX)) bump(counts, 'report_objects');
    else if (!byKey.has(key)) {
      bump(counts, 'outside_manifest');
      problems.add(`${key}: in the bucket, in no manifest row`);
    }
  return { rows, result: { name: '3. cold objects match the manifest', pass: problems.total === 0, counts, problems: problems.list } };
}

// ------------------------------------------------------------------ messages (check 1)

async function conversationKeys(db: Client, cold: Cold): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  for (const r of (await db.query<{ id: string; k: string }>('SELECT id::text AS id, conversation_key AS k FROM conversations')).rows)
    keys.set(r.id, r.k);
  for (const r of cold.rows.get('conversations') ?? [])
    if (r.id && r.conversation_key && !keys.has(r.id)) keys.set(r.id, r.conversation_key);
  return keys;
}

/** Every message row in PostgreSQL and in live cold objects, by message key. */
async function messagePlaces(db: Client, cold: Cold): Promise<Map<string, Place[]>> {
  const convs = await conversationKeys(db, cold);
  const places = new Map<string, Place[]>();
  const add = (key: string, p: Place) => {
    const l = places.get(key) ?? [];
    l.push(p);
    places.set(key, l);
  };
  const pg = await db.query<{ k: string; id: string; cid: string; content: string }>(
    'SELECT message_key AS k, id::text AS id, conversation_id::text AS cid, content FROM messages',
  );
  for (const r of pg.rows)
    add(r.k, { where: 'postgres', conversation: convs.get(r.cid), content: r.content, detail: `row ${r.id} of conversation ${r.cid}` });
  for (const r of cold.rows.get('messages') ?? [])
    add(r.message_key ?? '', {
      where: 'cold',
      conversation: convs.get(r.conversation_id ?? ''),
      content: r.content ?? '',
      detail: `row ${r.id} of conversation ${r.conversation_id} in ${r.__object}`,
    });
  return places;
}

interface RedisThread {
  /** Its newest checkpoint's time (ms). */
  newest: number;
  /** Message id → its content in the newest document that holds it (rank: a saver's checkpoint id, time-ordered). */
  readonly messages: Map<string, { content: string; rank: string }>;
  readonly layout: 'seed' | 'saver';
}

/** The LangGraph savers' key prefixes (full and shallow): checkpoint documents and channel blobs. */
const SAVER_CHECKPOINT_PREFIX = 'checkpoint:';
const SAVER_BLOB_PREFIX = 'checkpoint_blob:';

async function scanStrings(redis: Redis, pattern: string, each: (key: string, value: string) => void): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      const value = await redis.get(key).catch(() => null); // another type: not a checkpoint
      if (value !== null) each(key, value);
    }
  } while (cursor !== '0');
}

/**
 * A message as the LangGraph savers store it: LangChain's serialized form
 * `{lc, type: "constructor", id: [..., "HumanMessage"], kwargs: {id, content, …}}` (or a plain
 * `{id, content}`). The soak's saver messages have plain-text content; any other content is kept as
 * its JSON, which matches no journaled text.
 */
function saverMessage(m: unknown): { id: string; content: string } | undefined {
  if (typeof m !== 'object' || m === null) return undefined;
  const o = m as { kwargs?: { id?: unknown; content?: unknown }; id?: unknown; content?: unknown };
  const fields = typeof o.kwargs === 'object' && o.kwargs !== null ? o.kwargs : o;
  if (typeof fields.id !== 'string') return undefined;
  return { id: fields.id, content: textOf(fields.content) };
}

/**
 * A message's text as LangChain's `message.text` documents it (what the app journals): a string as
 * is; a list of content parts, its text parts (`{type:"text",text}`) and bare strings joined, other
 * parts (images) left out. Anything else: its JSON, which no journaled text equals.
 */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return JSON.stringify(content);
  return content
    .map((p) =>
      typeof p === 'string'
        ? p
        : typeof p === 'object' && p !== null && p.type === 'text' && typeof p.text === 'string'
          ? (p.text as string)
          : '',
    )
    .join('');
}

/**
 * What Redis still holds, per conversation: seed 000's layout (`{prefix}{conversation}:{session}`,
 * `data.conversation_id`, `data.messages`) and the LangGraph savers' (`checkpoint:*` documents:
 * `thread_id`, `checkpoint_ts` or `checkpoint.ts`, `checkpoint.channel_values.messages`; and
 * `checkpoint_blob:*` documents of the `messages` channel: `thread_id`, `checkpoint_id`, `value`),
 * the JSON stored as a string. A saver thread's conversation is its thread_id; its age, its newest
 * checkpoint document's; a message's content, the one in the newest document (by checkpoint id) that holds it.
 */
async function redisThreads(redis: Redis, prefix: string): Promise<Map<string, RedisThread>> {
  const threads = new Map<string, RedisThread>();
  const thread = (conv: string, layout: RedisThread['layout']) => {
    const t = threads.get(conv) ?? { newest: 0, messages: new Map(), layout };
    threads.set(conv, t);
    return t;
  };
  const put = (t: RedisThread, id: string, content: string, rank: string) => {
    const had = t.messages.get(id);
    if (!had || had.rank <= rank) t.messages.set(id, { content, rank });
  };
  const parse = (value: string): Record<string, unknown> | undefined => {
    try {
      const doc = JSON.parse(value) as unknown;
      return typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? (doc as Record<string, unknown>) : undefined;
    } catch {
      return undefined; // not JSON: not one of the app's checkpoints
    }
  };
  await scanStrings(redis, `${prefix}*`, (_key, value) => {
    const doc = parse(value) as { ts?: string; data?: { conversation_id?: string; messages?: { id?: string; content?: string }[] } };
    const conv = doc?.data?.conversation_id;
    if (!conv) return;
    const t = thread(conv, 'seed');
    t.newest = Math.max(t.newest, Date.parse(doc.ts ?? '') || 0);
    for (const m of doc.data?.messages ?? []) if (m.id) put(t, m.id, String(m.content), '');
  });
  await scanStrings(redis, `${SAVER_CHECKPOINT_PREFIX}*`, (_key, value) => {
    const doc = parse(value) as { thread_id?: unknown; checkpoint_id?: unknown; checkpoint_ts?: unknown; checkpoint?: unknown } | undefined;
    if (typeof doc?.thread_id !== 'string') return;
    let cp = doc.checkpoint;
    if (typeof cp === 'string') cp = parse(cp);
    const checkpoint = (typeof cp === 'object' && cp !== null ? cp : {}) as { ts?: unknown; channel_values?: { messages?: unknown } };
    const t = thread(doc.thread_id, 'saver');
    const ts = doc.checkpoint_ts ?? checkpoint.ts;
    const at = typeof ts === 'number' ? ts : Date.parse(String(ts ?? ''));
    t.newest = Math.max(t.newest, Number.isFinite(at) ? at : 0);
    const list = checkpoint.channel_values?.messages;
    const rank = String(doc.checkpoint_id ?? '');
    if (Array.isArray(list))
      for (const m of list) {
        const msg = saverMessage(m);
        if (msg) put(t, msg.id, msg.content, rank);
      }
  });
  await scanStrings(redis, `${SAVER_BLOB_PREFIX}*`, (_key, value) => {
    const doc = parse(value) as { thread_id?: unknown; checkpoint_id?: unknown; channel?: unknown; value?: unknown } | undefined;
    if (typeof doc?.thread_id !== 'string' || doc.channel !== 'messages' || !Array.isArray(doc.value)) return;
    const t = thread(doc.thread_id, 'saver');
    const rank = String(doc.checkpoint_id ?? '');
    for (const m of doc.value) {
      const msg = saverMessage(m);
      if (msg) put(t, msg.id, msg.content, rank);
    }
  });
  return threads;
}

async function checkMessages(redis: Redis, input: CheckerInput, places: Map<string, Place[]>): Promise<CheckResult> {
  const problems = new Problems();
  const counts: Record<string, number> = {};
  const threads = await redisThreads(redis, input.seedPrefix);
  const cutoff = input.now.getTime() - input.cutoffHours * HOUR;
  const saverThreads = new Set<string>();
  for (const t of threads.values()) if (t.layout === 'saver') bump(counts, 'saver_threads_in_redis');
  for (const m of input.journal.messages.values()) {
    bump(counts, 'journaled');
    const found = places.get(m.id) ?? [];
    const misfiled = found.filter((p) => p.conversation !== m.thread);
    const t = threads.get(m.thread);
    const inRedis = t?.messages.get(m.id)?.content;
    const young = t !== undefined && t.newest > cutoff;
    const saver = m.layout !== undefined && m.layout !== 'seed';
    if (saver) {
      bump(counts, 'saver_messages');
      saverThreads.add(m.thread);
    }
    if (misfiled.length > 0) {
      bump(counts, 'misfiled');
      problems.add(
        `message ${m.id} of ${m.thread}: found under conversation ${misfiled[0]?.conversation ?? '(none: no conversation row)'} (${misfiled[0]?.where})`,
      );
      continue;
    }
    if (found.length > 1) {
      bump(counts, 'duplicated');
      problems.add(`message ${m.id} of ${m.thread}: ${found.length} copies (${found.map((f) => f.detail).join('; ')})`);
      continue;
    }
    if (inRedis !== undefined && sha256(inRedis) === m.sha256 && young) {
      bump(counts, found.length === 0 ? 'in_redis_only' : 'in_redis_newer');
      if (saver) bump(counts, found.length === 0 ? 'saver_in_redis_only' : 'saver_in_redis_newer');
      continue;
    }
    const [only] = found;
    if (!only) {
      bump(counts, 'lost');
      problems.add(
        `message ${m.id} of ${m.thread} (last written ${m.at}): nowhere${inRedis !== undefined ? ' but in an old checkpoint still in Redis' : ''}`,
      );
      continue;
    }
    if (sha256(only.content) !== m.sha256) {
      bump(counts, 'stale');
      problems.add(`message ${m.id} of ${m.thread}: ${only.where} holds an earlier version (edited ${m.edits} time(s), last ${m.at})`);
      continue;
    }
    bump(counts, only.where === 'postgres' ? 'in_postgres' : 'in_cold');
    if (saver) bump(counts, only.where === 'postgres' ? 'saver_in_postgres' : 'saver_in_cold');
  }
  counts.saver_threads = saverThreads.size;
  // Rows nobody wrote: neither a journaled message nor an audit's.
  for (const [key, found] of places)
    if (!input.journal.messages.has(key) && !key.startsWith('audit:')) {
      bump(counts, 'unexpected', found.length);
      problems.add(`message key ${key}: ${found.length} row(s) the app never wrote (${found[0]?.conversation})`);
    }
  return { name: '1. every message once, last content, own conversation', pass: problems.total === 0, counts, problems: problems.list };
}

// ------------------------------------------------------------------ events (check 2)

/** Each bucket either side holds (both zero: skipped), counted as `counter`, and those that differ. */
function compareBuckets(
  oracle: ReadonlyMap<string, number>,
  stored: ReadonlyMap<string, number>,
  counts: Record<string, number>,
  counter: string,
  differs: (key: string, got: number, want: number) => void,
): void {
  for (const k of new Set([...oracle.keys(), ...stored.keys()])) {
    const want = oracle.get(k) ?? 0;
    const got = stored.get(k) ?? 0;
    if (want === 0 && got === 0) continue;
    bump(counts, counter);
    if (want !== got) {
      bump(counts, `${counter}_wrong`);
      differs(k, got, want);
    }
  }
}

const zoneParts = new Map<string, Intl.DateTimeFormat>();
/** An instant's wall clock in `zone`, from Intl (not the jobs' time code): year, month, minute, second. */
function wallClock(t: number, zone: string): { year: string; month: string; minute: number; second: number } {
  let f = zoneParts.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      year: 'numeric',
      month: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    zoneParts.set(zone, f);
  }
  const p = Object.fromEntries(f.formatToParts(new Date(t)).map((x) => [x.type, x.value]));
  return { year: p.year ?? '', month: p.month ?? '', minute: Number(p.minute), second: Number(p.second) };
}
/** The start of the local hour that holds `t` in `zone` (every zone here is offset by whole minutes). */
const localHourStart = (t: number, zone: string) => {
  const w = wallClock(t, zone);
  return t - (w.minute * 60 + w.second) * 1000 - (((t % 1000) + 1000) % 1000);
};
/** The local month that holds `t` in `zone`, `YYYY-MM`. */
const localMonth = (t: number, zone: string) => {
  const w = wallClock(t, zone);
  return `${w.year}-${w.month}`;
};

async function checkEvents(db: Client, input: CheckerInput, cold: Cold): Promise<CheckResult> {
  const problems = new Problems();
  const counts: Record<string, number> = {};
  const seen = new Map<string, number>();
  for (const r of (await db.query<{ id: string }>('SELECT id FROM analytics_events')).rows) seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
  for (const r of cold.rows.get('analytics_events') ?? []) if (r.id) seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
  const rejected = new Map<string, string[]>();
  for (const r of (await db.query<{ id: string | null; reason: string }>('SELECT event_id AS id, reason FROM analytics_events_rejected'))
    .rows)
    if (r.id) rejected.set(r.id, [...(rejected.get(r.id) ?? []), r.reason]);
  const counted: { at: number; property: string; channel: string; direction: string }[] = [];
  for (const e of input.journal.events.values()) {
    const n = seen.get(e.id) ?? 0;
    const rej = rejected.get(e.id) ?? [];
    if (!e.valid) {
      bump(counts, 'invalid');
      if (n > 0) problems.add(`invalid event ${e.id}: stored as an event ${n} time(s)`);
      else if (rej.length !== 1) problems.add(`invalid event ${e.id}: in analytics_events_rejected ${rej.length} time(s), not once`);
      else bump(counts, 'invalid_rejected_once');
      continue;
    }
    bump(counts, 'valid');
    if (n === 1) {
      bump(counts, 'valid_counted_once');
      if (e.type === 'message.received' || e.type === 'message.sent')
        counted.push({
          at: Date.parse(e.at),
          property: e.property,
          channel: e.channel ?? 'unknown',
          direction: e.type === 'message.received' ? 'inbound' : 'outbound',
        });
    } else if (n === 0 && rej.length === 1 && rej[0]?.startsWith('late')) bump(counts, 'valid_refused_late');
    else {
      bump(counts, n === 0 ? 'valid_lost' : 'valid_duplicated');
      problems.add(`valid event ${e.id} (${e.type} at ${e.at}): ${n} stored copies, ${rej.length} rejections`);
    }
  }
  // The oracle: closed hours' and months' message counts from the journal, each property's in its own
  // zone (a half-hour zone's hours start at :30 UTC), closed up to that zone's watermark.
  const zoneOf = (property: string) => {
    const zone = input.propertyZones[property];
    if (zone === undefined)
      throw new Error(
        `check 2: property "${property}" has events but no zone in the checker's input (propertyZones): its hours cannot be placed`,
      );
    return zone;
  };
  const marks = async (table: string) =>
    new Map(
      (
        await db.query<{ zone: string; through: Date }>(
          'SELECT time_zone AS zone, COALESCE(computed_through, aggregated_through) AS through FROM agg_watermarks WHERE agg_table = $1::text',
          [table],
        )
      ).rows.map((r) => [r.zone, new Date(r.through).getTime()]),
    );
  const hourMarks = await marks('agg_message_counts_hourly');
  const oracle = new Map<string, number>();
  for (const c of counted) {
    const hour = localHourStart(c.at, zoneOf(c.property));
    if (hour + HOUR > (hourMarks.get(zoneOf(c.property)) ?? 0)) continue;
    const k = JSON.stringify([new Date(hour).toISOString(), c.property, c.channel, c.direction]);
    oracle.set(k, (oracle.get(k) ?? 0) + 1);
  }
  const stored = new Map<string, number>();
  for (const r of (
    await db.query<{ p: Date; property_id: string; channel: string; direction: string; count: number }>(
      'SELECT period_start AS p, property_id, channel, direction, count FROM agg_message_counts_hourly',
    )
  ).rows) {
    const zone = zoneOf(r.property_id);
    if (new Date(r.p).getTime() + HOUR <= (hourMarks.get(zone) ?? 0))
      stored.set(JSON.stringify([new Date(r.p).toISOString(), r.property_id, r.channel, r.direction]), r.count);
  }
  compareBuckets(oracle, stored, counts, 'hourly_buckets', (k, got, want) =>
    problems.add(`agg_message_counts_hourly ${k}: ${got}, the journal says ${want}`),
  );
  const slowest = Math.min(...[...hourMarks.values()]);
  counts.hours_before_now_not_closed = hourMarks.size > 0 ? Math.round((input.now.getTime() - slowest) / HOUR) : -1;
  // Closed months (before the month each zone's watermark has computed through): the monthly job is the
  // one retention waits for longest.
  const monthMarks = await marks('agg_monthly_summary');
  const firstOpen = (zone: string) => {
    const t = monthMarks.get(zone);
    return t === undefined ? '0000-00' : localMonth(t, zone);
  };
  const months = new Map<string, number>();
  for (const c of counted) {
    const zone = zoneOf(c.property);
    const month = localMonth(c.at, zone);
    if (month >= firstOpen(zone)) continue;
    const k = JSON.stringify([month, c.property]);
    months.set(k, (months.get(k) ?? 0) + 1);
  }
  const monthly = new Map<string, number>();
  for (const r of (
    await db.query<{ m: string; property_id: string; n: number }>(
      'SELECT period_month AS m, property_id, total_messages AS n FROM agg_monthly_summary',
    )
  ).rows)
    if (r.m < firstOpen(zoneOf(r.property_id))) monthly.set(JSON.stringify([r.m, r.property_id]), r.n);
  compareBuckets(months, monthly, counts, 'monthly_buckets', (k, got, want) =>
    problems.add(`agg_monthly_summary ${k}: total_messages ${got}, the journal says ${want}`),
  );
  return {
    name: '2. every event counted once; closed hours and months match the oracle',
    pass: problems.total === 0,
    counts,
    problems: problems.list,
  };
}

// ------------------------------------------------------------------ audits (check 4)

function checkAudits(input: CheckerInput, places: Map<string, Place[]>): CheckResult {
  const problems = new Problems();
  const counts: Record<string, number> = {};
  for (const a of input.journal.audits.values()) {
    const found = places.get(`audit:${a.id}`) ?? [];
    if (a.message) {
      bump(counts, 'message_bearing');
      if (found.length !== 1)
        problems.add(`audit ${a.id} (lead ${a.lead}): ${found.length} messages, not one (${found.map((f) => f.detail).join('; ')})`);
      else if (found[0]?.conversation !== `lead:${a.lead}`)
        problems.add(`audit ${a.id}: its message is in ${found[0]?.conversation}, not lead:${a.lead}`);
      else bump(counts, found[0]?.where === 'cold' ? 'one_message_cold' : 'one_message_postgres');
    } else {
      bump(counts, 'not_message_bearing');
      if (found.length > 0) problems.add(`audit ${a.id}: not message-bearing, yet ${found.length} message(s)`);
    }
  }
  return { name: '4. every message-bearing audit is one message', pass: problems.total === 0, counts, problems: problems.list };
}

// ------------------------------------------------------------------ runs and leases (check 5)

async function checkRuns(db: Client, input: CheckerInput): Promise<CheckResult> {
  const problems = new Problems();
  const counts: Record<string, number> = {};
  const byId = new Map(input.ledgerRecords.map((r) => [r.runId, r]));
  for (const r of input.journal.runs) {
    bump(counts, `runs_${r.outcome}`);
    if (!r.ledgered) continue;
    const rec = byId.get(r.runId);
    if (!rec) problems.add(`${r.job} run ${r.runId} (${r.outcome}${r.error ? `: ${r.error}` : ''}): no record in the ledger`);
    else if (rec.status !== 'healthy' && rec.status !== 'unhealthy')
      problems.add(`${r.job} run ${r.runId}: ledger status ${String(rec.status)}`);
    else if (r.outcome === 'failed' && rec.status !== 'unhealthy')
      problems.add(`${r.job} run ${r.runId} failed, the ledger says ${rec.status}`);
    else if (r.outcome === 'failed' && !rec.error)
      problems.add(`${r.job} run ${r.runId} failed, its ledger record names no error (RunsFailed and the watchdog's lastError miss it)`);
    else bump(counts, 'ledgered_with_status');
  }
  // A run the nemesis killed (SIGKILL of its process) records nothing; its locks must expire and a
  // later run of its job must get past them and finish.
  input.journal.runs.forEach((r, i) => {
    if (r.outcome !== 'killed') return;
    const later = input.journal.runs.slice(i + 1).find((x) => x.job === r.job && (x.outcome === 'healthy' || x.outcome === 'unhealthy'));
    if (later) bump(counts, 'killed_then_ran_again');
    else problems.add(`${r.job} run ${r.runId} killed (${r.error}): no later ${r.job} run got past its locks and finished`);
  });
  if (input.ledgerFile) {
    const file = JSON.parse(readFileSync(input.ledgerFile, 'utf8')) as LedgerFile;
    for (const [job, lock] of Object.entries(file.locks ?? {}))
      if (lock.leaseUntil > input.now.getTime())
        problems.add(
          `run ledger lock of ${job} still held by ${lock.owner} until ${new Date(lock.leaseUntil).toISOString()} after every run ended`,
        );
    checkWatchdogView(input, input.ledgerFile, problems, counts);
  }
  const leases = await db.query<{ job: string; holder: string; live: boolean; until: Date }>(
    'SELECT job, holder, expires_at > now() AS live, expires_at AS until FROM job_leases',
  );
  for (const l of leases.rows) {
    bump(counts, 'leases');
    if (l.live) problems.add(`job_leases ${l.job} (${l.holder}) still held until ${new Date(l.until).toISOString()} after every run ended`);
  }
  return {
    name: '5. every run ended in the ledger; no lease outlived its run',
    pass: problems.total === 0,
    counts,
    problems: problems.list,
  };
}

/** FileRunLedger's JSON as the watchdog reads it (lambdas/shared/ledger/file.ts keeps 200 records per job). */
interface LedgerFile {
  readonly locks?: Record<string, { owner: string; leaseUntil: number }>;
  readonly lastSuccess?: Record<string, RunRecord>;
  readonly history?: Record<string, RunRecord[]>;
}
const LEDGER_HISTORY_CAP = 200;
/** The watchdog's rule (lambdas/watchdog/watchdog.ts FAILING_RUNS): failing when this many latest runs are all unhealthy. */
const FAILING_RUNS = 2;

/**
 * Check 5's "every failure was counted and would have paged" (the watchdog's view):
 * - every unhealthy run the jobs recorded is in the ledger history the watchdog reads (or older than
 *   the history's cap), with its errors counted (errors > 0: the Errors metric, the failing rule);
 * - the watchdog's last verdict, taken after the catch-up, says no watched job is stale or failing,
 *   and it agrees with the same rule recomputed here from the ledger file (minutes since the last
 *   success against the job's limit; its latest FAILING_RUNS runs all unhealthy);
 * - a job whose runs were unhealthy twice in a row: counted, with the watchdog runs that saw it failing.
 */
function checkWatchdogView(input: CheckerInput, ledgerFile: string, problems: Problems, counts: Record<string, number>): void {
  const file = JSON.parse(readFileSync(ledgerFile, 'utf8')) as LedgerFile;
  const history = file.history ?? {};
  const position = new Map<string, number>();
  for (const list of Object.values(history))
    list.forEach((r, i) => {
      position.set(r.runId, i);
    });
  // a job's history in the file holds its last LEDGER_HISTORY_CAP runs of every process (job-kill's child
  // records there too): a run older than the oldest kept is beyond the cap, whatever this process counted
  // (startedAt carries its zone's offset: compared as instants)
  const oldestKept = new Map<string, number>();
  for (const [job, list] of Object.entries(history))
    if (list.length >= LEDGER_HISTORY_CAP) oldestKept.set(job, Math.min(...list.map((r) => Date.parse(r.startedAt))));
  const recordedPerJob = new Map<string, RunRecord[]>();
  for (const r of input.ledgerRecords) {
    const list = recordedPerJob.get(r.job) ?? [];
    list.push(r);
    recordedPerJob.set(r.job, list);
  }
  for (const [job, records] of recordedPerJob) {
    records.forEach((r, i) => {
      if (r.status !== 'unhealthy') return;
      bump(counts, 'unhealthy_runs');
      if (r.errors < 1) problems.add(`${job} run ${r.runId}: unhealthy with errors ${r.errors} (no Errors metric counts it)`);
      const newer = records.length - 1 - i;
      if (position.has(r.runId)) bump(counts, 'unhealthy_in_watchdog_view');
      else if (newer >= LEDGER_HISTORY_CAP || Date.parse(r.startedAt) < (oldestKept.get(job) ?? Number.NEGATIVE_INFINITY))
        bump(counts, 'unhealthy_beyond_history_cap');
      else
        problems.add(`${job} run ${r.runId} (unhealthy: ${r.error ?? `${r.errors} errors`}): not in the ledger history the watchdog reads`);
    });
    // streaks the watchdog's failing rule pages for (two unhealthy runs in a row)
    for (let i = FAILING_RUNS - 1; i < records.length; i++)
      if (records.slice(i - FAILING_RUNS + 1, i + 1).every((r) => r.status === 'unhealthy')) bump(counts, 'failing_streak_runs');
  }
  const wd = input.watchdog;
  if (!wd) return;
  bump(counts, 'watchdog_runs', wd.runs.length);
  for (const run of wd.runs) {
    bump(counts, 'watchdog_failing_verdicts', run.result.failing.length);
    bump(counts, 'watchdog_stale_verdicts', run.result.stale.length);
  }
  // What the watchdog read is the file: a child's run that wrote its record there and was killed
  // before it could tell the soak is in the file only (the union, by run id).
  const known = new Set(input.ledgerRecords.map((r) => r.runId));
  const fileOnly = Object.values(history)
    .flat()
    .filter((r) => !known.has(r.runId));
  bump(counts, 'ledger_records_only_in_file', fileOnly.length);
  judgeWatchdogRuns([...input.ledgerRecords, ...fileOnly], input.journal.runs, wd, problems, counts);
  const last = wd.runs.at(-1);
  if (last?.phase !== 'catch-up') {
    problems.add('watchdog: no run after the catch-up');
    return;
  }
  for (const w of wd.watched) {
    const h = history[w.name] ?? [];
    const success = file.lastSuccess?.[w.name];
    const since = success ? Date.parse(success.finishedAt) : h.length > 0 ? Date.parse(h[h.length - 1]?.startedAt ?? '') : undefined;
    const minutes = since === undefined ? null : Math.max(0, Math.round((Date.parse(last.at) - since) / 60_000));
    const stale = minutes !== null && minutes > w.staleAfterMinutes;
    const failing = h.length >= FAILING_RUNS && h.slice(0, FAILING_RUNS).every((r) => r.status === 'unhealthy');
    const said = { stale: last.result.stale.includes(w.name), failing: last.result.failing.includes(w.name) };
    if (said.stale !== stale || said.failing !== failing)
      problems.add(
        `watchdog on ${w.name}: says stale ${said.stale}, failing ${said.failing}; the ledger says stale ${stale} (${minutes} min since its last success, limit ${w.staleAfterMinutes}), failing ${failing}`,
      );
    if (minutes === null) problems.add(`watchdog on ${w.name}: the job never ran (no record in the ledger)`);
    else if (said.stale || said.failing)
      problems.add(
        `watchdog on ${w.name} after the catch-up: ${said.stale ? `stale (${minutes} min since its last success, limit ${w.staleAfterMinutes})` : ''}${said.stale && said.failing ? ', ' : ''}${said.failing ? `failing (${last.result.jobs[w.name]?.lastError ?? 'its last runs unhealthy'})` : ''}`,
      );
    else bump(counts, 'watched_fresh_after_catch_up');
  }
}

/**
 * Virtual time either side of a watchdog run within which a record of the job makes its verdict
 * unsettled (not judged): a run's `finishedAt` is taken before its record reaches the ledger file,
 * a few real ms later — minutes of virtual time at the soak's speed.
 */
const WATCHDOG_SETTLE_MS = 2 * 3_600_000;

/**
 * Each watchdog run's verdicts, judged against the runs recorded (the checker's own reading of its
 * rule): for every watched job whose ledger did not change around the watchdog's read (no record
 * finished within WATCHDOG_SETTLE_MS of it), failing iff its latest FAILING_RUNS runs before the read
 * were all unhealthy — so a failing streak seen by a watchdog run is paged, and nothing else is —
 * and stale iff its last success is older than its limit (judged only when the read's start and end
 * agree). A verdict that does not match names the watchdog run, the job and the runs.
 */
function judgeWatchdogRuns(
  records: readonly RunRecord[],
  journaled: readonly JournalRun[],
  wd: NonNullable<CheckerInput['watchdog']>,
  problems: Problems,
  counts: Record<string, number>,
): void {
  // A run killed after it wrote its record to the file but before it told the soak: the watchdog may
  // have read that record, which may since have left the file's 200-run history. So a verdict a
  // killed run (record unknown) could have changed is not judged: one whose run died after the
  // earliest record the verdict rests on, and before the watchdog's read (with the settle margin).
  const known = new Set(records.map((r) => r.runId));
  const killedAt = new Map<string, number[]>();
  for (const r of journaled)
    if (r.outcome === 'killed' && r.at && !known.has(r.runId)) killedAt.set(r.job, [...(killedAt.get(r.job) ?? []), Date.parse(r.at)]);
  const killedBetween = (job: string, after: number, before: number) => (killedAt.get(job) ?? []).some((t) => t > after && t < before);
  const byJob = new Map<string, { status: RunRecord['status']; finished: number; runId: string }[]>();
  for (const r of records) {
    const list = byJob.get(r.job) ?? [];
    list.push({ status: r.status, finished: Date.parse(r.finishedAt), runId: r.runId });
    byJob.set(r.job, list);
  }
  for (const list of byJob.values()) list.sort((a, b) => a.finished - b.finished);
  for (const run of wd.runs) {
    if (!run.startedAt) continue;
    const start = Date.parse(run.startedAt);
    const end = Date.parse(run.at);
    for (const w of wd.watched) {
      const runs = byJob.get(w.name) ?? [];
      if (runs.some((r) => r.finished >= start - WATCHDOG_SETTLE_MS && r.finished <= end + WATCHDOG_SETTLE_MS)) {
        bump(counts, 'watchdog_verdicts_unsettled');
        continue;
      }
      const before = runs.filter((r) => r.finished < start);
      const latest = before.slice(-FAILING_RUNS);
      const failing = latest.length === FAILING_RUNS && latest.every((r) => r.status === 'unhealthy');
      const saidFailing = run.result.failing.includes(w.name);
      const horizon = end + 2 * WATCHDOG_SETTLE_MS;
      if (
        killedBetween(
          w.name,
          latest.length === FAILING_RUNS ? (latest[0] as { finished: number }).finished : Number.NEGATIVE_INFINITY,
          horizon,
        )
      )
        bump(counts, 'watchdog_verdicts_unsettled');
      else if (saidFailing !== failing)
        problems.add(
          `watchdog run at ${run.at} on ${w.name}: says failing ${saidFailing}; its latest runs before it were ${latest.map((r) => `${r.runId} ${r.status}`).join(', ') || 'none'}`,
        );
      else bump(counts, failing ? 'watchdog_failing_judged' : 'watchdog_not_failing_judged');
      const success = before.filter((r) => r.status === 'healthy').at(-1);
      if (!success) continue; // never succeeded: the watchdog counts from the oldest attempt in its history
      const limit = w.staleAfterMinutes * 60_000;
      const saidStale = run.result.stale.includes(w.name);
      // minutes are rounded: a margin of a minute either way
      const stale = start - success.finished > limit + 60_000 ? true : end - success.finished < limit - 60_000 ? false : undefined;
      if (stale === undefined || killedBetween(w.name, success.finished, horizon)) bump(counts, 'watchdog_verdicts_unsettled');
      else if (saidStale !== stale)
        problems.add(
          `watchdog run at ${run.at} on ${w.name}: says stale ${saidStale} (${run.result.jobs?.[w.name]?.minutesSinceSuccess} min since a success); its last success (${success.runId}) finished ${Math.round((start - success.finished) / 60_000)} min before, limit ${w.staleAfterMinutes}`,
        );
      else bump(counts, stale ? 'watchdog_stale_judged' : 'watchdog_fresh_judged');
    }
  }
}
