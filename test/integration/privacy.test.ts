/**
 * One person's data across every store (issue 25): PostgreSQL, live checkpoints in Redis, cold
 * objects shared with other people. Found from one identifier, exported, erased for good with a
 * receipt; the others' data byte-identical; nothing of the subject comes back. Real PostgreSQL 17,
 * redis-server, s3rver (which keeps no versions: removing every version is proven at the SDK
 * boundary, test/unit/cold-store.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { strFromU8, unzipSync } from 'fflate';
import { Redis } from 'ioredis';
import { CheckpointStore } from '../../lambdas/archive/redis-store';
import { erase, exportSubject, find, type SubjectDeps, verify } from '../../lambdas/privacy/subject';
import type { Identifier } from '../../lambdas/privacy/subjects';
import { readBack } from '../../lambdas/retention/parquet';
import { restore } from '../../lambdas/retention/restore';
import { memoryLog } from '../../lambdas/shared/observability';
import { RETENTION_POLICIES } from '../../lib/config';
import { downloadPrefix, duckQuery } from '../../local/duckdb';
import { HOUR_MS, putWithAge, seedValue } from '../../local/fixtures';
import { type Running, startRedis } from '../../local/services';
import { archiveAclRules, archivedRows, archiveOnce, redisClient } from '../support/archive-harness';
import { DRIVERS, type TestDb, testDb } from '../support/db';
import { BUCKET, NOW, run, s3 } from '../support/retention-harness';
import { reconcileTestRoles, roleSql } from '../support/roles';

const PHONE = '+34600000001';
const LEAD = '00000000-0000-4000-8000-0000000000a1';
const ANA_CONV = '00000000-0000-0000-0000-00000000a001'; // the subject's conversation (archived, then cold)
const ANA_LIVE = '00000000-0000-0000-0000-00000000a002'; // the subject's conversation still in PostgreSQL
const BOB_CONV = '00000000-0000-0000-0000-00000000b001'; // someone else, in the same cold objects

/** Ana (the subject, known by her phone) and Bob, over every store. */
async function seed(db: TestDb, redis: Redis) {
  await db.direct.execute(
    `INSERT INTO leads (id, customer_id, channel, phone, created_at) VALUES ($1::uuid, 'cust-ana', 'whatsapp', $2::text, '2025-01-01')`,
    [LEAD, PHONE],
  );
  await db.direct.execute(
    `INSERT INTO audits (lead_id, actor, action, payload, created_at) VALUES ($1::uuid, 'customer', 'message', '{"text": "hola, soy Ana"}', '2025-01-02')`,
    [LEAD],
  );
  // The backfill's record of which audit became which message (sql/022).
  await db.direct.execute(`INSERT INTO backfill_audit_messages (audit_id, conversation_key) SELECT id, 'lead:' || lead_id FROM audits`);
  await db.direct.execute(
    `INSERT INTO conversations (id, conversation_key, source, channel, customer_id, lead_id, external_id, started_at, last_message_at) VALUES
       ($1::uuid, 'wa:ana-1', 'redis_archive', 'whatsapp', 'cust-ana', $4::uuid, '+34 600 000 001', '2025-01-03 09:00+00', '2025-01-03 12:00+00'),
       ($2::uuid, 'wa:ana-2', 'redis_archive', 'whatsapp', NULL, NULL, '+34600000001', '2026-11-20 09:00+00', '2026-11-20 12:00+00'),
       ($3::uuid, 'wa:bob-1', 'redis_archive', 'whatsapp', 'cust-bob', NULL, '+34600000002', '2025-01-03 09:00+00', '2025-01-03 12:00+00')`,
    [ANA_CONV, ANA_LIVE, BOB_CONV, LEAD],
  );
  await db.direct.execute(
    `INSERT INTO messages (conversation_id, message_key, role, content, created_at, source)
     SELECT c, 'm' || i, 'user', who || ' says ' || i, '2025-01-03 10:00+00'::timestamptz + (i || ' minutes')::interval, 'redis_archive'
       FROM (VALUES ($1::uuid, 'Ana'), ($2::uuid, 'Bob')) AS v(c, who), generate_series(1, 3) i`,
    [ANA_CONV, BOB_CONV],
  );
  await db.direct.execute(
    `INSERT INTO messages (conversation_id, message_key, role, content, created_at, source) VALUES ($1::uuid, 'n1', 'user', 'Ana again', '2026-11-20 10:00+00', 'redis_archive')`,
    [ANA_LIVE],
  );
  await db.direct.execute(`INSERT INTO analytics_events (id, event_type, occurred_at, property_id, guest_id, conversation_id) VALUES
    ('ea1', 'message.received', '2025-01-03 10:00+00', 'salon', 'guest-ana', 'wa:ana-1'),
    ('ea2', 'conversation.started', '2026-11-20 10:00+00', 'salon', 'guest-ana', 'wa:ana-2'),
    ('eb1', 'message.received', '2025-01-03 10:00+00', 'salon', 'guest-bob', 'wa:bob-1')`);
  await db.direct.execute(
    `INSERT INTO analytics_events_rejected (raw, reason, rejected_at) VALUES ('{"id":"x","guestId":"guest-ana","eventType":"nope"}', 'unknown event type', '2026-11-20')`,
  );
  // Live checkpoints: Ana's current thread and Bob's.
  for (const [conv, customer] of [
    ['wa:ana-2', 'cust-ana'],
    ['wa:bob-2', 'cust-bob'],
  ] as const)
    await putWithAge(
      redis,
      `langgraph:checkpoint:${conv}:1763600000`,
      seedValue({
        conversationId: conv,
        customerId: customer,
        messages: [{ role: 'user', content: `${customer} live`, timestamp: '2026-11-21T10:00:00Z' }],
      }),
      HOUR_MS,
    );
}

const ANA: Identifier[] = [{ kind: 'contact', value: PHONE }];

describe.each(DRIVERS)('one subject across every store (%s driver)', (driver) => {
  let db: TestDb;
  let s: Awaited<ReturnType<typeof s3>>;
  let redisServer: Running;
  let redis: Redis;
  let deps: SubjectDeps;
  beforeAll(async () => {
    redisServer = await startRedis({ forceLocal: true });
  });
  afterAll(() => redisServer.stop());
  beforeEach(async () => {
    db = await testDb(driver);
    s = await s3();
    redis = new Redis(redisServer.url);
    await redis.flushall();
    deps = {
      sql: db.sql,
      store: s.store,
      redis: new CheckpointStore(redis),
      log: memoryLog(),
      clock: { now: () => NOW },
      policies: RETENTION_POLICIES,
      rowGroupRows: 1_000,
    };
    await seed(db, redis);
    // Old conversations and events go cold, Ana's and Bob's in the same objects.
    await run(db.sql, s.store, { tables: ['messages', 'conversations', 'analytics_events'] });
  });
  afterEach(async () => {
    redis.disconnect();
    await s.stop();
    await db.close();
  });

  const bobSnapshot = async () => ({
    pg: await db.direct.query(`SELECT t::text AS r FROM conversations t WHERE conversation_key LIKE 'wa:bob%' ORDER BY 1`),
    redis: await redis.get('langgraph:checkpoint:wa:bob-2:1763600000'),
    cold: await coldRows(),
  });
  async function coldRows(): Promise<string[]> {
    const out: string[] = [];
    const live = await db.direct.query<{ k: string }>(
      'SELECT object_key AS k FROM archive_manifest WHERE superseded_at IS NULL ORDER BY 1',
    );
    for (const { k } of live) {
      const head = await s.store.head(k);
      await readBack(s.store.reader(k, head?.size ?? 0), async (rows, cols) => {
        for (const r of rows) out.push(JSON.stringify(Object.fromEntries(cols.map((c, i) => [c, r[i]]))));
      });
    }
    return out.sort();
  }

  it('finds the subject from a phone number in every store, reading only the cold objects that hold her', async () => {
    const { findings, subject } = await find(deps, ANA);
    expect([...subject.ids.conversation].sort()).toEqual(['lead:00000000-0000-4000-8000-0000000000a1', 'wa:ana-1', 'wa:ana-2']);
    expect([...subject.ids.guest]).toEqual(['guest-ana']);
    expect(findings.postgres).toMatchObject({
      leads: 1,
      audits: 1,
      conversations: 1,
      messages: 1,
      analytics_events: 1,
      analytics_events_rejected: 1,
      analytics_lifecycle_state: 1, // the dashboard's state of her open conversation
    });
    expect(Object.keys(findings.postgres).sort()).toEqual([
      'analytics_events',
      'analytics_events_rejected',
      'analytics_lifecycle_state',
      'audits',
      'backfill_audit_messages',
      'checkpoint_quarantine',
      'conversations',
      'leads',
      'messages',
    ]);
    expect(findings.redis.keys).toEqual(['langgraph:checkpoint:wa:ana-2:1763600000']);
    expect(findings.cold.map((c) => [c.table, c.rows]).sort()).toEqual([
      ['analytics_events', 1],
      ['conversations', 1],
      ['messages', 3],
    ]);
    const zip = unzipSync((await exportSubject(deps, ANA)).zip);
    expect(Object.keys(zip).sort()).toEqual([
      'README.txt',
      'cold-storage.json',
      'conversations.txt',
      'live-checkpoints.json',
      'postgres.json',
    ]);
    const text = strFromU8(zip['conversations.txt'] as Uint8Array);
    expect(text).toContain('Ana says 1');
    expect(text).toContain('Ana again');
    expect(text).not.toContain('Bob');
  });

  it('objects written before there was a subject index are read to be sure; indexed objects only when they hold her', async () => {
    const all = Number((await db.direct.query<{ n: number }>('SELECT count(*)::int AS n FROM archive_manifest'))[0]?.n);
    const indexed = await find(deps, ANA);
    expect(indexed.findings.objectsRead).toBeLessThan(2 * all);
    await db.direct.execute('DELETE FROM subject_index'); // as if exported before migration 020
    const legacy = await find(deps, ANA);
    expect(legacy.findings.cold).toEqual(indexed.findings.cold);
  });

  it('erases her everywhere, with a receipt; Bob byte-identical; nothing comes back', async () => {
    const before = await bobSnapshot();
    const { receipt } = await erase(deps, ANA);
    expect(receipt.postgres).toMatchObject({
      leads: 1,
      audits: 1,
      backfill_audit_messages: 1,
      conversations: 1,
      messages: 1,
      analytics_events: 1,
      analytics_events_rejected: 1,
    });
    expect(receipt.redis.keysDeleted).toBe(1);
    expect(receipt.cold).toHaveLength(3);
    expect(JSON.stringify(receipt)).not.toMatch(/Ana|34600000001|guest-ana|cust-ana|wa:ana/);

    // A search of every store by every identifier finds nothing; Bob is as he was.
    const { findings } = await find(deps, [...ANA, { kind: 'guest', value: 'guest-ana' }, { kind: 'conversation', value: 'wa:ana-1' }]);
    expect(Object.values(findings.postgres).every((n) => n === 0)).toBe(true);
    expect(findings.redis.keys).toEqual([]);
    expect(findings.cold).toEqual([]);
    expect(await bobSnapshot()).toEqual({ ...before, cold: before.cold.filter((r) => !/Ana|wa:ana|guest-ana|a001/.test(r)) });
    expect(await verify(deps, receipt.requestId)).toEqual({ ok: true, remaining: expect.any(Object) });

    // The cold data, read by an engine that is not ours: nothing of her, Bob's rows all there.
    const dir = mkdtempSync(join(tmpdir(), 'dlc-duck-'));
    try {
      await downloadPrefix(s.client, BUCKET, 'messages/', dir);
      const rows = await duckQuery(`SELECT content FROM read_parquet('${dir}/messages/**/*.parquet') ORDER BY content`);
      expect(rows.map((r) => r.content)).toEqual(['Bob says 1', 'Bob says 2', 'Bob says 3']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Every object under the tables' prefixes is a live manifest object; the receipt is under its own prefix.
    const listed = ((await s.client.send(new ListObjectsV2Command({ Bucket: BUCKET }))).Contents ?? []).map((o) => o.Key as string);
    const live = (await db.direct.query<{ k: string }>('SELECT object_key AS k FROM archive_manifest WHERE superseded_at IS NULL')).map(
      (r) => r.k,
    );
    expect(listed.filter((k) => !k.startsWith('_erasures/')).sort()).toEqual(live.sort());
    expect(listed).toContain(`_erasures/${receipt.requestId}.json`);

    // Resurrection attempts: restore of the old range, an old audit replayed, a late event, an old checkpoint archived late.
    const r = await restore({ sql: db.sql, store: s.store, log: memoryLog(), clock: { now: () => NOW } }, RETENTION_POLICIES, {
      table: 'messages',
      from: '2025-01-01',
      to: '2025-02-01',
    });
    expect(r.rowsInserted).toBe(3); // Bob's
    await db.direct.execute(
      `INSERT INTO audits (lead_id, actor, action, payload, created_at) VALUES ($1::uuid, 'customer', 'message', '{}', '2025-01-02')`,
      [LEAD],
    );
    await db.direct.execute(
      `INSERT INTO analytics_events (id, event_type, occurred_at, property_id, guest_id) VALUES ('late', 'message.received', '2025-06-01', 'salon', 'guest-ana')`,
    );
    await db.direct.execute(
      `INSERT INTO conversations (conversation_key, source, started_at, last_message_at, external_id) VALUES ('wa:ana-1', 'redis_archive', '2025-01-03', '2025-01-03', '+34600000001')`,
    );
    const after = await find(deps, [...ANA, { kind: 'guest', value: 'guest-ana' }, { kind: 'conversation', value: 'wa:ana-1' }]);
    expect(after.findings.postgres).toMatchObject({ audits: 0, analytics_events: 0, conversations: 0, messages: 0 });
    expect(Number((await db.direct.query<{ n: number }>('SELECT count(*)::int AS n FROM erasure_blocked'))[0]?.n)).toBe(3);
    // She came back after the erasure: a new conversation is kept.
    await db.direct.execute(
      `INSERT INTO conversations (conversation_key, source, started_at, last_message_at, external_id) VALUES ('wa:ana-3', 'live', now(), now(), '+34600000001')`,
    );
    expect(await db.direct.query(`SELECT conversation_key AS k FROM conversations WHERE conversation_key = 'wa:ana-3'`)).toEqual([
      { k: 'wa:ana-3' },
    ]);
  });

  it('an old checkpoint of hers archived after the erasure by the real archive job: nothing of it comes back; a new thread is archived', async () => {
    await erase(deps, ANA);
    // The app still held a 23.5-hour-old checkpoint of her first thread, and she wrote again on a new one.
    await putWithAge(
      redis,
      'langgraph:checkpoint:wa:ana-1:1735894800',
      seedValue({
        conversationId: 'wa:ana-1',
        customerId: 'cust-ana',
        messages: [{ role: 'user', content: 'Ana says 1', timestamp: '2025-01-03T10:01:00Z' }],
      }),
      23.5 * HOUR_MS,
    );
    await putWithAge(
      redis,
      'langgraph:checkpoint:wa:ana-9:1764000000',
      seedValue({
        conversationId: 'wa:ana-9',
        customerId: 'cust-ana',
        messages: [{ role: 'user', content: 'I am back', timestamp: new Date().toISOString() }],
      }),
      23.5 * HOUR_MS,
    );
    const out = await archiveOnce(db.sql, redis);
    expect(out.errors).toBe(0);
    expect(await archivedRows(db.direct, 'wa:ana-1')).toEqual([]);
    expect((await archivedRows(db.direct, 'wa:ana-9')).map((m) => m.content)).toEqual(['I am back']);
    expect(Number((await db.direct.query<{ n: number }>(`SELECT count(*)::int AS n FROM erasure_blocked`))[0]?.n)).toBeGreaterThan(0);
  });

  it('runs as its database role, dlc_privacy: finds, erases, verifies; may not touch the aggregates', async () => {
    await reconcileTestRoles(db);
    const sql = roleSql(db, 'dlc_privacy', driver);
    try {
      const asRole = { ...deps, sql };
      const { receipt } = await erase(asRole, ANA);
      expect(receipt.postgres).toMatchObject({ leads: 1, messages: 1, conversations: 1 });
      expect(receipt.cold).toHaveLength(3);
      expect(await verify(asRole, receipt.requestId)).toMatchObject({ ok: true });
      await expect(sql.execute('DELETE FROM agg_monthly_summary')).rejects.toThrow(/permission denied/);
      await expect(sql.query('SELECT * FROM privacy_key')).rejects.toThrow(/permission denied/);
    } finally {
      await sql.close();
    }
  });

  it("erases her live checkpoints as a Valkey user with exactly the ACL the privacy function has (the archive's access string)", async () => {
    await redis.call('ACL', 'SETUSER', 'privacy-job', 'reset', ...archiveAclRules('privacy-job-secret'));
    const url = new URL(redisServer.url);
    url.username = 'privacy-job';
    url.password = 'privacy-job-secret';
    const asUser = await redisClient(url.toString());
    try {
      const { receipt } = await erase({ ...deps, redis: new CheckpointStore(asUser) }, ANA);
      expect(receipt.redis).toEqual({ searched: true, keysDeleted: 1, keysChanged: 0 });
      expect(await redis.exists('langgraph:checkpoint:wa:ana-2:1763600000', 'langgraph:checkpoint:wa:bob-2:1763600000')).toBe(1);
    } finally {
      await asUser.quit();
    }
  });

  it("an erasure killed between an object's rewrite and the removal of the old one: the next call removes it, one receipt", async () => {
    await expect(
      erase(deps, ANA, {
        beforePhase: async (phase) => {
          if (phase.startsWith('retire:')) throw new Error('killed after a rewrite');
        },
      }),
    ).rejects.toThrow('killed after a rewrite');
    const superseded = await db.direct.query<{ k: string }>(
      'SELECT object_key AS k FROM archive_manifest WHERE superseded_at IS NOT NULL AND retired_at IS NULL',
    );
    expect(superseded).toHaveLength(1);
    expect(await s.store.head(superseded[0]?.k as string)).toBeDefined(); // still in S3, not live in the manifest
    const { receipt } = await erase(deps, ANA);
    expect(receipt.cold).toHaveLength(3);
    expect(await s.store.head(superseded[0]?.k as string)).toBeUndefined();
    expect(await verify(deps, receipt.requestId)).toMatchObject({ ok: true });
  });

  it.each(['tombstones', 'redis', 'postgres', 'cold', 'receipt'])(
    'an erasure killed before its %s phase completes on the next call, with one receipt',
    async (at) => {
      await expect(
        erase(deps, ANA, {
          beforePhase: async (phase) => {
            if (phase === at) throw new Error(`killed before ${phase}`);
          },
        }),
      ).rejects.toThrow(`killed before ${at}`);
      const { receipt, resumed } = await erase(deps, ANA);
      expect(resumed).toBe(at !== 'tombstones');
      expect(receipt.postgres).toMatchObject({ leads: 1, messages: 1, conversations: 1 });
      expect(receipt.cold).toHaveLength(3);
      expect(await verify(deps, receipt.requestId)).toMatchObject({ ok: true });
      expect(await db.direct.query(`SELECT count(*)::int AS n FROM erasures`)).toEqual([{ n: 1 }]);
      const again = await erase(deps, ANA);
      expect(again).toMatchObject({ resumed: true, receipt: { requestId: receipt.requestId } });
    },
  );
});
