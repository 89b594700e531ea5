/**
 * The soak's checker catches what it must (issue 24): one short soak without faults, its servers
 * kept; then each invariant is broken on purpose behind the jobs' back (a message row deleted,
 * duplicated or given other content, an event dropped, an hourly bucket bumped, an object replaced
 * or added, an audit's message duplicated, a lease left held, a run left without a ledger record),
 * the checker alone runs again on that state, and it must fail that invariant with a problem line
 * that names the broken item. PostgreSQL breakages happen in a fresh copy of the database
 * (CREATE DATABASE … TEMPLATE); S3 ones are undone after; so every case is independent.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { type CheckerInput, type CheckResult, check } from '../../local/soak/checker';
import { runJobInChild } from '../../local/soak/child-jobs';
import { HOUR } from '../../local/soak/clock';
import type { JournalMessage } from '../../local/soak/journal';
import { soakSummary } from '../../local/soak/report';
import { runSoak, type SoakReport } from '../../local/soak/soak';

jest.setTimeout(120_000);

let dir: string;
let report: SoakReport;
let input: CheckerInput;
let s3: S3Client;

const CHECK = { messages: '1.', events: '2.', objects: '3.', audits: '4.', runs: '5.' } as const;

function result(results: CheckResult[], which: keyof typeof CHECK): CheckResult {
  const r = results.find((c) => c.name.startsWith(CHECK[which]));
  if (!r) throw new Error(`no check ${which}`);
  return r;
}

/** Runs `fn` on a fresh copy of the soak's database, then the checker against that copy. */
async function onCopy(fn: (db: Client) => Promise<void>, override: Partial<CheckerInput> = {}): Promise<CheckResult[]> {
  const source = new URL(input.databaseUrl);
  const name = `${source.pathname.slice(1)}_copy_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new Client({ connectionString: Object.assign(new URL(source), { pathname: '/postgres' }).toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${source.pathname.slice(1)}`);
    const url = Object.assign(new URL(source), { pathname: `/${name}` }).toString();
    const db = new Client({ connectionString: url });
    await db.connect();
    try {
      await fn(db);
    } finally {
      await db.end();
    }
    return await check({ ...input, ...override, databaseUrl: url });
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}

/** A journaled message whose row is in PostgreSQL, in a thread that is no longer young (so Redis cannot stand in for it). */
async function messageInPostgres(db: Client): Promise<{ m: JournalMessage; rowId: string }> {
  const newest = new Map<string, number>();
  for (const m of input.journal.messages.values()) newest.set(m.thread, Math.max(newest.get(m.thread) ?? 0, Date.parse(m.at)));
  const old = input.now.getTime() - (input.cutoffHours + 2) * HOUR;
  const rows = (
    await db.query<{ k: string; id: string }>("SELECT message_key AS k, id::text AS id FROM messages WHERE source = 'redis_archive'")
  ).rows;
  for (const r of rows) {
    const m = input.journal.messages.get(r.k);
    if (m && (newest.get(m.thread) ?? 0) < old) return { m, rowId: r.id };
  }
  throw new Error('no archived message of an old thread in PostgreSQL');
}

/** The columns an INSERT may name (no generated or identity column). */
async function insertable(db: Client, table: string): Promise<string[]> {
  return (
    await db.query<{ c: string }>(
      `SELECT column_name AS c FROM information_schema.columns
        WHERE table_name = $1::text AND table_schema = current_schema() AND is_generated = 'NEVER' AND is_identity = 'NO'
        ORDER BY ordinal_position`,
      [table],
    )
  ).rows.map((r) => r.c);
}

/** A copy of the row `id` of messages in its own conversation, the (conversation, key) constraint dropped. */
async function copyMessageRow(db: Client, id: string): Promise<void> {
  await db.query('ALTER TABLE messages DROP CONSTRAINT messages_conversation_key_uq');
  const list = (await insertable(db, 'messages')).map((c) => `"${c}"`).join(', ');
  await db.query(`INSERT INTO messages (${list}) SELECT ${list} FROM messages WHERE id = $1::bigint`, [id]);
}

async function objectBytes(key: string): Promise<Uint8Array> {
  const got = await s3.send(new GetObjectCommand({ Bucket: input.bucket, Key: key }));
  return (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
}

async function liveObjects(table: string): Promise<string[]> {
  const db = new Client({ connectionString: input.databaseUrl });
  await db.connect();
  try {
    return (
      await db.query<{ k: string }>(
        'SELECT object_key AS k FROM archive_manifest WHERE superseded_at IS NULL AND table_name = $1::text ORDER BY row_count DESC, object_key',
        [table],
      )
    ).rows.map((r) => r.k);
  } finally {
    await db.end();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'soak-checker-'));
  // 10 s at 12 virtual h/s: five days, so retention (3 days for messages) has moved some to cold storage.
  report = await runSoak({ seconds: 10, seed: 7, speed: 12, nemesis: false, keepServicesFile: join(dir, 'services.json') });
  if (!report.checkerInput) throw new Error(`the soak did not reach its checks:\n${soakSummary(report).join('\n')}`);
  input = report.checkerInput;
  s3 = new S3Client({
    endpoint: input.s3Endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
});

afterAll(async () => {
  s3?.destroy();
  await report?.stopServices?.();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the soak checker', () => {
  it('passes on the untouched state, which has rows in PostgreSQL and in cold objects', () => {
    expect(report.checks.map((c) => [c.name, c.pass, c.problems])).toEqual(report.checks.map((c) => [c.name, true, []]));
    expect(result(report.checks, 'messages').counts.in_postgres ?? 0).toBeGreaterThan(0);
    expect(result(report.checks, 'messages').counts.in_cold ?? 0).toBeGreaterThan(0);
    expect(result(report.checks, 'objects').counts.objects_verified ?? 0).toBeGreaterThan(0);
    expect(result(report.checks, 'audits').counts.one_message_postgres ?? 0).toBeGreaterThan(0);
  });

  describe('1. messages', () => {
    it('a message row deleted behind the jobs’ back: lost, named', async () => {
      let lost: JournalMessage | undefined;
      const r = await onCopy(async (db) => {
        const { m, rowId } = await messageInPostgres(db);
        lost = m;
        await db.query('DELETE FROM messages WHERE id = $1::bigint', [rowId]);
      });
      const c = result(r, 'messages');
      expect(c.pass).toBe(false);
      expect(c.counts.lost).toBe(1);
      expect(c.problems).toEqual([expect.stringMatching(new RegExp(`^message ${lost?.id} of ${lost?.thread} .*nowhere`))]);
    });

    it('a message row duplicated: two copies, both named', async () => {
      let dup: JournalMessage | undefined;
      const r = await onCopy(async (db) => {
        const { m, rowId } = await messageInPostgres(db);
        dup = m;
        await copyMessageRow(db, rowId);
      });
      const c = result(r, 'messages');
      expect(c.pass).toBe(false);
      expect(c.counts.duplicated).toBe(1);
      expect(c.problems).toEqual([
        expect.stringMatching(new RegExp(`^message ${dup?.id} of ${dup?.thread}: 2 copies \\(row \\d+ .*; row \\d+ `)),
      ]);
    });

    it('a message row given other content: stale, named', async () => {
      let stale: JournalMessage | undefined;
      const r = await onCopy(async (db) => {
        const { m, rowId } = await messageInPostgres(db);
        stale = m;
        await db.query("UPDATE messages SET content = content || ' (an earlier version)' WHERE id = $1::bigint", [rowId]);
      });
      const c = result(r, 'messages');
      expect(c.pass).toBe(false);
      expect(c.problems).toEqual([expect.stringContaining(`message ${stale?.id} of ${stale?.thread}: postgres holds an earlier version`)]);
    });

    it('a message row moved to another conversation: misfiled, named', async () => {
      let moved: JournalMessage | undefined;
      const r = await onCopy(async (db) => {
        const { m, rowId } = await messageInPostgres(db);
        moved = m;
        const [other] = (
          await db.query<{ id: string }>(
            `SELECT c.id::text AS id FROM conversations c WHERE c.conversation_key <> $1::text AND c.conversation_key LIKE 'soak-%'
               AND NOT EXISTS (SELECT 1 FROM messages x WHERE x.conversation_id = c.id AND x.message_key = $2::text) LIMIT 1`,
            [m.thread, m.id],
          )
        ).rows;
        await db.query('UPDATE messages SET conversation_id = $2::uuid WHERE id = $1::bigint', [rowId, other?.id]);
      });
      const c = result(r, 'messages');
      expect(c.pass).toBe(false);
      expect(c.counts.misfiled).toBe(1);
      expect(c.problems).toEqual([
        expect.stringMatching(new RegExp(`^message ${moved?.id} of ${moved?.thread}: found under conversation soak-`)),
      ]);
    });
  });

  describe('1. messages written by the real LangGraph savers', () => {
    it('are checked: archived ones in PostgreSQL or cold, young ones read from the savers’ documents in Redis', () => {
      const c = result(report.checks, 'messages');
      expect(c.counts.saver_threads ?? 0).toBeGreaterThan(0);
      expect((c.counts.saver_in_postgres ?? 0) + (c.counts.saver_in_cold ?? 0)).toBeGreaterThan(0);
      expect(c.counts.saver_in_redis_only ?? 0).toBeGreaterThan(0);
    });

    it('a saver message still only in Redis, given other content in every document that holds it: lost, named', async () => {
      const redis = new Redis(input.redisUrl);
      const saved = new Map<string, string>();
      try {
        const docs = new Map<string, string>();
        for (const pattern of ['checkpoint:*', 'checkpoint_blob:*'])
          for (const key of await redis.keys(pattern)) docs.set(key, (await redis.get(key)) ?? '');
        const db = new Client({ connectionString: input.databaseUrl });
        await db.connect();
        const archived = new Set(
          (await db.query<{ k: string }>('SELECT message_key AS k FROM messages')).rows.map((r) => r.k).filter((k) => k.startsWith('m-')),
        );
        await db.end();
        const young = input.now.getTime() - (input.cutoffHours - 2) * HOUR;
        const m = [...input.journal.messages.values()].find(
          (x) =>
            x.layout !== 'seed' &&
            !archived.has(x.id) &&
            Date.parse(x.at) > young &&
            [...docs.values()].some((v) => v.includes(`"id":"${x.id}"`) && v.includes(JSON.stringify(x.content))),
        );
        if (!m) throw new Error('no saver message only in Redis');
        for (const [key, v] of docs)
          if (v.includes(`"id":"${m.id}"`)) {
            saved.set(key, v);
            // only this message's content (another message of the document may have the same text)
            const change = (x: unknown): unknown => {
              if (Array.isArray(x)) return x.map(change);
              if (x === null || typeof x !== 'object') return x;
              const o = Object.fromEntries(Object.entries(x).map(([k, y]) => [k, change(y)])) as Record<string, unknown>;
              const kw = o.kwargs as Record<string, unknown> | undefined;
              if (kw && kw.id === m.id && kw.content === m.content) o.kwargs = { ...kw, content: `${m.content} (changed behind the app)` };
              return o;
            };
            await redis.set(key, JSON.stringify(change(JSON.parse(v))), 'KEEPTTL');
          }
        const c = result(await check(input), 'messages');
        expect(c.pass).toBe(false);
        expect(c.counts.lost).toBe(1);
        expect(c.problems).toEqual([
          `message ${m.id} of ${m.thread} (last written ${m.at}): nowhere but in an old checkpoint still in Redis`,
        ]);
      } finally {
        for (const [key, v] of saved) await redis.set(key, v, 'KEEPTTL');
        redis.disconnect();
      }
    });
  });

  describe('2. events', () => {
    it('a stored event deleted: lost, named', async () => {
      let id: string | undefined;
      const r = await onCopy(async (db) => {
        const rows = (await db.query<{ id: string }>('SELECT id FROM analytics_events ORDER BY id')).rows;
        id = rows.find((x) => input.journal.events.get(x.id)?.valid)?.id;
        await db.query('DELETE FROM analytics_events WHERE id = $1::text', [id]);
      });
      const c = result(r, 'events');
      expect(c.pass).toBe(false);
      expect(c.problems).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^valid event ${id} .*: 0 stored copies`))]));
    });

    it('a stored event stored twice: duplicated, named', async () => {
      let id: string | undefined;
      const r = await onCopy(async (db) => {
        const rows = (await db.query<{ id: string }>('SELECT id FROM analytics_events ORDER BY id')).rows;
        id = rows.find((x) => input.journal.events.get(x.id)?.valid)?.id;
        // the primary key dropped: the row written a second time, as an ingest without its idempotency would
        const [pk] = (
          await db.query<{ name: string }>(
            "SELECT conname AS name FROM pg_constraint WHERE conrelid = 'analytics_events'::regclass AND contype = 'p'",
          )
        ).rows;
        if (pk) await db.query(`ALTER TABLE analytics_events DROP CONSTRAINT ${pk.name} CASCADE`);
        const list = (await insertable(db, 'analytics_events')).map((c) => `"${c}"`).join(', ');
        await db.query(`INSERT INTO analytics_events (${list}) SELECT ${list} FROM analytics_events WHERE id = $1::text`, [id]);
      });
      const c = result(r, 'events');
      expect(c.pass).toBe(false);
      expect(c.problems).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^valid event ${id} .*: 2 stored copies`))]));
    });

    it('an invalid event’s rejection deleted: named', async () => {
      let id: string | undefined;
      const r = await onCopy(async (db) => {
        const rows = (
          await db.query<{ id: string }>('SELECT event_id AS id FROM analytics_events_rejected WHERE event_id IS NOT NULL ORDER BY 1')
        ).rows;
        id = rows.find((x) => input.journal.events.get(x.id)?.valid === false)?.id;
        await db.query('DELETE FROM analytics_events_rejected WHERE event_id = $1::text', [id]);
      });
      const c = result(r, 'events');
      expect(c.pass).toBe(false);
      expect(c.problems).toEqual([`invalid event ${id}: in analytics_events_rejected 0 time(s), not once`]);
    });

    it('an event added to a closed hourly bucket of the property in a half-hour zone: the bucket named, with both counts', async () => {
      let bucket: { p: Date; property_id: string; channel: string; direction: string; count: number } | undefined;
      const r = await onCopy(async (db) => {
        [bucket] = (
          await db.query<{ p: Date; property_id: string; channel: string; direction: string; count: number }>(
            `SELECT period_start AS p, property_id, channel, direction, count FROM agg_message_counts_hourly
              WHERE count > 0 AND property_id = 'hostal-centro' AND period_start + interval '1 hour' <=
                    (SELECT aggregated_through FROM agg_watermarks
                      WHERE agg_table = 'agg_message_counts_hourly' AND time_zone = 'Asia/Kolkata')
              ORDER BY period_start, property_id, channel, direction LIMIT 1`,
          )
        ).rows;
        await db.query(
          'UPDATE agg_message_counts_hourly SET count = count + 1 WHERE period_start = $1 AND property_id = $2 AND channel = $3 AND direction = $4',
          [bucket?.p, bucket?.property_id, bucket?.channel, bucket?.direction],
        );
      });
      const c = result(r, 'events');
      expect(c.pass).toBe(false);
      // its hours start at :30 UTC (Asia/Kolkata, +05:30)
      expect(new Date(bucket?.p as Date).getUTCMinutes()).toBe(30);
      const k = JSON.stringify([new Date(bucket?.p as Date).toISOString(), bucket?.property_id, bucket?.channel, bucket?.direction]);
      expect(c.problems).toEqual([`agg_message_counts_hourly ${k}: ${(bucket?.count ?? 0) + 1}, the journal says ${bucket?.count}`]);
    });
    it('a closed month’s message total that the events do not make: the month and property named', async () => {
      // the soak's five days start on 1 March: February is closed (the monthly job computed through it) and empty
      const r = await onCopy(async (db) => {
        await db.query("INSERT INTO agg_monthly_summary (period_month, property_id, total_messages) VALUES ('2026-02', 'hotel-sur', 3)");
      });
      const c = result(r, 'events');
      expect(c.pass).toBe(false);
      expect(c.problems).toEqual(['agg_monthly_summary ["2026-02","hotel-sur"]: total_messages 3, the journal says 0']);
    });
    it('a property with events but no zone in the input: a clear error naming it, not a bucket compared in the wrong zone', async () => {
      const { 'hostal-centro': _, ...zones } = input.propertyZones;
      await expect(onCopy(async () => undefined, { propertyZones: zones })).rejects.toThrow(
        'check 2: property "hostal-centro" has events but no zone in the checker\'s input (propertyZones): its hours cannot be placed',
      );
    });
  });

  describe('3. cold objects', () => {
    it('an object replaced by another one’s bytes: named, with its rows and SHA-256 against the manifest’s', async () => {
      const [a, b] = await liveObjects('messages');
      if (!a || !b) throw new Error('fewer than two live messages objects');
      const original = await objectBytes(a);
      await s3.send(new PutObjectCommand({ Bucket: input.bucket, Key: a, Body: await objectBytes(b) }));
      try {
        const c = result(await check(input), 'objects');
        expect(c.pass).toBe(false);
        expect(c.problems).toEqual([expect.stringMatching(new RegExp(`^${a}: rows \\d+ vs manifest \\d+, sha256 \\w+ vs \\w+`))]);
      } finally {
        await s3.send(new PutObjectCommand({ Bucket: input.bucket, Key: a, Body: original }));
      }
    });

    it('an object overwritten with garbage: named as unreadable (the checker does not stop)', async () => {
      const [a] = await liveObjects('messages');
      if (!a) throw new Error('no live messages object');
      const original = await objectBytes(a);
      await s3.send(new PutObjectCommand({ Bucket: input.bucket, Key: a, Body: Buffer.from('not parquet at all') }));
      try {
        const r = await check(input);
        const c = result(r, 'objects');
        expect(c.pass).toBe(false);
        expect(c.problems).toEqual([expect.stringMatching(new RegExp(`^${a}: live manifest row .*object unreadable`))]);
        // its messages are then nowhere: check 1 names them
        expect(result(r, 'messages').counts.lost ?? 0).toBeGreaterThan(0);
      } finally {
        await s3.send(new PutObjectCommand({ Bucket: input.bucket, Key: a, Body: original }));
      }
    });

    it('an object outside the manifest: named', async () => {
      const [a] = await liveObjects('messages');
      const key = 'messages/day=2026-03-01/not-in-the-manifest.parquet';
      await s3.send(new PutObjectCommand({ Bucket: input.bucket, Key: key, Body: await objectBytes(a as string) }));
      try {
        const c = result(await check(input), 'objects');
        expect(c.pass).toBe(false);
        expect(c.problems).toEqual([`${key}: in the bucket, in no manifest row`]);
      } finally {
        await s3.send(new DeleteObjectCommand({ Bucket: input.bucket, Key: key }));
      }
    });

    it('a live manifest row whose object is gone: named', async () => {
      let key: string | undefined;
      const r = await onCopy(async (db) => {
        key = 'messages/day=2026-03-01/gone.parquet';
        await db.query(
          `INSERT INTO archive_manifest (table_name, bucket, object_key, row_count, bytes, sha256, range_start, range_end, run_id)
           SELECT table_name, bucket, $1::text, row_count, bytes, sha256, range_start, range_end, run_id FROM archive_manifest
            WHERE table_name = 'messages' AND superseded_at IS NULL LIMIT 1`,
          [key],
        );
      });
      const c = result(r, 'objects');
      expect(c.pass).toBe(false);
      expect(c.problems).toEqual([
        expect.stringMatching(new RegExp(`^${key}: live manifest row \\(\\d+ rows of messages\\) but no object`)),
      ]);
    });
  });

  describe('4. audits', () => {
    it('an audit’s message duplicated: the audit named, with both copies', async () => {
      let audit: string | undefined;
      const r = await onCopy(async (db) => {
        const [row] = (
          await db.query<{ id: string; k: string }>(
            "SELECT id::text AS id, message_key AS k FROM messages WHERE message_key LIKE 'audit:%' ORDER BY id LIMIT 1",
          )
        ).rows;
        audit = row?.k.slice('audit:'.length);
        await copyMessageRow(db, row?.id as string);
      });
      const c = result(r, 'audits');
      expect(c.pass).toBe(false);
      expect(c.problems).toEqual([expect.stringMatching(new RegExp(`^audit ${audit} \\(lead [\\w-]+\\): 2 messages, not one`))]);
    });

    it('an audit’s message deleted: the audit named', async () => {
      let audit: string | undefined;
      const r = await onCopy(async (db) => {
        const [row] = (
          await db.query<{ id: string; k: string }>(
            "SELECT id::text AS id, message_key AS k FROM messages WHERE message_key LIKE 'audit:%' ORDER BY id LIMIT 1",
          )
        ).rows;
        audit = row?.k.slice('audit:'.length);
        await db.query('DELETE FROM messages WHERE id = $1::bigint', [row?.id]);
      });
      const c = result(r, 'audits');
      expect(c.pass).toBe(false);
      expect(c.problems).toEqual([expect.stringMatching(new RegExp(`^audit ${audit} \\(lead [\\w-]+\\): 0 messages, not one`))]);
    });
  });

  describe('5. runs and leases', () => {
    it('a lease left held: the job and its holder named', async () => {
      const r = await onCopy(async (db) => {
        await db.query(
          `INSERT INTO job_leases (job, owner, fence, expires_at, holder) VALUES ('retention', 'killed-run', 1, now() + interval '10 minutes', 'lambda')
           ON CONFLICT (job) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at, holder = excluded.holder`,
        );
      });
      const c = result(r, 'runs');
      expect(c.pass).toBe(false);
      expect(c.problems).toEqual([expect.stringMatching(/^job_leases retention \(lambda\) still held until /)]);
    });

    it('a run with no ledger record, and a failed run the ledger calls healthy: each run named', async () => {
      const [gone, lied] = input.ledgerRecords.filter((x) => x.job === 'archive');
      if (!gone || !lied) throw new Error('fewer than two archive runs');
      const journal = Object.create(input.journal) as typeof input.journal;
      // the journal says the second one failed; the ledger (as recorded) says healthy
      Object.defineProperty(journal, 'runs', {
        value: input.journal.runs.map((x) => (x.runId === lied.runId ? { ...x, outcome: 'failed', error: 'Error: killed' } : x)),
      });
      const r = await check({
        ...input,
        journal,
        ledgerRecords: input.ledgerRecords.filter((x) => x !== gone).map((x) => (x === lied ? { ...x, status: 'healthy' as const } : x)),
      });
      const c = result(r, 'runs');
      expect(c.pass).toBe(false);
      expect(c.problems).toEqual(
        expect.arrayContaining([
          expect.stringMatching(new RegExp(`^archive run ${gone.runId} \\(\\w+\\): no record in the ledger`)),
          `archive run ${lied.runId} failed, the ledger says healthy`,
        ]),
      );
    });
  });

  describe('5. the watchdog’s view (every failure counted and paged)', () => {
    it('an unhealthy run missing from the ledger the watchdog reads: the run named', async () => {
      const [some] = input.ledgerRecords;
      if (!some) throw new Error('no run recorded');
      const hidden = { ...some, runId: 'hidden-run', status: 'unhealthy' as const, errors: 1, error: 'Database unreachable' };
      const c = result(await check({ ...input, ledgerRecords: [...input.ledgerRecords, hidden] }), 'runs');
      expect(c.pass).toBe(false);
      expect(c.problems).toEqual([
        `${some.job} run hidden-run (unhealthy: Database unreachable): not in the ledger history the watchdog reads`,
      ]);
    });

    it('a watchdog that says a job is failing after the catch-up, against the ledger: the job named', async () => {
      const runs = input.watchdog?.runs ?? [];
      const last = runs.at(-1);
      if (!last) throw new Error('no watchdog run');
      const lying = { ...last, result: { ...last.result, failing: ['archive'] } };
      const c = result(
        await check({ ...input, watchdog: { watched: input.watchdog?.watched ?? [], runs: [...runs.slice(0, -1), lying] } }),
        'runs',
      );
      expect(c.pass).toBe(false);
      expect(c.problems).toEqual([
        expect.stringMatching(
          /^watchdog on archive: says stale false, failing true; the ledger says stale false \(0 min since its last success, limit \d+\), failing false$/,
        ),
        expect.stringMatching(/^watchdog on archive after the catch-up: failing/),
      ]);
    });

    it('watchdog runs during the soak that call every watched job failing: each verdict the ledger settles is named', async () => {
      const untouched = result(report.checks, 'runs');
      expect(untouched.counts.watchdog_not_failing_judged ?? 0).toBeGreaterThan(0); // the soak's verdicts were judged, and held
      const watched = input.watchdog?.watched ?? [];
      const runs = (input.watchdog?.runs ?? []).map((r) =>
        r.phase === 'soak' ? { ...r, result: { ...r.result, failing: watched.map((w) => w.name) } } : r,
      );
      const c = result(await check({ ...input, watchdog: { watched, runs } }), 'runs');
      expect(c.pass).toBe(false);
      const named = c.problems.filter((p) => /^watchdog run at \S+ on \S+: says failing true; its latest runs before it were /.test(p));
      // the first 12 problems are listed; no verdict that was judged still counts as held
      expect(named.length).toBe(Math.min(12, untouched.counts.watchdog_not_failing_judged ?? 0));
      expect(c.counts.watchdog_not_failing_judged ?? 0).toBe(0);
    });

    it('the watchdog is run after the catch-up and finds every watched job fresh', () => {
      const c = result(report.checks, 'runs');
      expect(c.counts.watched_fresh_after_catch_up).toBe(input.watchdog?.watched.length);
      expect(input.watchdog?.watched.map((w) => w.name)).toEqual(
        expect.arrayContaining(['archive', 'retention', 'hourly_message_counts', 'reports-daily']),
      );
    });
  });

  it('a job’s process killed mid-run and started again: the kill is journaled, the next run finishes, the checks hold', async () => {
    const spec = {
      job: 'archive' as const,
      databaseUrl: input.databaseUrl,
      redisUrl: input.redisUrl,
      s3Endpoint: input.s3Endpoint,
      bucket: input.bucket,
      ledgerFile: input.ledgerFile as string,
      clock: { start: input.now.toISOString(), speed: 3_600, realStart: Date.now() },
      seed: 1,
      holder: 'test',
    };
    const killed = await runJobInChild(spec, 0);
    const again = await runJobInChild(spec);
    expect([killed.killed, killed.runId]).toEqual([true, expect.any(String)]);
    expect(again.run?.outcome).toBe('healthy');
    expect(again.records.map((r) => r.runId)).toEqual([again.run?.runId]);
    const withRuns = (list: typeof input.journal.runs) =>
      Object.defineProperty(Object.create(input.journal), 'runs', { value: list }) as typeof input.journal;
    const runs = [
      ...input.journal.runs,
      {
        job: 'archive',
        runId: killed.runId as string,
        outcome: 'killed' as const,
        ledgered: false,
        phase: 'soak' as const,
        error: 'SIGKILL',
      },
      again.run as NonNullable<typeof again.run>,
    ];
    const r = await check({ ...input, journal: withRuns(runs), ledgerRecords: [...input.ledgerRecords, ...again.records] });
    expect(r.map((c) => [c.name, c.pass, c.problems])).toEqual(r.map((c) => [c.name, true, []]));
    expect(result(r, 'runs').counts.killed_then_ran_again).toBe(1);
    // without the run after it, the kill is named
    const c = result(await check({ ...input, journal: withRuns(runs.slice(0, -1)) }), 'runs');
    expect(c.problems).toEqual(
      expect.arrayContaining([`archive run ${killed.runId} killed (SIGKILL): no later archive run got past its locks and finished`]),
    );
  });

  it('every breakage undone: the kept state passes every check again', async () => {
    const r = await check(input);
    expect(r.map((c) => [c.name, c.pass, c.problems])).toEqual(r.map((c) => [c.name, true, []]));
  });
});
