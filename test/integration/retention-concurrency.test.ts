/**
 * Retention and restore while other writers and other runs are at work (issue 26): a second
 * connection commits while retention waits on its locks, a second run starts while the first
 * holds the lease, restore and the next retention run meet. Real PostgreSQL 17, s3rver, both drivers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Client } from 'pg';
import { ObjectConflict } from '../../lambdas/retention/cold-store';
import { type RestoreInput, restore } from '../../lambdas/retention/restore';
import { memoryLog } from '../../lambdas/shared/observability';
import type { Sql, SqlParam } from '../../lambdas/shared/sql/types';
import { RETENTION_POLICIES } from '../../lib/config';
import { downloadPrefix, duckQuery } from '../../local/duckdb';
import { DRIVERS, type TestDb, testDb } from '../support/db';
import { BUCKET, NOW, run, s3, waitForLockWait, withUpload } from '../support/retention-harness';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function writer(db: TestDb): Promise<Client> {
  const c = new Client({ connectionString: db.url });
  await c.connect();
  return c;
}

const count = async (db: TestDb, sql: string) => Number((await db.direct.query<{ n: number }>(sql))[0]?.n);

async function objectKeys(s: Awaited<ReturnType<typeof s3>>, prefix = ''): Promise<string[]> {
  const out = await s.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key as string).sort();
}

const CONV = '00000000-0000-0000-0000-0000000000c1';

/** One old conversation with `n` messages over one UTC day (2025-01-03). */
async function seedConversation(db: TestDb, n: number, key = 'thread-1', id = CONV) {
  await db.direct.execute(
    `INSERT INTO conversations (id, conversation_key, source, started_at, last_message_at)
     VALUES ($1::uuid, $2::text, 'redis_archive', '2025-01-03 09:00+00', '2025-01-03 12:00+00')`,
    [id, key],
  );
  if (n > 0)
    await db.direct.execute(
      `INSERT INTO messages (conversation_id, message_key, role, content, created_at, source)
       SELECT $1::uuid, 'k' || i, 'user', 'version 1 of ' || i, '2025-01-03 10:00+00'::timestamptz + (i || ' minutes')::interval, 'redis_archive'
         FROM generate_series(1, ${n}) i`,
      [id],
    );
}

describe.each(DRIVERS)('retention with other writers and runs at work (%s driver)', (driver) => {
  let db: TestDb;
  let s: Awaited<ReturnType<typeof s3>>;
  beforeEach(async () => {
    db = await testDb(driver);
    s = await s3();
  });
  afterEach(async () => {
    await s.stop();
    await db.close();
  });

  const deps = () => ({ sql: db.sql, store: s.store, log: memoryLog(), clock: { now: () => NOW } });
  const restoreAt = (now: Date, input: RestoreInput) =>
    restore({ ...deps(), clock: { now: () => now } }, RETENTION_POLICIES, input, { holdDays: 30, rowGroupRows: 1_000 });

  it('a message committed while its empty conversation is being deleted: the delete is refused, nothing cascades, both stay', async () => {
    await seedConversation(db, 0, 'lead:empty');
    const w = await writer(db);
    try {
      // The backfill's way: a message inserted without touching the conversation row, not yet committed.
      await w.query('BEGIN');
      await w.query(
        `INSERT INTO messages (conversation_id, message_key, role, content, created_at, source)
         VALUES ($1, 'audit:1', 'user', 'arrived late', '2025-01-03 10:00+00', 'audit_backfill')`,
        [CONV],
      );
      const running = run(db.sql, s.store, { tables: ['conversations'] });
      await waitForLockWait(db, '%DELETE FROM "conversations"%');
      await w.query('COMMIT');
      const { outcome, log } = await running;
      expect(outcome.counters).toMatchObject({ rows_deleted: 0, objects_changed: 1 });
      expect(log.lines.some((l) => /foreign key/.test(String(l.extra?.reason)))).toBe(true);
    } finally {
      await w.end();
    }
    expect(await count(db, 'SELECT count(*)::int AS n FROM messages')).toBe(1);
    expect(await count(db, 'SELECT count(*)::int AS n FROM conversations')).toBe(1);
    expect(await count(db, 'SELECT count(*)::int AS n FROM archive_manifest')).toBe(0);
    // The object written for the conversation went with the rolled-back commit: no reader of the prefix sees it twice.
    expect(await objectKeys(s, 'conversations/')).toEqual([]);
    // The next run: the conversation has a message now, so it is not expired-and-empty; the message goes first.
    const { outcome } = await run(db.sql, s.store, { tables: ['messages', 'conversations'] });
    expect(outcome.counters.rows_deleted).toBe(2);
    expect(await count(db, `SELECT coalesce(sum(row_count), 0)::int AS n FROM archive_manifest`)).toBe(2);
  });

  it('a second run while the first holds the lease: refused with the holder named, whatever its ledger; nothing written twice', async () => {
    await seedConversation(db, 12);
    // The first run stops in its first upload until released.
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let uploads = 0;
    const slow = withUpload(s.store, async (key, body, condition) => {
      if (++uploads === 1) await gate;
      await s.store.upload(key, body, condition);
    });
    const first = run(db.sql, slow, { tables: ['messages'] }, { maxRowsPerObject: 5, pageRows: 5 });
    while (uploads === 0) await sleep(10);
    // A second run (another entry point: its own ledger, or none) waits for the object in flight, then finds the lease taken.
    const second = run(db.sql, s.store, { tables: ['messages'] });
    await waitForLockWait(db, '%INSERT INTO job_leases%');
    release();
    await expect(second).rejects.toThrow(/another retention run \(direct call, run test-run-[0-9a-f-]+\) holds the database lease until/);
    const { outcome } = await first;
    expect(outcome.counters).toMatchObject({ rows_deleted: 12, objects_written: 3 });
    const manifest = (await db.direct.query<{ k: string }>('SELECT object_key AS k FROM archive_manifest ORDER BY 1')).map((r) => r.k);
    expect(await objectKeys(s)).toEqual(manifest);
  });

  it('a lease taken over between objects (a run frozen past its lease, a second Lambda after a timeout): the first stops, no object replaced', async () => {
    await seedConversation(db, 12);
    let pages = 0;
    let second: ReturnType<typeof run> | undefined;
    const fence = async () =>
      (await db.direct.query<{ f: string }>(`SELECT fence::text AS f FROM job_leases WHERE job = 'retention'`))[0]?.f;
    // The first run's second object starts with a page read, outside any transaction: there it freezes past its lease.
    const frozen: Sql = Object.create(db.sql, {
      queryArrays: {
        value: async (text: string, params?: readonly SqlParam[]) => {
          if (text.includes('FROM "messages"') && ++pages === 2) {
            const mine = await fence();
            await db.direct.execute(`UPDATE job_leases SET expires_at = now() - interval '1 second' WHERE job = 'retention'`);
            second = run(db.sql, s.store, { tables: ['messages'] }, { maxRowsPerObject: 5, pageRows: 5 });
            while ((await fence()) === mine) await sleep(10);
          }
          return db.sql.queryArrays(text, params);
        },
      },
    });
    await expect(run(frozen, s.store, { tables: ['messages'] }, { maxRowsPerObject: 5, pageRows: 5 })).rejects.toThrow(
      /lease \(fence 1\) expired or was taken by another run/,
    );
    const after = await (second as ReturnType<typeof run>);
    expect(after.outcome.counters.rows_deleted).toBe(7);
    expect(await count(db, 'SELECT count(*)::int AS n FROM messages')).toBe(0);
    const manifest = await db.direct.query<{ k: string; n: number }>(
      'SELECT object_key AS k, row_count AS n FROM archive_manifest ORDER BY 1',
    );
    expect(manifest.reduce((a, m) => a + Number(m.n), 0)).toBe(12);
    expect(await objectKeys(s)).toEqual(manifest.map((m) => m.k));
  });

  it('S3 refuses a write over an object that appeared meanwhile: the run fails, nothing deleted, nothing replaced', async () => {
    await seedConversation(db, 3);
    const refusing = withUpload(s.store, async (key, body, condition) => {
      expect(condition).toBe('absent');
      body.on('error', () => undefined).resume();
      throw new ObjectConflict(`s3://${BUCKET}/${key}: an object appeared there (another writer): not replaced`);
    });
    await expect(run(db.sql, refusing, { tables: ['messages'] })).rejects.toThrow(/not replaced/);
    expect(await count(db, 'SELECT count(*)::int AS n FROM messages')).toBe(3);
    expect(await count(db, 'SELECT count(*)::int AS n FROM archive_manifest')).toBe(0);
  });

  it('round trip: export → restore → edit → export → restore → cold query: the edited row once, in PostgreSQL and in DuckDB', async () => {
    await seedConversation(db, 4);
    await run(db.sql, s.store, { tables: ['messages', 'conversations'] });
    expect(await count(db, 'SELECT count(*)::int AS n FROM messages')).toBe(0);

    const back = await restoreAt(NOW, { table: 'messages', from: '2025-01-03', to: '2025-01-04' });
    expect(back).toMatchObject({ rowsInserted: 4, objectsSuperseded: 1, conversations: { rowsInserted: 1 } });
    await db.direct.execute(`UPDATE messages SET content = 'version 2 of 2' WHERE message_key = 'k2'`);

    // Held: the next run leaves the restored rows in PostgreSQL and says so.
    const held = await run(db.sql, s.store, { tables: ['messages', 'conversations'] });
    expect(held.outcome.counters).toMatchObject({ rows_deleted: 0, rows_held: 5 }); // 4 messages and their conversation
    expect(await objectKeys(s, 'messages/')).toEqual([]); // the rows are in exactly one place: PostgreSQL

    // After the hold, they go again, with the edit; restore gives back version 2.
    const later = new Date(NOW.getTime() + 31 * 86_400_000);
    const { outcome } = await runAt(later);
    expect(outcome.counters.rows_deleted).toBe(5); // 4 messages, then their conversation
    const again = await restoreAt(later, { table: 'messages', from: '2025-01-03', to: '2025-01-04' });
    expect(again.rowsInserted).toBe(4);
    expect(await db.direct.query(`SELECT content FROM messages WHERE message_key = 'k2'`)).toEqual([{ content: 'version 2 of 2' }]);

    // Export once more, then the cold data as an engine that is not ours reads it: each row once, version 2.
    await runAt(new Date(later.getTime() + 31 * 86_400_000));
    const dir = mkdtempSync(join(tmpdir(), 'dlc-duck-'));
    try {
      await downloadPrefix(s.client, BUCKET, 'messages/', dir);
      const rows = await duckQuery(`SELECT message_key, content FROM read_parquet('${dir}/messages/**/*.parquet') ORDER BY message_key`);
      expect(rows).toEqual([
        { message_key: 'k1', content: 'version 1 of 1' },
        { message_key: 'k2', content: 'version 2 of 2' },
        { message_key: 'k3', content: 'version 1 of 3' },
        { message_key: 'k4', content: 'version 1 of 4' },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // History: three generations of objects for this day, two superseded and retired (gone from S3, every version).
    const history = await db.direct.query<{ live: boolean; retired: boolean }>(
      `SELECT superseded_at IS NULL AS live, retired_at IS NOT NULL AS retired FROM archive_manifest WHERE table_name = 'messages' ORDER BY id`,
    );
    expect(history).toEqual([
      { live: false, retired: true },
      { live: false, retired: true },
      { live: true, retired: false },
    ]);

    function runAt(at: Date) {
      return run(db.sql, s.store, { tables: ['messages', 'conversations'] }, {}, 600_000, at);
    }
  });

  it('restore of one conversation from a shared object: only its rows come back; the rest stay cold in a verified successor', async () => {
    await seedConversation(db, 3, 'thread-1', CONV);
    await seedConversation(db, 2, 'thread-2', '00000000-0000-0000-0000-0000000000c2');
    await run(db.sql, s.store, { tables: ['messages', 'conversations'] });
    const [before] = await objectKeys(s, 'messages/');
    const r = await restoreAt(NOW, { table: 'messages', from: '2025-01-01', to: '2025-02-01', conversation: 'thread-2' });
    expect(r).toMatchObject({ rowsInserted: 2, objectsSuperseded: 1, objectsWritten: 1, conversations: { rowsInserted: 1 } });
    expect(await db.direct.query('SELECT conversation_key AS k FROM conversations')).toEqual([{ k: 'thread-2' }]);
    const after = await objectKeys(s, 'messages/');
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before);
    const [succ] = await db.direct.query<{ n: number; key: string }>(
      `SELECT row_count::int AS n, object_key AS key FROM archive_manifest WHERE table_name = 'messages' AND superseded_at IS NULL`,
    );
    expect(succ).toEqual({ n: 3, key: after[0] });
    // The successor is a restorable object like any other.
    const rest = await restoreAt(NOW, { table: 'messages', from: '2025-01-01', to: '2025-02-01', conversation: 'thread-1' });
    expect(rest).toMatchObject({ rowsInserted: 3, objectsWritten: 0 });
    expect(await objectKeys(s, 'messages/')).toEqual([]);
  });

  it('restore of one conversation reads only the objects that hold it (the subject index), not every object of the range', async () => {
    for (let d = 1; d <= 4; d++) {
      const id = `00000000-0000-0000-0000-0000000000f${d}`;
      await db.direct.execute(
        `INSERT INTO conversations (id, conversation_key, source, started_at, last_message_at) VALUES ($1::uuid, $2::text, 'live', $3::timestamptz, $3::timestamptz)`,
        [id, `day-${d}`, `2025-01-0${d} 12:00+00`],
      );
      await db.direct.execute(
        `INSERT INTO messages (conversation_id, message_key, role, content, created_at, source) VALUES ($1::uuid, 'k', 'user', 'hi', $2::timestamptz, 'live')`,
        [id, `2025-01-0${d} 11:00+00`],
      );
    }
    await run(db.sql, s.store, { tables: ['messages', 'conversations'] });
    expect(await count(db, 'SELECT count(*)::int AS n FROM archive_manifest')).toBe(8); // one object per table and day
    const r = await restoreAt(NOW, { table: 'messages', from: '2025-01-01', to: '2025-02-01', conversation: 'day-3' });
    expect(r).toMatchObject({ rowsInserted: 1, conversations: { rowsInserted: 1 } });
    // Only the two objects that hold her, each read at each step (her ids by key, her messages' parents, the parent's
    // remap check, then each moved): 5 reads, where every object of the range would be 4 + 4 + 4 + 4 + 4 = 20.
    expect(r.objectsRead).toBe(5);
    expect(await db.direct.query('SELECT conversation_key AS k FROM conversations')).toEqual([{ k: 'day-3' }]);
  });

  it('a conversation key that came back with a new id: its old messages return under the live conversation, by range and by key', async () => {
    await seedConversation(db, 2, 'thread-resumed', CONV);
    await run(db.sql, s.store, { tables: ['messages', 'conversations'] });
    // Months later the thread resumes and is archived again: same key, new id.
    const live = '00000000-0000-0000-0000-0000000000d1';
    await db.direct.execute(
      `INSERT INTO conversations (id, conversation_key, source, started_at, last_message_at) VALUES ($1::uuid, 'thread-resumed', 'redis_archive', '2026-11-01', '2026-11-01')`,
      [live],
    );
    await db.direct.execute(
      `INSERT INTO messages (conversation_id, message_key, role, content, created_at, source) VALUES ($1::uuid, 'new', 'user', 'hello again', '2026-11-01', 'redis_archive')`,
      [live],
    );
    const byKey = await restoreAt(NOW, { table: 'messages', from: '2025-01-01', to: '2025-02-01', conversation: 'thread-resumed' });
    expect(byKey).toMatchObject({ rowsInserted: 2, conversationsRemapped: 1 });
    expect(await db.direct.query(`SELECT conversation_id, message_key FROM messages ORDER BY created_at`)).toEqual([
      { conversation_id: live, message_key: 'k1' },
      { conversation_id: live, message_key: 'k2' },
      { conversation_id: live, message_key: 'new' },
    ]);
    await expect(restoreAt(NOW, { table: 'messages', from: '2025-01-01', to: '2025-02-01', conversation: 'never-seen' })).rejects.toThrow(
      /No conversation "never-seen"/,
    );
  });

  it('restoring a range of messages brings back only the conversations of those messages', async () => {
    await seedConversation(db, 2, 'in-range', CONV);
    await db.direct.execute(
      `INSERT INTO conversations (id, conversation_key, source, started_at, last_message_at) VALUES ('00000000-0000-0000-0000-0000000000c3', 'other-day', 'live', '2025-01-03 09:00+00', '2025-01-03 23:00+00')`,
    );
    await db.direct.execute(
      `INSERT INTO messages (conversation_id, message_key, role, content, created_at, source) VALUES ('00000000-0000-0000-0000-0000000000c3', 'x', 'user', 'late night', '2025-01-03 23:00+00', 'live')`,
    );
    await run(db.sql, s.store, { tables: ['messages', 'conversations'] });
    const r = await restoreAt(NOW, { table: 'messages', from: '2025-01-03T10:00:00Z', to: '2025-01-03T12:00:00Z' });
    expect(r).toMatchObject({ rowsInserted: 2, conversations: { rowsInserted: 1 } });
    expect(await db.direct.query('SELECT conversation_key AS k FROM conversations')).toEqual([{ k: 'in-range' }]);
  });

  it('--conversation on analytics events restores that conversation only; on a table without one it is refused', async () => {
    await db.direct.execute(`INSERT INTO analytics_events (id, event_type, occurred_at, property_id, conversation_id)
      VALUES ('e1', 'message.received', '2025-01-03 10:00+00', 'p', 'thread-1'), ('e2', 'message.received', '2025-01-03 11:00+00', 'p', 'thread-2')`);
    await run(db.sql, s.store, { tables: ['analytics_events'] });
    const r = await restoreAt(NOW, { table: 'analytics_events', from: '2025-01-01', to: '2025-02-01', conversation: 'thread-2' });
    expect(r).toMatchObject({ rowsInserted: 1 });
    expect(await db.direct.query('SELECT id FROM analytics_events')).toEqual([{ id: 'e2' }]);
    await expect(
      restoreAt(NOW, { table: 'agg_monthly_summary', from: '2025-01-01', to: '2025-02-01', conversation: 'thread-2' }),
    ).rejects.toThrow(/--conversation filters messages, conversations, analytics_events/);
  });

  it('restore and retention exclude each other: a restore while retention holds the lease is refused with the holder named', async () => {
    await seedConversation(db, 2);
    await run(db.sql, s.store, { tables: ['messages'] });
    const w = await writer(db);
    try {
      await w.query(
        `UPDATE job_leases SET owner = 'someone', holder = 'lambda test', expires_at = now() + interval '5 minutes' WHERE job = 'retention'`,
      );
      await expect(restoreAt(NOW, { table: 'messages', from: '2025-01-01', to: '2025-02-01' })).rejects.toThrow(
        /another retention run \(lambda test, run someone\) holds the database lease/,
      );
    } finally {
      await w.end();
    }
  });
});
