import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { restore } from '../../lambdas/retention/restore';
import { memoryLog } from '../../lambdas/shared/observability';
import type { Sql } from '../../lambdas/shared/sql/types';
import { RETENTION_POLICIES } from '../../lib/config';
import { downloadPrefix, duckQuery } from '../../local/duckdb';
import { DRIVERS, type TestDb, testDb } from '../support/db';
import { BUCKET, run, s3 } from '../support/retention-harness';
import { reconcileTestRoles, roleSql } from '../support/roles';

/** 200,000 characters (code points), emoji included. */
const LONG = Array.from('🙂 ñandú 漢字 '.repeat(20_000)).slice(0, 200_000).join('');

/** The edge corpus: one old conversation whose messages carry every value that is easy to lose. */
async function seedCorpus(db: TestDb) {
  await db.direct.execute(`INSERT INTO conversations (id, conversation_key, source, customer_id, channel, started_at, last_message_at, metadata)
    VALUES ('00000000-0000-0000-0000-000000000001', 'edge', 'live', NULL, '', '1969-07-20 20:17:40.123456+00', '2026-01-05 10:00:00.000001+00', '{"big": 12345678901234567890}'),
           ('00000000-0000-0000-0000-000000000002', 'fresh', 'live', 'c2', 'web', '2026-11-20 10:00:00+00', '2026-11-20 10:00:00+00', '{}')`);
  await db.direct.execute(
    `INSERT INTO messages (id, conversation_id, message_key, role, content, created_at, source, model, metadata, updated_at)
    OVERRIDING SYSTEM VALUE VALUES
    (-9223372036854775808, '00000000-0000-0000-0000-000000000001', 'm1', 'user', '', '1969-07-20 20:17:40.123456+00', 'live', NULL,
      '{"n": 12345678901234567890, "f": 0.10000000000000000555, "neg": -98765432109876543210}', '2262-04-11 23:47:16.854775+00'),
    (9007199254740993, '00000000-0000-0000-0000-000000000001', 'm2', 'assistant', $1, '2026-01-05 10:00:00.000001+00', 'live', '',
      '{"emoji": "🙂", "nested": {"a": [1, 2.5, null, "x"]}}', NULL),
    (9223372036854775807, '00000000-0000-0000-0000-000000000001', 'm3', 'tool', 'line1
line2	"quoted" \\ back', '2026-01-05 10:00:00.000002+00', 'live', 'gpt', '{}', '1900-01-01 00:00:00.000001+00'),
    (42, '00000000-0000-0000-0000-000000000002', 'f1', 'user', 'fresh', '2026-11-20 10:00:00+00', 'live', NULL, '{}', NULL)`,
    [LONG],
  );
}

const snapshot = async (db: TestDb, table: string) =>
  (await db.direct.query<{ r: string }>(`SELECT t::text AS r FROM ${table} t ORDER BY id`)).map((x) => x.r);

describe.each(DRIVERS)('retention (%s driver)', (driver) => {
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

  it('round trip: export, DuckDB reads the same values, restore gives back identical rows', async () => {
    await seedCorpus(db);
    const messagesBefore = await snapshot(db, 'messages');
    const conversationsBefore = await snapshot(db, 'conversations');

    const { outcome } = await run(db.sql, s.store, { tables: ['messages', 'conversations'] });
    expect(outcome.counters).toMatchObject({ rows_exported: 4, rows_deleted: 4, verification_failures: 0, objects_changed: 0 });
    expect(await snapshot(db, 'messages')).toEqual(messagesBefore.filter((r) => r.startsWith('(42,'))); // the fresh one stays
    expect((await db.direct.query('SELECT conversation_key FROM conversations')).map((r) => r.conversation_key)).toEqual(['fresh']);
    const manifest = await db.direct.query<{ object_key: string; row_count: number; table_name: string }>(
      'SELECT table_name, object_key, row_count FROM archive_manifest ORDER BY table_name, object_key',
    );
    expect(manifest.map((m) => [m.table_name, m.row_count])).toEqual([
      ['conversations', 1],
      ['messages', 1],
      ['messages', 2],
    ]);
    for (const m of manifest) expect(m.object_key).toMatch(new RegExp(`^${m.table_name}/day=\\d{4}-\\d{2}-\\d{2}/[0-9a-f]{16}\\.parquet$`));
    const listed = await s.client.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual(manifest.map((m) => m.object_key).sort());

    // DuckDB, an engine that is not ours, reads the objects: same counts and values.
    const dir = mkdtempSync(join(tmpdir(), 'dlc-duck-'));
    try {
      await downloadPrefix(s.client, BUCKET, 'messages/', dir);
      const rows = await duckQuery(
        `SELECT id, created_at, updated_at, model, content, metadata, length(content) AS len FROM read_parquet('${dir}/messages/**/*.parquet') ORDER BY id::HUGEINT`,
      );
      expect(rows.map((r) => r.id)).toEqual(['-9223372036854775808', '9007199254740993', '9223372036854775807']);
      expect(rows[0]).toMatchObject({
        created_at: '1969-07-20 20:17:40.123456+00',
        updated_at: '2262-04-11 23:47:16.854775+00',
        model: null,
        content: '',
        metadata: '{"f": 0.10000000000000000555, "n": 12345678901234567890, "neg": -98765432109876543210}',
      });
      expect(rows[1]).toMatchObject({ model: '', len: '200000' });
      expect(rows[1]?.content === LONG).toBe(true);
      const [count] = await duckQuery(`SELECT count(*)::INTEGER AS n FROM read_parquet('${dir}/**/*.parquet', union_by_name = true)`);
      expect(count?.n).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // Restore moves rows back (messages bring their conversation back first), twice: the second finds nothing left cold.
    const deps = { sql: db.sql, store: s.store, log: memoryLog() };
    const first = await restore(deps, RETENTION_POLICIES, { table: 'messages', from: '1900-01-01', to: '2026-06-01' });
    expect(first).toMatchObject({ rowsInserted: 3, objectsSuperseded: 2, conversations: { rowsInserted: 1, objectsSuperseded: 1 } });
    const again = await restore(deps, RETENTION_POLICIES, { table: 'messages', from: '1900-01-01', to: '2026-06-01' });
    expect(again).toMatchObject({ objects: 0, rowsInserted: 0, rowsPresent: 0 });
    // Every row in exactly one place: the objects left S3, their manifest rows stay as history.
    expect((await s.client.send(new ListObjectsV2Command({ Bucket: BUCKET }))).Contents ?? []).toEqual([]);
    expect(
      await db.direct.query(`SELECT count(*)::int AS n FROM archive_manifest WHERE superseded_at IS NOT NULL AND retired_at IS NOT NULL`),
    ).toEqual([{ n: 3 }]);
    expect(await snapshot(db, 'messages')).toEqual(messagesBefore);
    expect(await snapshot(db, 'conversations')).toEqual(conversationsBefore);
  });

  it('many pages into one object, read one page ahead (pages of large rows fetched again smaller on the Data API): exact, and restorable', async () => {
    await db.direct.execute(`INSERT INTO conversations (id, conversation_key, source, started_at, last_message_at)
      VALUES ('00000000-0000-0000-0000-000000000003', 'pages', 'live', '2025-03-01', '2025-03-01 23:00:00+00')`);
    // 12 messages on one day; three hold ~0.7 MB each, so a page of five passes the Data API's 1 MiB.
    await db.direct.execute(
      `INSERT INTO messages (conversation_id, message_key, role, content, created_at, source, metadata)
       SELECT '00000000-0000-0000-0000-000000000003', 'p' || i, 'user',
              CASE WHEN i IN (2, 3, 4) THEN $1 || $1 || i ELSE 'short ' || i END,
              '2025-03-01 10:00:00.000001+00'::timestamptz + i * interval '1 minute', 'live', jsonb_build_object('i', i)
         FROM generate_series(1, 12) i`,
      [LONG],
    );
    const before = await snapshot(db, 'messages');
    const refused: string[] = [];
    const sql: Sql = Object.assign(Object.create(db.sql), {
      queryArrays: (text: string, params?: []) =>
        db.sql.queryArrays(text, params).catch((err: Error) => {
          refused.push(err.name);
          throw err;
        }),
    });
    const { outcome } = await run(sql, s.store, { tables: ['messages'] }, { pageRows: 5, maxRowsPerObject: 7, rowGroupRows: 3 });
    expect(refused).toEqual(driver === 'data-api' ? ['DataApiLimitError'] : []);
    expect(outcome.counters).toMatchObject({
      rows_exported: 12,
      rows_deleted: 12,
      objects_written: 2,
      verification_failures: 0,
      objects_changed: 0,
    });
    const manifest = await db.direct.query<{ row_count: number; key_min: string[]; key_max: string[] }>(
      'SELECT row_count, key_min, key_max FROM archive_manifest ORDER BY key_min',
    );
    expect(manifest.map((m) => Number(m.row_count))).toEqual([7, 5]);
    expect(manifest[0]?.key_max[0]).toBe('2025-03-01 10:07:00.000001+00');
    expect(manifest[1]?.key_min[0]).toBe('2025-03-01 10:08:00.000001+00');
    expect(await snapshot(db, 'messages')).toEqual([]);
    const back = await restore({ sql: db.sql, store: s.store, log: memoryLog() }, RETENTION_POLICIES, {
      table: 'messages',
      from: '2025-03-01',
      to: '2025-03-02',
    });
    expect(back).toMatchObject({ rowsInserted: 12 });
    expect(await snapshot(db, 'messages')).toEqual(before);
  });

  it('runs as its database role, dlc_retention: every policy exported and deleted, then restored', async () => {
    await seedCorpus(db);
    await db.direct.execute(`INSERT INTO analytics_events_rejected (raw, reason, rejected_at) VALUES ('{', 'not json', '2020-01-01')`);
    await db.direct.execute(`INSERT INTO agg_monthly_summary (period_month, property_id) VALUES ('2020-01', 'p')`);
    await reconcileTestRoles(db);
    const sql = roleSql(db, 'dlc_retention', driver);
    try {
      const { outcome } = await run(sql, s.store);
      expect(outcome.counters).toMatchObject({ rows_deleted: 6, verification_failures: 0 });
      const deps = { sql, store: s.store, log: memoryLog() };
      const back = await restore(deps, RETENTION_POLICIES, {
        table: 'messages',
        from: '1900-01-01',
        to: '2100-01-01',
        conversation: 'edge',
      });
      expect(back).toMatchObject({ rowsInserted: 3, conversations: { rowsInserted: 1 } });
      await expect(sql.execute('DELETE FROM audits')).rejects.toThrow(/permission denied/);
    } finally {
      await sql.close();
    }
  });
});
