import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { type ColdStore, S3ColdStore, s3Client, type WriteCondition } from '../../lambdas/retention/cold-store';
import { bufferReader, type ObjectFooter, ParquetStreamWriter, readBack } from '../../lambdas/retention/parquet';
import { applyRetention, runRetention } from '../../lambdas/retention/retention';
import { FileRunLedger } from '../../lambdas/shared/ledger/file';
import { memoryLog, memoryMetrics } from '../../lambdas/shared/observability';
import type { Deadline } from '../../lambdas/shared/runtime';
import { deadline } from '../../lambdas/shared/runtime';
import { freePort } from '../../local/services';
import { DRIVERS, type TestDb, testDb } from '../support/db';
import { BUCKET, clock, failingAtDelete, run, s3, settings } from '../support/retention-harness';

/** 12 old messages over 3 UTC days in one conversation, plus one fresh. */
async function seedMessages(db: TestDb) {
  await db.direct.execute(`INSERT INTO conversations (id, conversation_key, source, started_at, last_message_at)
    VALUES ('00000000-0000-0000-0000-0000000000a1', 'old', 'live', '2025-01-01', '2025-01-03 12:00+00')`);
  await db.direct.execute(`INSERT INTO messages (conversation_id, message_key, role, content, created_at, source)
    SELECT '00000000-0000-0000-0000-0000000000a1', 'k' || i, 'user', 'text ' || i, '2025-01-01 10:00+00'::timestamptz + ((i % 3) || ' days')::interval + (i || ' minutes')::interval, 'live'
      FROM generate_series(1, 12) i`);
}

const messageCount = async (db: TestDb) => Number((await db.direct.query<{ n: number }>('SELECT count(*)::int AS n FROM messages'))[0]?.n);
const archived = async (db: TestDb) =>
  Number(
    (
      await db.direct.query<{ n: number }>(
        `SELECT coalesce(sum(row_count), 0)::int AS n FROM archive_manifest WHERE table_name = 'messages'`,
      )
    )[0]?.n,
  );

async function keys(client: ReturnType<typeof s3Client>): Promise<string[]> {
  const out = await client.send(new ListObjectsV2Command({ Bucket: BUCKET }));
  return (out.Contents ?? []).map((o) => o.Key as string).sort();
}

/** A store whose hooks run around the real one. */
function hooked(
  real: ColdStore,
  hooks: { beforeUpload?: (n: number) => ColdStore | undefined; afterUpload?: (key: string, n: number) => Promise<void> },
): ColdStore {
  let n = 0;
  return {
    bucket: real.bucket,
    async upload(key: string, body: Readable, condition: WriteCondition) {
      n++;
      const target = hooks.beforeUpload?.(n) ?? real;
      await target.upload(key, body, condition);
      await hooks.afterUpload?.(key, n);
    },
    head: (key) => real.head(key),
    removeAllVersions: (key) => real.removeAllVersions(key),
    reader: (key, size) => real.reader(key, size),
    list: (prefix) => real.list(prefix),
  };
}

describe.each(DRIVERS)('retention faults (%s driver)', (driver) => {
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

  it('S3 unreachable mid-export: the run fails, nothing unexported is deleted; the next run completes', async () => {
    await seedMessages(db);
    const dead = new S3ColdStore(
      s3Client(`http://127.0.0.1:${await freePort()}`, { credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 }),
      BUCKET,
    );
    const store = hooked(s.store, { beforeUpload: (n) => (n === 2 ? dead : undefined) });
    await expect(run(db.sql, store, { tables: ['messages'] })).rejects.toThrow();
    expect(await archived(db)).toBe(4); // the first day, committed before S3 went away
    expect(await messageCount(db)).toBe(8);
    const { outcome } = await run(db.sql, s.store, { tables: ['messages'] });
    expect(outcome.counters.rows_deleted).toBe(8);
    expect(await messageCount(db)).toBe(0);
    expect(await archived(db)).toBe(12);
  });

  it('PostgreSQL lost between upload and delete: the next run verifies the object it finds and deletes, one object', async () => {
    await seedMessages(db);
    let failed = false;
    const flaky = failingAtDelete(db.sql, (n) => {
      failed = n === 1;
      return failed;
    });
    await expect(run(flaky, s.store, { tables: ['messages'] })).rejects.toThrow('Connection terminated');
    expect(failed).toBe(true);
    const before = await keys(s.client);
    expect(before).toHaveLength(1);
    expect(await messageCount(db)).toBe(12);
    const { outcome } = await run(db.sql, s.store, { tables: ['messages'] });
    expect(outcome.counters).toMatchObject({ objects_recovered: 1, objects_written: 2, rows_deleted: 12, objects_outside_manifest: 0 });
    const after = await keys(s.client);
    expect(after).toHaveLength(3);
    expect(after).toContain(before[0]);
    expect(await archived(db)).toBe(12);
  });

  it('an object left by a crash that no run finds again (its first row gone meanwhile) is removed by the next run, not left outside the manifest', async () => {
    await seedMessages(db);
    await expect(
      run(
        failingAtDelete(db.sql, (n) => n === 1),
        s.store,
        { tables: ['messages'] },
      ),
    ).rejects.toThrow('Connection terminated');
    const [left] = await keys(s.client);
    // The object's first message is deleted by someone else: the next run starts that day at another row, another key.
    await db.direct.execute(`DELETE FROM messages WHERE id = (SELECT min(id) FROM messages WHERE created_at < '2025-01-02')`);
    const { outcome } = await run(db.sql, s.store, { tables: ['messages'] });
    expect(outcome.counters).toMatchObject({ objects_recovered: 0, rows_deleted: 11, objects_discarded: 1, objects_outside_manifest: 0 });
    const manifest = (await db.direct.query<{ k: string }>('SELECT object_key AS k FROM archive_manifest ORDER BY 1')).map((r) => r.k);
    expect(await keys(s.client)).toEqual(manifest);
    expect(manifest).not.toContain(left);
    expect(await db.direct.query('SELECT count(*)::int AS n FROM archive_pending')).toEqual([{ n: 0 }]);
  });

  it('a row rewritten with the same text after a crash: the object is replaced (not committed), then deleted; one copy', async () => {
    await seedMessages(db);
    const flaky = failingAtDelete(db.sql, (n) => n === 1);
    await expect(run(flaky, s.store, { tables: ['messages'] })).rejects.toThrow('Connection terminated');
    const [left] = await keys(s.client);
    const before = (await s.store.head(left as string))?.size;
    // A new version of a row in that object, its text unchanged (an UPDATE that set nothing new).
    await db.direct.execute(`UPDATE messages SET content = content WHERE message_key = 'k3'`);
    const { outcome } = await run(db.sql, s.store, { tables: ['messages'] });
    expect(outcome.counters).toMatchObject({ objects_recovered: 0, objects_written: 3, objects_changed: 0, rows_deleted: 12 });
    expect(outcome.counters.objects_outside_manifest).toBe(0);
    expect(await keys(s.client)).toHaveLength(3);
    expect((await s.store.head(left as string))?.size).toBe(before); // rewritten under its own name: same rows, same bytes
    expect(await messageCount(db)).toBe(0);
    expect(await archived(db)).toBe(12);
  });
  it("PostgreSQL lost before the delete of a day's second object: the next run finds that object by its key, one copy", async () => {
    await seedMessages(db);
    const flaky = failingAtDelete(db.sql, (n) => n === 2);
    // Two objects per day: the first day's first is committed, its second uploaded and left.
    await expect(run(flaky, s.store, { tables: ['messages'] }, { maxRowsPerObject: 2, pageRows: 2 })).rejects.toThrow(
      'Connection terminated',
    );
    const left = await keys(s.client);
    expect(left).toHaveLength(2);
    expect(await archived(db)).toBe(2);
    const { outcome } = await run(db.sql, s.store, { tables: ['messages'] }, { maxRowsPerObject: 2, pageRows: 2 });
    expect(outcome.counters).toMatchObject({ objects_recovered: 1, objects_written: 4, rows_deleted: 10, objects_outside_manifest: 0 });
    const all = await keys(s.client);
    const manifest = (await db.direct.query<{ k: string }>(`SELECT object_key AS k FROM archive_manifest ORDER BY 1`)).map((r) => r.k);
    expect(all).toEqual(manifest); // every object in the manifest: no orphan, no second copy
    expect(all).toHaveLength(6);
    expect(all).toEqual(expect.arrayContaining(left));
    expect(await messageCount(db)).toBe(0);
  });

  it('a corrupted object: verification fails, nothing deleted; the next run replaces it', async () => {
    await seedMessages(db);
    const store = hooked(s.store, {
      afterUpload: async (key, n) => {
        if (n !== 1) return;
        // Bit rot that keeps the file well-formed: one value changed, the footer consistent with it.
        const got = await s.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
        const bytes = await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
        const rows: (string | null)[][] = [];
        const back = await readBack(bufferReader(bytes), async (r) => {
          for (const x of r) rows.push([...x]);
        });
        (rows[0] as (string | null)[])[back.columns.indexOf('content')] = 'tampered';
        const chunks: Buffer[] = [];
        const sink = new PassThrough();
        sink.on('data', (c: Buffer) => chunks.push(c));
        const w = await ParquetStreamWriter.open(sink, back.columns, 1000);
        for (const r of rows) await w.add(r);
        const { rows: _r, sha256: _s, ...rest } = back.footer as ObjectFooter;
        await w.finish(rest);
        await s.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: Buffer.concat(chunks) }));
      },
    });
    const { outcome } = await run(db.sql, store, { tables: ['messages'] });
    expect(outcome.counters.verification_failures).toBe(1);
    expect(outcome.errors).toBe(1);
    expect(await messageCount(db)).toBe(4); // the corrupted object's day stays whole; the other two days went
    expect(await archived(db)).toBe(8);
    const corrupted = (await keys(s.client)).length;
    expect(await archived(db)).toBe(8); // no manifest row for the tampered object
    const second = await run(db.sql, s.store, { tables: ['messages'] });
    expect(second.outcome.counters).toMatchObject({ verification_failures: 0, rows_deleted: 4, objects_written: 1 });
    expect((await keys(s.client)).length).toBe(corrupted);
    expect(await messageCount(db)).toBe(0);
  });

  it('a row updated between export and delete is not deleted (nor the rest of its object) until a later run; the object written for them is removed', async () => {
    await seedMessages(db);
    const store = hooked(s.store, {
      afterUpload: async (_key, n) => {
        if (n === 1) await db.direct.execute(`UPDATE messages SET content = 'edited' WHERE message_key = 'k3'`);
      },
    });
    const { outcome } = await run(db.sql, store, { tables: ['messages'] });
    expect(outcome.counters.objects_changed).toBe(1);
    expect(outcome.counters.rows_deleted).toBe(8);
    // That object went with its rolled-back commit: no reader of the prefix sees its rows twice.
    expect(outcome.counters.objects_outside_manifest).toBe(0);
    expect(await keys(s.client)).toHaveLength(2);
    const left = await db.direct.query<{ message_key: string; content: string }>(
      'SELECT message_key, content FROM messages ORDER BY message_key',
    );
    expect(left).toHaveLength(4);
    expect(left.find((r) => r.message_key === 'k3')?.content).toBe('edited');
    const again = await run(db.sql, s.store, { tables: ['messages'] });
    expect(again.outcome.counters.rows_deleted).toBe(4);
    expect(again.outcome.counters.objects_outside_manifest).toBe(0);
    expect(await archived(db)).toBe(12);
    expect(await keys(s.client)).toHaveLength(3);
  });

  it("objects under a table's prefix that the manifest does not hold are counted, named and kept", async () => {
    await seedMessages(db);
    const put = (Key: string) => s.client.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: 'not ours' }));
    await put('messages/day=2024-12-31/by-hand.parquet');
    await put('conversations/day=2024-12-31/other-table.parquet'); // another table's prefix: not messages' business
    const { outcome, log } = await run(db.sql, s.store, { tables: ['messages'] });
    expect(outcome.counters).toMatchObject({ rows_deleted: 12, objects_outside_manifest: 1 });
    const warning = log.lines.find((e) => e.message.startsWith('Objects in cold storage that the manifest does not hold'));
    expect(warning?.extra).toMatchObject({ table: 'messages', objects: 1, keys: ['messages/day=2024-12-31/by-hand.parquet'] });
    expect(await keys(s.client)).toEqual(
      expect.arrayContaining(['messages/day=2024-12-31/by-hand.parquet', 'conversations/day=2024-12-31/other-table.parquet']),
    );
    expect(await keys(s.client)).toHaveLength(5);
  });

  it('two runs at once: one holds the lease, the other does nothing; nothing is exported twice', async () => {
    await seedMessages(db);
    const dir = mkdtempSync(join(tmpdir(), 'dlc-ledger-'));
    try {
      const ledger = new FileRunLedger(join(dir, 'ledger.json'));
      const go = () =>
        runRetention(
          {
            sql: db.sql,
            store: s.store,
            log: memoryLog(),
            metrics: memoryMetrics(),
            ledger,
            leaseMs: 60_000,
            deadline: deadline({ budgetMs: 60_000 }, 0),
            clock,
          },
          settings(),
          { tables: ['messages'] },
        );
      const results = await Promise.all([go(), go()]);
      expect(results.map((r) => r.status).sort()).toEqual(['completed', 'skipped']);
      expect(await archived(db)).toBe(12);
      expect(await keys(s.client)).toHaveLength(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the deadline in the middle of a table: stops between objects, reports work remaining; the next run finishes', async () => {
    await seedMessages(db);
    let checks = 0;
    const soon: Deadline = { remainingMs: () => 0, shouldStop: () => ++checks > 3 };
    const first = await applyRetention(
      { sql: db.sql, store: s.store, log: memoryLog(), deadline: soon, clock, runId: 'r1' },
      settings({ maxRowsPerObject: 2 }),
      {
        tables: ['messages'],
      },
    );
    expect(first.workRemaining).toBe(true);
    // (all of the counters: a failure here says whether an object changed or failed verification)
    expect(first.counters).toMatchObject({ rows_deleted: 4, objects_changed: 0, verification_failures: 0, objects_written: 2 });
    expect(await messageCount(db)).toBe(8);
    const { outcome } = await run(db.sql, s.store, { tables: ['messages'] }, { maxRowsPerObject: 2 });
    expect(outcome.workRemaining).toBe(false);
    expect(await messageCount(db)).toBe(0);
    expect(await archived(db)).toBe(12);
  });

  it("seed 001's days at their boundaries, in Europe/Madrid: one second younger than the cutoff stays", async () => {
    // Now: 2026-11-22 10:00 Madrid (CET). 180/90/30 days back fall in summer time (CEST, UTC+2):
    // the cutoffs are 08:00Z, not 09:00Z, so a row at 08:30Z stays (UTC arithmetic would delete it).
    const around = async (table: string, insert: (t: string, tag: string) => string, day: string, cut: string) => {
      const [h, m] = cut.split(':').map(Number) as [number, number];
      const at = (sec: number) => {
        const d = new Date(Date.parse(`${day}T00:00:00Z`) + (h * 3600 + m * 60 + sec) * 1000);
        return d.toISOString().replace('T', ' ').replace('Z', '+00');
      };
      await db.direct.execute(insert(at(-1), 'old'));
      await db.direct.execute(insert(at(1), 'young'));
      await db.direct.execute(insert(at(1800), 'summer'));
      return table;
    };
    await db.direct.execute(
      `INSERT INTO conversations (id, conversation_key, source, started_at) VALUES ('00000000-0000-0000-0000-0000000000b1', 'b', 'live', '2020-01-01')`,
    );
    let mk = 0;
    await around(
      'messages',
      (t, tag) =>
        `INSERT INTO messages (conversation_id, message_key, role, content, created_at, source) VALUES ('00000000-0000-0000-0000-0000000000b1', '${tag}${++mk}', 'user', '${tag}', '${t}', 'live')`,
      '2026-05-26',
      '08:00',
    );
    await around(
      'analytics_events',
      (t, tag) =>
        `INSERT INTO analytics_events (id, event_type, occurred_at, property_id) VALUES ('${tag}', 'message.received', '${t}', 'p')`,
      '2026-08-24',
      '08:00',
    );
    await around(
      'analytics_events_rejected',
      (t, tag) => `INSERT INTO analytics_events_rejected (raw, reason, rejected_at) VALUES ('${tag}', 'bad', '${t}')`,
      '2026-08-24',
      '08:00',
    );
    await around(
      'agg_message_counts_hourly',
      (t, tag) =>
        `INSERT INTO agg_message_counts_hourly (period_start, property_id, channel, direction, count) VALUES ('${t}', '${tag}', 'web', 'inbound', 1)`,
      '2026-10-23',
      '08:00',
    );
    await around(
      'agg_response_times_hourly',
      (t, tag) =>
        `INSERT INTO agg_response_times_hourly (period_start, property_id, channel, responses) VALUES ('${t}', '${tag}', 'web', 1)`,
      '2026-10-23',
      '08:00',
    );
    await around(
      'checkpoint_quarantine',
      (t, tag) =>
        `INSERT INTO checkpoint_quarantine (redis_key, value_sha256, error, last_seen_at) VALUES ('${tag}', repeat('a', 64), 'bad', '${t}')`,
      '2025-11-22',
      '09:00',
    );
    for (const [table, col, extra, cut] of [
      ['agg_conversation_metrics_daily', 'period_date', `'web'`, '2025-11-22'],
      ['agg_staff_performance_daily', 'period_date', `'s1'`, '2025-11-22'],
      ['agg_intent_distribution_daily', 'period_date', `'book'`, '2025-11-22'],
      ['agg_satisfaction_weekly', 'period_start', `'web'`, '2024-11-22'],
    ] as const) {
      const third = table === 'agg_staff_performance_daily' ? 'staff_id' : table === 'agg_intent_distribution_daily' ? 'intent' : 'channel';
      await db.direct.execute(
        `INSERT INTO ${table} (${col}, property_id, ${third}) VALUES ('${cut}'::date - 1, 'old', ${extra}), ('${cut}', 'young', ${extra})`,
      );
    }
    await db.direct.execute(`INSERT INTO agg_monthly_summary (period_month, property_id) VALUES ('2023-10', 'old'), ('2023-11', 'young')`);
    await db.direct.execute(`INSERT INTO audits (action, created_at) VALUES ('ancient', '2001-01-01')`);
    await db.direct.execute(`INSERT INTO leads (id, created_at) VALUES (gen_random_uuid(), '2001-01-01')`);

    const { outcome } = await run(db.sql, s.store);
    expect(outcome.counters.verification_failures).toBe(0);
    const left = async (sql: string) => (await db.direct.query<{ v: string }>(sql)).map((r) => r.v).sort();
    expect(await left('SELECT content AS v FROM messages')).toEqual(['summer', 'young']);
    expect(await left('SELECT id AS v FROM analytics_events')).toEqual(['summer', 'young']);
    expect(await left('SELECT raw AS v FROM analytics_events_rejected')).toEqual(['summer', 'young']);
    expect(await left('SELECT property_id AS v FROM agg_message_counts_hourly')).toEqual(['summer', 'young']);
    expect(await left('SELECT property_id AS v FROM agg_response_times_hourly')).toEqual(['summer', 'young']);
    expect(await left('SELECT redis_key AS v FROM checkpoint_quarantine')).toEqual(['summer', 'young']);
    for (const t of [
      'agg_conversation_metrics_daily',
      'agg_staff_performance_daily',
      'agg_intent_distribution_daily',
      'agg_satisfaction_weekly',
      'agg_monthly_summary',
    ])
      expect(await left(`SELECT property_id AS v FROM ${t}`)).toEqual(['young']);
    expect(await left('SELECT action AS v FROM audits')).toEqual(['ancient']);
    expect((await db.direct.query('SELECT 1 FROM leads')).length).toBe(1);
    // conversation 'b' still has messages: it stays
    expect((await db.direct.query(`SELECT 1 FROM conversations WHERE conversation_key = 'b'`)).length).toBe(1);
    const perTable = await db.direct.query<{ table_name: string; n: number }>(
      'SELECT table_name, sum(row_count)::int AS n FROM archive_manifest GROUP BY 1 ORDER BY 1',
    );
    expect(perTable.every((r) => r.n === 1)).toBe(true);
    expect(perTable).toHaveLength(11);
  });
});
