import type { Redis } from 'ioredis';
import { computeDashboardMetrics } from '../../lambdas/analytics-api/dashboard';
import { ingest } from '../../lambdas/ingest/ingest';
import type { RoleReconciled } from '../../lambdas/shared/db-role-reconcile';
import { reconcileRoles } from '../../lambdas/shared/db-role-reconcile';
import { DB_ROLES, type DbRoleName } from '../../lambdas/shared/db-roles';
import { memoryLog, memoryMetrics } from '../../lambdas/shared/observability';
import { PgSql } from '../../lambdas/shared/sql/pg-driver';
import type { Sql } from '../../lambdas/shared/sql/types';
import { watch } from '../../lambdas/watchdog/watchdog';
import { HOUR_MS, putWithAge, seedValue } from '../../local/fixtures';
import { archiveOnce, usePrivateRedis } from '../support/archive-harness';
import { DRIVERS, type TestDb, testDb } from '../support/db';
import { reconcileTestRoles, roleSql } from '../support/roles';

const DENIED = /permission denied/;

describe.each(DRIVERS)('database roles through the %s driver (real PostgreSQL)', (driver) => {
  const client = usePrivateRedis();
  let db: TestDb;
  let reconciled: RoleReconciled[];
  const open: Sql[] = [];
  const as = (role: DbRoleName): Sql => {
    const s = roleSql(db, role, driver);
    open.push(s);
    return s;
  };

  beforeAll(async () => {
    db = await testDb(driver);
    reconciled = await reconcileTestRoles(db);
  });
  afterAll(async () => {
    for (const s of open) await s.close();
    await db.close();
  });

  /** role → table → sorted privileges, as the database has them. */
  const grantsInDatabase = async () => {
    const rows = await db.direct.query<{ grantee: string; table_name: string; privilege_type: string }>(
      `SELECT grantee, table_name, privilege_type FROM information_schema.role_table_grants
       WHERE table_catalog = current_database() AND grantee LIKE 'dlc\\_%' ORDER BY 1, 2, 3`,
    );
    // Column privileges (`SELECT (a, b)` in the registry) live in pg_attribute.attacl, one row per column.
    const columns = await db.direct.query<{ grantee: string; table_name: string; privilege_type: string }>(
      `SELECT g.rolname AS grantee, c.relname AS table_name,
              x.privilege_type || ' (' || string_agg(a.attname, ', ' ORDER BY a.attname) || ')' AS privilege_type
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       CROSS JOIN LATERAL aclexplode(a.attacl) x JOIN pg_roles g ON g.oid = x.grantee
       WHERE n.nspname = 'public' AND a.attacl IS NOT NULL AND g.rolname LIKE 'dlc\\_%'
       GROUP BY 1, 2, x.privilege_type ORDER BY 1, 2, 3`,
    );
    const out: Record<string, Record<string, string[]>> = {};
    for (const r of [...rows, ...columns]) {
      const role = out[r.grantee] ?? {};
      out[r.grantee] = role;
      role[r.table_name] = [...(role[r.table_name] ?? []), r.privilege_type].sort();
    }
    return out;
  };

  it('grants each role exactly its registry entry on the tables that exist, and skips the others with a report', async () => {
    // Assess: what does not exist yet (tables of jobs built later) is reported, not failed
    const skipped = Object.fromEntries(reconciled.map((r) => [r.role, r.skipped]));
    expect(skipped.dlc_archive).toEqual([]);
    expect(skipped.dlc_backfill).toEqual([]);
    // every table of every job exists now (migrations 001–009)
    for (const role of DB_ROLES) expect({ [role.name]: skipped[role.name] }).toEqual({ [role.name]: [] });
    const existing = new Set(
      (
        await db.direct.query<{ n: string }>(
          "SELECT table_name AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_catalog = current_database()",
        )
      ).map((r) => r.n),
    );
    const expected: Record<string, Record<string, string[]>> = {};
    for (const role of DB_ROLES)
      for (const [table, privs] of Object.entries(role.tables))
        if (existing.has(table)) expected[role.name] = { ...expected[role.name], [table]: [...privs].sort() };
    expect(await grantsInDatabase()).toEqual(expected);
  });

  it('is idempotent, and takes back a privilege granted outside the registry', async () => {
    // Prepare
    const before = await grantsInDatabase();
    await db.direct.execute('GRANT DELETE ON messages TO dlc_archive');
    await db.direct.execute('GRANT SELECT ON messages TO dlc_watchdog');
    // Act
    await reconcileTestRoles(db);
    // Assess
    expect(await grantsInDatabase()).toEqual(before);
  });

  it('creates a missing role and sets its password from its source; a new password replaces the old one', async () => {
    // Prepare: a role of its own (roles are cluster-wide; the registry's are shared by other suites)
    const role = {
      name: `dlc_pw_${driver.replace('-', '_')}`,
      jobs: [],
      description: 'test',
      tables: { leads: ['SELECT'] as const, not_yet_created: ['SELECT'] as const },
      functions: ['not_yet_defined(text)'],
    };
    await db.direct.execute(`DROP ROLE IF EXISTS ${role.name}`).catch(() => undefined);
    const login = async (password: string) => {
      const url = new URL(db.url);
      url.username = role.name;
      url.password = password;
      const s = new PgSql({ connectionString: url.toString() });
      try {
        return await s.query<{ n: number }>('SELECT count(*)::int AS n FROM leads');
      } finally {
        await s.close();
      }
    };
    // Act 1: created, with a password, and what does not exist yet is reported
    const first = await reconcileRoles(db.sql, async () => 'first-password', { roles: [role] });
    // Assess 1
    expect(first).toEqual([{ role: role.name, skipped: ['table not_yet_created', 'function not_yet_defined(text)'] }]);
    await expect(login('first-password')).resolves.toEqual([{ n: 0 }]);
    // Act 2: the secret changed
    await reconcileRoles(db.sql, async () => 'second-password', { roles: [role] });
    // Assess 2
    await expect(login('second-password')).resolves.toEqual([{ n: 0 }]);
    await expect(login('first-password')).rejects.toThrow(/password authentication failed/);
    await db.direct.execute(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${role.name}`);
    await db.direct.execute(`REVOKE ALL ON SCHEMA public FROM ${role.name}`);
  });

  it('refuses a malformed registry entry before touching the database', async () => {
    await expect(
      reconcileRoles(db.sql, async () => null, {
        roles: [{ name: 'Robert; DROP TABLE messages', jobs: [], description: '', tables: { 'messages; --': ['SELECT'] } }],
      }),
    ).rejects.toThrow(
      /Invalid database role registry:\n - role "Robert; DROP TABLE messages" must match dlc_\[a-z0-9_\]\+\n - .*table "messages; --" is not a plain identifier/,
    );
  });

  it('archive: archives as dlc_archive (conversations, messages, quarantine) and may not delete messages', async () => {
    // Prepare
    const redis: Redis = client();
    const sql = as('dlc_archive');
    await putWithAge(
      redis,
      'langgraph:checkpoint:role-conv:1',
      seedValue({
        conversationId: 'role-conv',
        customerId: 'c-1',
        messages: [
          { role: 'human', content: 'hola, quiero una cita', timestamp: '2025-10-27T10:00:00+01:00' },
          { role: 'ai', content: 'claro', timestamp: '2025-10-27T10:00:05+01:00' },
        ],
        ts: Math.floor((Date.now() - 23.5 * HOUR_MS) / 1000),
      }),
      23.5 * HOUR_MS,
    );
    await putWithAge(redis, 'langgraph:checkpoint:broken:1', '{"v":1,"data":', 23.5 * HOUR_MS);
    // Act: twice (the second run updates the quarantine row and upserts nothing new)
    const first = await archiveOnce(sql, redis);
    const second = await archiveOnce(sql, redis);
    // Assess
    expect(first.counters).toMatchObject({ messages_archived: 2, checkpoints_malformed: 1 });
    expect(second.counters.checkpoints_malformed).toBe(1);
    const [q] = await db.direct.query<{ seen_count: number }>('SELECT seen_count FROM checkpoint_quarantine');
    expect(q?.seen_count).toBe(2);
    const rows = await db.direct.query<{ content: string }>(
      "SELECT content FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.conversation_key = 'role-conv' ORDER BY m.id",
    );
    expect(rows.map((r) => r.content)).toEqual(['hola, quiero una cita', 'claro']);
    await expect(sql.execute('DELETE FROM messages')).rejects.toThrow(DENIED);
    await expect(sql.execute('DELETE FROM conversations')).rejects.toThrow(DENIED);
    await expect(sql.query('SELECT * FROM audits')).rejects.toThrow(DENIED);
  });

  it('backfill: may not delete history itself, only through its rollback function', async () => {
    const sql = as('dlc_backfill');
    await expect(sql.execute('DELETE FROM messages')).rejects.toThrow(DENIED);
    await expect(sql.execute('DELETE FROM audits')).rejects.toThrow(DENIED);
    await expect(sql.query('SELECT dlc_reconcile_role($1::text, NULL, $2::jsonb)', ['dlc_backfill', '{}'])).rejects.toThrow(DENIED);
    // the rollback function is the backfill's; nobody else may call it
    await expect(
      as('dlc_archive').query("SELECT * FROM backfill_rollback_batch(NULL, NULL, 'ffffffff-ffff-ffff-ffff-ffffffffffff', NULL, NULL)"),
    ).rejects.toThrow(DENIED);
  });

  it('analytics_api: reads the aggregates and views, writes nothing', async () => {
    const sql = as('dlc_analytics_api');
    await expect(sql.query('SELECT count(*)::int AS n FROM agg_message_counts_hourly')).resolves.toEqual([{ n: 0 }]);
    // the views read messages with their owner's privileges: the role itself may not read messages
    const [view] = await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM analytics_platform_daily_view');
    expect(view?.n).toBeGreaterThanOrEqual(0);
    await expect(
      sql.execute(
        "INSERT INTO analytics_events (id, event_type, occurred_at, property_id) VALUES ('e-1', 'message.received', now(), 'p-1')",
      ),
    ).rejects.toThrow(DENIED);
    await expect(sql.query('SELECT * FROM messages')).rejects.toThrow(DENIED);
  });

  it('watchdog: measures the database size and reads no table', async () => {
    // Act
    const sql = as('dlc_watchdog');
    const metrics = memoryMetrics();
    const out = await watch({ ledger: undefined as never, log: memoryLog(), metrics, clock: { now: () => new Date() }, sql }, [], {
      measureDatabase: true,
    });
    // Assess
    expect(out.databaseBytes).toBeGreaterThan(1_000_000);
    await expect(sql.query('SELECT * FROM messages LIMIT 1')).rejects.toThrow(DENIED);
    await expect(sql.query('SELECT * FROM conversations LIMIT 1')).rejects.toThrow(DENIED);
  });

  it('dashboard state: ingest and retention keep it through their own statements, analytics_api reads it, nobody else', async () => {
    // Prepare + Act: events ingested by the ingest job's own code as dlc_ingest (a redelivery inserts
    // nothing, a rejected event is kept once), then the dashboard as analytics_api
    const at = new Date(Date.now() - HOUR_MS).toISOString();
    const event = (id: string, eventType: string, extra: Record<string, string>) =>
      JSON.stringify({ id, eventType, timestamp: at, propertyId: 'p-state', channel: 'web', ...extra });
    const records = [
      {
        recordId: 'sqs-1',
        body: `[${event('st-1', 'conversation.started', { conversationId: 'c-1' })},${event('st-2', 'staff.login', { staffId: 's-1' })},${event('st-3', 'task.created', { taskId: 't-1' })},${event('st-4', 'nope', {})}]`,
      },
    ];
    const deps = { sql: as('dlc_ingest'), clock: { now: () => new Date() }, log: memoryLog() };
    expect(await ingest(deps, records)).toMatchObject({ accepted: 3, rejected: 1, failedRecordIds: [], errors: [] });
    expect(await ingest(deps, records)).toMatchObject({ accepted: 0, duplicates: 3, rejected: 0, rejectedDuplicates: 1, errors: [] });
    // ...and reads back only the columns its statement needs
    await expect(as('dlc_ingest').query('SELECT metadata FROM analytics_events')).rejects.toThrow(DENIED);
    await expect(as('dlc_ingest').query('SELECT raw FROM analytics_events_rejected')).rejects.toThrow(DENIED);
    const settings = { timeZone: 'UTC', activeConversationWindowHours: 24, staffStatusWindowHours: 24, pendingTaskWindowDays: 90 };
    const read = () => computeDashboardMetrics({ sql: as('dlc_analytics_api'), clock: { now: () => new Date() }, settings }, 'p-state');
    // Assess
    expect(await read()).toMatchObject({ activeConversations: 1, staffOnline: 1, pendingTasks: 1 });
    const [counts] = await db.direct.query<{ c: number; s: number; t: number }>(
      `SELECT (SELECT opened_events FROM analytics_lifecycle_state WHERE property_id = 'p-state' AND kind = 'conversation') AS c,
              (SELECT events FROM analytics_staff_state WHERE property_id = 'p-state') AS s,
              (SELECT opened_events FROM analytics_lifecycle_state WHERE property_id = 'p-state' AND kind = 'task') AS t`,
    );
    expect(counts).toEqual({ c: 1, s: 1, t: 1 });
    await expect(as('dlc_analytics_api').execute('DELETE FROM analytics_lifecycle_state')).rejects.toThrow(DENIED);
    await expect(as('dlc_ingest').execute('DELETE FROM analytics_lifecycle_state')).rejects.toThrow(DENIED);
    await expect(as('dlc_aggregate').query('SELECT * FROM analytics_staff_state')).rejects.toThrow(DENIED);
    // Act + Assess: retention deletes the events; the state follows in the same statement
    await as('dlc_retention').execute("DELETE FROM analytics_events WHERE id IN ('st-1', 'st-2', 'st-3')");
    expect(await read()).toMatchObject({ activeConversations: 0, staffOnline: 0, pendingTasks: 0 });
    const [left] = await db.direct.query<{ n: number }>(
      `SELECT ((SELECT count(*) FROM analytics_lifecycle_state) + (SELECT count(*) FROM analytics_staff_state))::int AS n`,
    );
    expect(left?.n).toBe(0);
  });

  it('ingest writes events and aggregate recomputes buckets; only retention deletes history', async () => {
    // Prepare: an event written by ingest, an aggregate written by aggregate
    await as('dlc_ingest').execute(
      "INSERT INTO analytics_events (id, event_type, occurred_at, property_id) VALUES ('e-1', 'message.received', '2025-10-28T10:00:00Z', 'p-1')",
    );
    const aggregate = as('dlc_aggregate');
    const [n] = await aggregate.query<{ n: number }>('SELECT count(*)::int AS n FROM analytics_events');
    await aggregate.execute(
      `INSERT INTO agg_message_counts_hourly (period_start, property_id, channel, direction, count)
       VALUES ('2025-10-28T10:00:00Z', 'p-1', 'web', 'inbound', $1::int)`,
      [n?.n ?? 0],
    );
    // aggregate upserts and zeroes buckets, it never deletes them
    await expect(aggregate.execute("DELETE FROM agg_message_counts_hourly WHERE property_id = 'p-2'")).rejects.toThrow(DENIED);
    await expect(as('dlc_ingest').query('SELECT * FROM analytics_events')).rejects.toThrow(DENIED);
    // Act + Assess: every role but retention and privacy (an erasure) is refused DELETE FROM analytics_events and messages
    for (const role of DB_ROLES.map((r) => r.name)) {
      const sql = as(role);
      if (role === 'dlc_retention' || role === 'dlc_privacy') {
        await expect(sql.execute("DELETE FROM analytics_events WHERE id = 'e-1'")).resolves.toEqual({
          rowCount: role === 'dlc_retention' ? 1 : 0,
        });
        await expect(sql.execute('DELETE FROM messages WHERE false')).resolves.toEqual({ rowCount: 0 });
      } else {
        await expect(sql.execute("DELETE FROM analytics_events WHERE id = 'e-1'")).rejects.toThrow(DENIED);
        await expect(sql.execute('DELETE FROM messages WHERE false')).rejects.toThrow(DENIED);
      }
    }
  });
});
