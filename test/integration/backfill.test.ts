import { type BackfillRequest, type BackfillResult, backfill } from '../../lambdas/backfill/backfill';
import { memoryLog } from '../../lambdas/shared/observability';
import { deadline } from '../../lambdas/shared/runtime';
import type { SqlExecutor as Executor, Sql } from '../../lambdas/shared/sql/types';
import { DRIVERS, type TestDb, testDb } from '../support/db';
import { reconcileTestRoles, roleSql } from '../support/roles';

const L = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const A = (n: number) => `aaaaaaaa-0000-4000-8000-${String(n).padStart(12, '0')}`;

async function seed(db: Executor): Promise<void> {
  await db.execute(`INSERT INTO leads (id, customer_id, channel, messenger_psid, phone, stage, created_at) VALUES
    ('${L(1)}', 'cust-1', 'messenger', 'psid-1', NULL, 'done', '2025-01-01T10:00:00Z'),
    ('${L(2)}', NULL, 'whatsapp', NULL, '+34600000000', 'new', '2025-01-02T10:00:00Z'),
    ('${L(3)}', 'cust-3', 'web', NULL, NULL, 'new', '2025-01-03T10:00:00Z'),
    ('${L(4)}', 'cust-4', 'web', NULL, NULL, 'lost', '2025-01-04T10:00:00Z')`);
  await db.execute(`INSERT INTO audits (id, lead_id, actor, action, payload, created_at) VALUES
    ('${A(1)}', '${L(1)}', 'customer', 'message_received', '{"text":"Hola, quiero una cita para mañana","message":"ignored"}', '2025-01-01T10:01:00Z'),
    ('${A(2)}', '${L(1)}', 'agent', 'message_sent', '{"message":"Claro, ¿a qué hora te viene bien?"}', '2025-01-01T10:02:00Z'),
    ('${A(3)}', '${L(1)}', 'system', 'stage_changed', '{"content":"Lead moved to qualified"}', '2025-01-01T10:03:00Z'),
    ('${A(4)}', '${L(1)}', 'tool', 'calendar_lookup', '{"body":"slots: 10:00, 12:30"}', '2025-01-01T10:04:00Z'),
    ('${A(5)}', '${L(1)}', 'admin', 'note', '{"text":"internal note"}', '2025-01-01T10:05:00Z'),
    ('${A(6)}', '${L(1)}', 'customer', 'message_received', '{}', '2025-01-01T10:06:00Z'),
    ('${A(7)}', '${L(2)}', 'user', 'message_received', '{"text":"Hello, I need a quote please"}', '2025-01-02T10:01:00Z'),
    ('${A(8)}', '${L(2)}', 'assistant', 'message_sent', '{"status":"delivered","quote":{"amount":40}}', '2025-01-02T10:02:00Z'),
    ('${A(9)}', '${L(4)}', NULL, 'lead_created', '{"text":"no actor"}', '2025-01-04T10:01:00Z'),
    ('${A(10)}', '${L(99)}', 'customer', 'message_received', '{"text":"my lead was deleted"}', '2025-01-05T10:00:00Z'),
    ('${A(11)}', NULL, 'customer', 'message_received', '{"text":"no lead at all"}', '2025-01-05T10:00:00Z')`);
}

describe.each(DRIVERS)('backfill from the audit log through the %s driver', (driver) => {
  let db: TestDb;
  /** The job connects as its own database role (no DELETE privilege: its rollback goes through its SECURITY DEFINER function). */
  let asBackfill: Sql;
  beforeEach(async () => {
    db = await testDb(driver);
    await seed(db.direct);
    await reconcileTestRoles(db);
    asBackfill = roleSql(db, 'dlc_backfill', driver);
  });
  afterEach(async () => {
    await asBackfill.close();
    await db.close();
  });

  const run = (req: Partial<BackfillRequest>, budget = 600_000): Promise<BackfillResult> =>
    backfill(
      { sql: asBackfill, log: memoryLog(), deadline: deadline({ budgetMs: budget }, 0), clock: { now: () => new Date() }, runId: 'run-1' },
      { mode: 'apply', batchSize: 2, ...req },
    );
  const snapshot = async () => ({
    conversations: await db.direct.query(
      'SELECT conversation_key, source, customer_id, lead_id, external_id, started_at, last_message_at FROM conversations ORDER BY 1',
    ),
    messages: await db.direct.query(
      'SELECT conversation_id, message_key, role, content, created_at, source, metadata FROM messages ORDER BY message_key',
    ),
    audits: await db.direct.query("SELECT id, payload FROM audits WHERE action NOT LIKE 'backfill%' ORDER BY id"),
  });

  it("applies seed 003's logic, and seed 003's validation queries hold", async () => {
    // Act
    const r = await run({});
    // Assess: statistics
    expect(r.done).toBe(true);
    expect(r.totals).toMatchObject({
      conversationsCreated: 2, // L1, L2 (L3 has no audits, L4 only a non-message audit)
      conversationsSkipped: 0,
      messagesCreated: 6,
      messagesSkipped: 0,
      auditsProcessed: 9,
      auditsSkipped: 4, // admin, empty payload, null actor, orphan
      auditsNonMessage: 2,
      auditsWithoutText: 1,
      orphanAudits: 1,
      errors: 0,
    });
    expect(r.orphanSample).toEqual([A(10)]);
    // 1. Conversation count
    const [q1] = await db.sql.query<{ conversations: number; backfilled: number }>(
      "SELECT COUNT(*)::int AS conversations, COUNT(*) FILTER (WHERE metadata->>'source' = 'audit_backfill')::int AS backfilled FROM conversations",
    );
    expect(q1).toEqual({ conversations: 2, backfilled: 2 });
    // 2. Message count
    const [q2] = await db.sql.query(
      "SELECT COUNT(*)::int AS messages, COUNT(*) FILTER (WHERE metadata->>'source' = 'audit_backfill')::int AS backfilled, COUNT(DISTINCT conversation_id)::int AS unique_conversations FROM messages",
    );
    expect(q2).toEqual({ messages: 6, backfilled: 6, unique_conversations: 2 });
    // 3. Conversation → lead mapping
    const [q3] = await db.sql.query(
      "SELECT COUNT(*)::int AS leads, COUNT(*) FILTER (WHERE id IN (SELECT lead_id FROM conversations WHERE metadata->>'source' = 'audit_backfill'))::int AS leads_with_conversations FROM leads",
    );
    expect(q3).toEqual({ leads: 4, leads_with_conversations: 2 });
    // 4. Role distribution
    const q4 = await db.sql.query(
      "SELECT role, COUNT(*)::int AS count, ROUND(100.0 * COUNT(*) / SUM(COUNT(*)) OVER (), 2)::float8 AS percentage FROM messages WHERE metadata->>'source' = 'audit_backfill' GROUP BY role ORDER BY count DESC, role",
    );
    expect(q4).toEqual([
      { role: 'assistant', count: 2, percentage: 33.33 },
      { role: 'user', count: 2, percentage: 33.33 },
      { role: 'system', count: 1, percentage: 16.67 },
      { role: 'tool', count: 1, percentage: 16.67 },
    ]);
    // 6. Audit → message mapping: every speaking audit with text has its message
    const q6 = await db.sql.query<{ audit_id: string; audit_actor: string; role: string | null; content_preview: string | null }>(
      `SELECT a.id AS audit_id, a.actor AS audit_actor, m.role, LEFT(m.content, 100) AS content_preview
       FROM audits a LEFT JOIN messages m ON m.metadata->>'auditId' = a.id::text
       WHERE a.actor IN ('customer', 'agent') AND a.lead_id IS NOT NULL ORDER BY a.created_at`,
    );
    expect(q6.map((r) => [r.audit_actor, r.role, r.content_preview])).toEqual([
      ['customer', 'user', 'Hola, quiero una cita para mañana'],
      ['agent', 'assistant', 'Claro, ¿a qué hora te viene bien?'],
      ['customer', null, null], // empty payload: no text
      ['customer', null, null], // orphan
    ]);
    // the conversation of a lead, as seed 003 describes it
    const [c1] = await db.sql.query(
      "SELECT channel, customer_id, external_id, started_at, last_message_at, metadata->>'leadStage' AS stage, metadata->>'source' AS source FROM conversations WHERE lead_id = $1::uuid",
      [{ sqlType: 'uuid', value: L(1) }],
    );
    expect(c1).toEqual({
      channel: 'messenger',
      customer_id: 'cust-1',
      external_id: 'psid-1',
      started_at: '2025-01-01T10:00:00.000Z',
      last_message_at: '2025-01-01T10:04:00.000Z',
      stage: 'done',
      source: 'audit_backfill',
    });
    const [m8] = await db.sql.query('SELECT content, metadata FROM messages WHERE message_key = $1::text', [`audit:${A(8)}`]);
    expect(m8).toEqual({
      content: '{"quote": {"amount": 40}, "status": "delivered"}',
      metadata: {
        auditId: A(8),
        auditAction: 'message_sent',
        auditActor: 'assistant',
        source: 'audit_backfill',
        createdBy: 'dlc-backfill',
      },
    });
    // the run left its own audit row
    const [log] = await db.direct.query<{ payload: { stats: { messagesCreated: number } } }>(
      "SELECT payload FROM audits WHERE action = 'backfill_conversations_messages'",
    );
    expect(log?.payload.stats.messagesCreated).toBe(6);
  });

  it('a second run creates 0 conversations and 0 messages', async () => {
    await run({});
    const again = await run({ verbose: true });
    expect(again.totals).toMatchObject({ conversationsCreated: 0, conversationsSkipped: 2, messagesCreated: 0, messagesSkipped: 6 });
    expect(again.perLead?.[L(1)]).toEqual({ created: 0, skipped: 4 });
    const [n] = await db.direct.query<{ c: number }>('SELECT count(*)::int AS c FROM messages');
    expect(n?.c).toBe(6);
  });

  it('a dry run writes nothing and reports what an apply would do, with a preview', async () => {
    const before = await snapshot();
    const dry = await run({ mode: 'dry-run' });
    expect(await snapshot()).toEqual(before);
    const [runs] = await db.direct.query<{ c: number }>("SELECT count(*)::int AS c FROM audits WHERE action LIKE 'backfill%'");
    expect(runs?.c).toBe(0);
    expect(dry.preview.map((m) => [m.role, m.preview])).toContainEqual(['user', 'Hola, quiero una cita para mañana']);
    const applied = await run({});
    expect(dry.totals).toEqual(applied.totals);
  });

  it('rollback removes exactly what the backfill created', async () => {
    // state before: one live conversation with one message
    await db.direct.execute(
      `INSERT INTO conversations (conversation_key, source, started_at) VALUES ('live-1', 'live', '2025-01-01T00:00:00Z')`,
    );
    await db.direct.execute(
      `INSERT INTO messages (conversation_id, message_key, role, content, created_at, source) SELECT id, 'live-m1', 'user', 'hi', now(), 'live' FROM conversations WHERE conversation_key = 'live-1'`,
    );
    const before = await snapshot();
    await run({});
    // the app later adds a live message to a backfilled conversation: it must survive the rollback
    await db.direct.execute(
      `INSERT INTO messages (conversation_id, message_key, role, content, created_at, source) SELECT id, 'live-m2', 'user', 'still here', now(), 'live' FROM conversations WHERE conversation_key = 'lead:${L(2)}'`,
    );
    const rb = await run({ mode: 'rollback' });
    expect(rb.totals).toMatchObject({ messagesDeleted: 6, conversationsDeleted: 1 });
    const after = await snapshot();
    expect(after.audits).toEqual(before.audits);
    expect(after.messages.filter((m) => m.message_key !== 'live-m2')).toEqual(before.messages);
    expect(after.conversations.map((c) => c.conversation_key)).toEqual([`lead:${L(2)}`, 'live-1']);
    // once that live message is gone, the conversation the backfill created is empty: a second rollback removes it
    await db.direct.execute("DELETE FROM messages WHERE message_key = 'live-m2'");
    const rb2 = await run({ mode: 'rollback' });
    expect(rb2.totals).toMatchObject({ messagesDeleted: 0, conversationsDeleted: 1 });
    const final = await snapshot();
    expect({ conversations: final.conversations, messages: final.messages }).toEqual({
      conversations: before.conversations,
      messages: before.messages,
    });
  });

  it('rollback removes what the backfill created even after its lead was deleted (lead_id set NULL)', async () => {
    // Prepare
    const before = await snapshot();
    await run({});
    await db.direct.execute(`DELETE FROM leads WHERE id = '${L(1)}'`); // ON DELETE SET NULL empties lead_id
    const [orphaned] = await db.direct.query<{ lead_id: string | null }>(
      `SELECT lead_id FROM conversations WHERE conversation_key = 'lead:${L(1)}'`,
    );
    expect(orphaned).toEqual({ lead_id: null });
    // Act
    const rb = await run({ mode: 'rollback' });
    // Assess: both conversations and all six messages are gone, nothing else touched
    expect(rb.totals).toMatchObject({ messagesDeleted: 6, conversationsDeleted: 2 });
    const after = await snapshot();
    expect({ conversations: after.conversations, messages: after.messages }).toEqual({
      conversations: before.conversations,
      messages: before.messages,
    });
    // the filter by lead still finds it by its key
    await run({});
    await db.direct.execute(`UPDATE conversations SET lead_id = NULL WHERE conversation_key = 'lead:${L(2)}'`);
    expect((await run({ mode: 'rollback', filters: { leadId: L(2) } })).totals).toMatchObject({
      messagesDeleted: 2,
      conversationsDeleted: 1,
    });
  });

  it('handles bad payloads with a clear count and loses nothing', async () => {
    const deep = `${'{"a":'.repeat(300)}1${'}'.repeat(300)}`;
    await db.direct.execute(`INSERT INTO audits (id, lead_id, actor, action, payload, created_at) VALUES
      ('${A(20)}', '${L(3)}', 'customer', 'm', '"just a string"', '2025-01-03T10:01:00Z'),
      ('${A(21)}', '${L(3)}', 'customer', 'm', '[1,2,3]', '2025-01-03T10:02:00Z'),
      ('${A(22)}', '${L(3)}', 'customer', 'm', $$${deep}$$, '2025-01-03T10:03:00Z'),
      ('${A(23)}', '${L(3)}', 'customer', 'm', jsonb_build_object('text', repeat('grande ', 200000)), '2025-01-03T10:04:00Z'),
      ('${A(24)}', '${L(3)}', 'customer', 'm', '{"text":"escapes kept as text: \\\\ud83d \\\\u0000 \\\\uZZZZ"}', '2025-01-03T10:05:00Z'),
      ('${A(25)}', '${L(3)}', NULL, 'm', '{"text":"null actor"}', '2025-01-03T10:06:00Z'),
      ('${A(26)}', '${L(3)}', 'customer', 'm', NULL, '2025-01-03T10:07:00Z')`);
    // PostgreSQL itself refuses a truly invalid escape in jsonb, so none can reach the backfill:
    await expect(
      db.direct.execute(`INSERT INTO audits (lead_id, action, payload) VALUES (NULL, 'x', '{"text":"\\ud83d"}')`),
    ).rejects.toThrow(/invalid input syntax for type json/);
    const before = await snapshot();
    const r = await run({ filters: { leadId: L(3) } });
    expect(r.totals).toMatchObject({ messagesCreated: 5, auditsPayloadNotObject: 2, auditsNonMessage: 1, auditsWithoutText: 1, errors: 0 });
    const rows = await db.direct.query<{ message_key: string; len: number; content: string }>(
      'SELECT message_key, length(content)::int AS len, left(content, 60) AS content FROM messages ORDER BY created_at',
    );
    expect(rows.map((x) => [x.message_key.slice(-2), x.len])).toEqual([
      ['20', 13],
      ['21', 9],
      ['22', 1000],
      ['23', 1_400_000],
      ['24', 42],
    ]);
    expect(rows[4]?.content).toBe('escapes kept as text: \\ud83d \\u0000 \\uZZZZ');
    expect((await snapshot()).audits).toEqual(before.audits); // the source is never modified
  });

  it('resumes from its cursor when the deadline stops it, with the same totals as one run', async () => {
    let calls = 0;
    const first = await backfill(
      {
        sql: asBackfill,
        log: memoryLog(),
        deadline: { remainingMs: () => 0, shouldStop: () => calls++ > 0 },
        clock: { now: () => new Date() },
        runId: 'r',
      },
      { mode: 'apply', batchSize: 1, concurrency: 1 },
    );
    expect(first.done).toBe(false);
    expect(first.cursor?.after).toBe(L(1));
    let r = first;
    while (!r.done) r = await run({ cursor: r.cursor, batchSize: 1 });
    expect(r.totals).toMatchObject({ conversationsCreated: 2, messagesCreated: 6, orphanAudits: 1, auditsProcessed: 9 });
  });

  it('filters by lead, time range and limit; refuses bad filters', async () => {
    expect((await run({ mode: 'dry-run', filters: { leadId: L(2) } })).totals).toMatchObject({
      messagesCreated: 2,
      conversationsCreated: 1,
      orphanAudits: 0,
    });
    expect((await run({ mode: 'dry-run', filters: { from: '2025-01-01T10:02:00Z', to: '2025-01-01T10:04:00Z' } })).totals).toMatchObject({
      messagesCreated: 2,
      conversationsCreated: 1,
    });
    expect((await run({ mode: 'dry-run', filters: { limit: 1 } })).totals).toMatchObject({
      leadsProcessed: 1,
      conversationsCreated: 1,
      messagesCreated: 4,
    });
    await expect(run({ filters: { leadId: 'nope', from: 'yesterday', limit: 0 } })).rejects.toThrow(
      'Invalid backfill filters: lead "nope" is not a UUID; from "yesterday" is not a date; limit must be a positive integer',
    );
  });
});
