/**
 * Soak bug A (docs/soak.md): the backfill re-created audit messages that retention had already moved
 * to cold storage. Each message-bearing audit must be one message wherever it lives: PostgreSQL and
 * the live cold objects together hold it once, whatever the backfill, its dry run and its rollback
 * do after retention.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { type BackfillRequest, type BackfillResult, backfill } from '../../lambdas/backfill/backfill';
import { bufferReader, readBack, type TextRow } from '../../lambdas/retention/parquet';
import { memoryLog } from '../../lambdas/shared/observability';
import { deadline } from '../../lambdas/shared/runtime';
import type { Sql } from '../../lambdas/shared/sql/types';
import { DRIVERS, type TestDb, testDb } from '../support/db';
import { BUCKET, run as retention, s3 } from '../support/retention-harness';
import { reconcileTestRoles, roleSql } from '../support/roles';

const L = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const A = (n: number) => `aaaaaaaa-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** Two leads, five message-bearing audits and one that is not; all older than the messages policy's 180 days before NOW (2026-11-22). */
async function seed(db: TestDb): Promise<void> {
  await db.direct.execute(`INSERT INTO leads (id, customer_id, channel, messenger_psid, phone, stage, created_at) VALUES
    ('${L(1)}', 'cust-1', 'messenger', 'psid-1', NULL, 'done', '2025-01-01T10:00:00Z'),
    ('${L(2)}', NULL, 'whatsapp', NULL, '+34600000000', 'new', '2025-01-02T10:00:00Z')`);
  await db.direct.execute(`INSERT INTO audits (id, lead_id, actor, action, payload, created_at) VALUES
    ('${A(1)}', '${L(1)}', 'customer', 'message_received', '{"text":"Hola, quiero una cita"}', '2025-01-01T10:01:00Z'),
    ('${A(2)}', '${L(1)}', 'agent', 'message_sent', '{"message":"Claro, ¿a qué hora?"}', '2025-01-01T10:02:00Z'),
    ('${A(3)}', '${L(1)}', 'admin', 'note', '{"text":"internal note"}', '2025-01-01T10:03:00Z'),
    ('${A(4)}', '${L(2)}', 'user', 'message_received', '{"text":"Hello, I need a quote"}', '2025-01-02T10:01:00Z'),
    ('${A(5)}', '${L(2)}', 'assistant', 'message_sent', '{"text":"Here it is"}', '2025-01-02T10:02:00Z'),
    ('${A(6)}', '${L(2)}', 'tool', 'lookup', '{"body":"price: 40"}', '2025-01-02T10:03:00Z')`);
}
const BEARING = [1, 2, 4, 5, 6].map((n) => `audit:${A(n)}`);

describe.each(DRIVERS)('backfill after retention moved its messages to cold storage (%s driver)', (driver) => {
  let db: TestDb;
  let s: Awaited<ReturnType<typeof s3>>;
  let asBackfill: Sql;
  beforeEach(async () => {
    db = await testDb(driver);
    s = await s3();
    await seed(db);
    await reconcileTestRoles(db);
    asBackfill = roleSql(db, 'dlc_backfill', driver);
  });
  afterEach(async () => {
    await asBackfill.close();
    await s.stop();
    await db.close();
  });

  const run = (req: Partial<BackfillRequest> = {}): Promise<BackfillResult> =>
    backfill(
      { sql: asBackfill, log: memoryLog(), deadline: deadline({ budgetMs: 600_000 }, 0), clock: { now: () => new Date() }, runId: 'run-1' },
      { mode: 'apply', batchSize: 1, ...req },
    );
  const exportOld = async () => {
    const { outcome } = await retention(db.sql, s.store, { tables: ['messages', 'conversations'] });
    return outcome;
  };
  const count = async (q: string) => (await db.direct.query<{ n: number }>(q))[0]?.n ?? 0;

  /** Where each audit message is: `pg` or the live cold object's key, per message key. */
  async function places(): Promise<Map<string, string[]>> {
    const at = new Map<string, string[]>();
    const add = (key: string, where: string) => at.set(key, [...(at.get(key) ?? []), where]);
    for (const r of await db.direct.query<{ message_key: string }>("SELECT message_key FROM messages WHERE message_key LIKE 'audit:%'"))
      add(r.message_key, 'pg');
    const live = await db.direct.query<{ object_key: string }>(
      "SELECT object_key FROM archive_manifest WHERE table_name = 'messages' AND superseded_at IS NULL ORDER BY object_key",
    );
    for (const { object_key } of live) {
      const got = await s.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: object_key }));
      const bytes = await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
      await readBack(bufferReader(bytes), async (rows: TextRow[], columns) => {
        const k = columns.indexOf('message_key');
        for (const row of rows) add(String(row[k]), object_key);
      });
    }
    return at;
  }
  const expectEachOnce = async (keys = BEARING) => {
    const at = await places();
    expect([...at.keys()].sort()).toEqual([...keys].sort());
    for (const k of keys) expect([k, at.get(k)?.length]).toEqual([k, 1]);
    return at;
  };

  it('a re-run after retention exported the messages and the emptied conversations creates nothing again', async () => {
    // Prepare: backfilled, then exported (messages, then the conversations they left empty)
    expect((await run()).totals).toMatchObject({ conversationsCreated: 2, messagesCreated: 5 });
    const exported = await exportOld();
    expect(exported.counters.rows_deleted).toBe(7); // 5 messages + 2 conversations
    expect(await count('SELECT count(*)::int AS n FROM messages')).toBe(0);
    expect(await count('SELECT count(*)::int AS n FROM conversations')).toBe(0);
    // Act: a dry run, then an apply
    const dry = await run({ mode: 'dry-run' });
    const again = await run();
    // Assess: nothing would be, nor was, created; each audit's message is once, in cold storage
    for (const r of [dry, again])
      expect(r.totals).toMatchObject({ conversationsCreated: 0, messagesCreated: 0, messagesSkipped: 5, errors: 0 });
    expect(await count('SELECT count(*)::int AS n FROM messages')).toBe(0);
    expect(await count('SELECT count(*)::int AS n FROM conversations')).toBe(0);
    const at = await expectEachOnce();
    expect([...at.values()].flat().every((w) => w !== 'pg')).toBe(true);
    // and the next retention run finds nothing new to export
    expect((await exportOld()).counters.rows_deleted ?? 0).toBe(0);
    await expectEachOnce();
  });

  it('a new audit of an exported lead becomes one message; its rollback and re-run touch only that one', async () => {
    await run();
    await exportOld();
    await db.direct.execute(`INSERT INTO audits (id, lead_id, actor, action, payload, created_at) VALUES
      ('${A(7)}', '${L(1)}', 'customer', 'message_received', '{"text":"¿Sigue libre el martes?"}', '2025-01-05T10:00:00Z')`);
    const keys = [...BEARING, `audit:${A(7)}`];
    // only the new audit's message, in a new conversation for its lead
    expect((await run()).totals).toMatchObject({ conversationsCreated: 1, messagesCreated: 1, messagesSkipped: 5 });
    expect((await expectEachOnce(keys)).get(`audit:${A(7)}`)).toEqual(['pg']);
    // the rollback removes what is in PostgreSQL (and its record); what is cold stays, and is not created again
    expect((await run({ mode: 'rollback' })).totals).toMatchObject({ messagesDeleted: 1, conversationsDeleted: 1 });
    expect(await count('SELECT count(*)::int AS n FROM backfill_audit_messages')).toBe(5);
    await expectEachOnce();
    expect((await run()).totals).toMatchObject({ conversationsCreated: 1, messagesCreated: 1, messagesSkipped: 5 });
    await expectEachOnce(keys);
    // exported in turn: still once each
    await exportOld();
    expect(await count('SELECT count(*)::int AS n FROM messages')).toBe(0);
    expect((await run()).totals).toMatchObject({ messagesCreated: 0 });
    await expectEachOnce(keys);
  });

  it('the database refuses a second record of an audit; the backfill role may not delete records', async () => {
    await run();
    await expect(
      db.direct.execute(`INSERT INTO backfill_audit_messages (audit_id, conversation_key) VALUES ('${A(1)}', 'lead:${L(1)}')`),
    ).rejects.toThrow(/duplicate key/);
    await expect(asBackfill.execute('DELETE FROM backfill_audit_messages')).rejects.toThrow(/permission denied/);
    expect(await count('SELECT count(*)::int AS n FROM backfill_audit_messages')).toBe(5);
  });
});
