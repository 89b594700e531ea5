/**
 * A thread that comes back after retention moved it (issue 24, soak bug C): the real LangGraph saver
 * writes a session, the archive moves it to PostgreSQL, retention moves it to cold storage; months
 * later the same thread resumes and edits one of its old messages. The archive writes that message
 * again (it is no longer in PostgreSQL), so for a while it is in two places. The next retention run
 * must leave it in exactly one, with its last content, the earlier one kept in `previous_versions` —
 * checked by reading PostgreSQL and the cold objects with DuckDB (not our reader).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AIMessage, type BaseMessage, HumanMessage } from '@langchain/core/messages';
import { END, MessagesAnnotation, START, StateGraph } from '@langchain/langgraph';
import type { Redis } from 'ioredis';
import { archiveCheckpoints } from '../../lambdas/archive/archive';
import { CheckpointStore } from '../../lambdas/archive/redis-store';
import { restore } from '../../lambdas/retention/restore';
import { memoryLog } from '../../lambdas/shared/observability';
import { deadline } from '../../lambdas/shared/runtime';
import type { Sql } from '../../lambdas/shared/sql/types';
import { RETENTION_POLICIES } from '../../lib/config';
import { downloadPrefix, duckQuery } from '../../local/duckdb';
import { putWithAge, seedValue } from '../../local/fixtures';
import { settings, useArchiveWorld } from '../support/archive-harness';
import { DRIVERS, type TestDb } from '../support/db';
import { realSaver } from '../support/real-savers';
import { BUCKET, run, s3 } from '../support/retention-harness';
import { reconcileTestRoles, roleSql } from '../support/roles';

const DAY = 86_400_000;
const THREAD = 'wa:guest:returns-1';

/** One turn of a real graph with the real full saver: the bot answers every turn with a message of its own. */
async function turn(redis: Redis, messages: BaseMessage[], reply: string): Promise<void> {
  const graph = new StateGraph(MessagesAnnotation)
    .addNode('bot', async () => ({ messages: [new AIMessage({ content: `re: ${reply}`, id: `${THREAD}-ai-${reply}` })] }))
    .addEdge(START, 'bot')
    .addEdge('bot', END)
    .compile({ checkpointer: realSaver(redis, 'full') });
  await graph.invoke({ messages }, { configurable: { thread_id: THREAD } });
}

/** The archive as scheduled, at `now`. */
const archiveAt = (sql: Sql, redis: Redis, now: Date) =>
  archiveCheckpoints(
    {
      sql,
      store: new CheckpointStore(redis),
      log: memoryLog(),
      deadline: deadline({ budgetMs: 60_000 }),
      clock: { now: () => now },
    },
    settings,
  );

interface Place {
  where: 'postgres' | 'cold';
  key: string;
  content: string;
}

/** Every message of THREAD in PostgreSQL and in the live cold objects (DuckDB reads the objects). */
async function places(db: TestDb, s: Awaited<ReturnType<typeof s3>>): Promise<Place[]> {
  const pg = await db.direct.query<{ k: string; c: string }>(
    `SELECT m.message_key AS k, m.content AS c FROM messages m JOIN conversations c ON c.id = m.conversation_id
      WHERE c.conversation_key = $1::text`,
    [THREAD],
  );
  const live = await db.direct.query<{ object_key: string }>('SELECT object_key FROM archive_manifest WHERE superseded_at IS NULL');
  const dir = mkdtempSync(join(tmpdir(), 'returns-'));
  try {
    await downloadPrefix(s.client, BUCKET, '', dir);
    const files = (table: string) =>
      live.filter((o) => o.object_key.startsWith(`${table}/`)).map((o) => `'${join(dir, o.object_key).replaceAll("'", "''")}'`);
    const pgIds = await db.direct.query<{ id: string }>('SELECT id::text AS id FROM conversations WHERE conversation_key = $1::text', [
      THREAD,
    ]);
    const ids = new Set(pgIds.map((r) => r.id));
    if (files('conversations').length > 0)
      for (const r of await duckQuery(`SELECT id::text AS id, conversation_key FROM read_parquet([${files('conversations').join(', ')}])`))
        if (r.conversation_key === THREAD) ids.add(String(r.id));
    const cold =
      files('messages').length === 0
        ? []
        : await duckQuery(`SELECT conversation_id::text AS cid, message_key, content FROM read_parquet([${files('messages').join(', ')}])`);
    return [
      ...pg.map((r) => ({ where: 'postgres' as const, key: r.k, content: r.c })),
      ...cold
        .filter((r) => ids.has(String(r.cid)))
        .map((r) => ({ where: 'cold' as const, key: String(r.message_key), content: String(r.content) })),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const byKey = (ps: Place[]) => {
  const out: Record<string, string[]> = {};
  for (const p of ps) out[p.key] = [...(out[p.key] ?? []), `${p.where}: ${p.content}`];
  for (const v of Object.values(out)) v.sort();
  return out;
};

describe.each(DRIVERS)('a thread that comes back after retention moved it (%s driver)', (driver) => {
  let redis: Redis;
  let db: TestDb;
  let s: Awaited<ReturnType<typeof s3>>;
  useArchiveWorld(driver, (w) => ({ redis, db } = w));
  beforeEach(async () => {
    s = await s3();
  });
  afterEach(async () => {
    await s.stop();
  });

  // `conversations`: the emptied conversation row went cold too (the thread comes back under a new id);
  // `messages only`: the conversation row stayed (the thread comes back under its own id).
  it.each([
    ['conversations', undefined],
    ['messages only', ['messages']],
  ] as const)(
    'the edited message is in one place with its last content (retention moved %s; each job as its role)',
    async (_name, tables) => {
      await reconcileTestRoles(db);
      const asArchive = roleSql(db, 'dlc_archive', driver);
      const asRetention = roleSql(db, 'dlc_retention', driver);
      try {
        // Prepare: the first session, archived a day later, moved to cold storage 200 days later.
        const h1 = new HumanMessage({ content: 'Quiero una habitación doble', id: `${THREAD}-h1` });
        await turn(redis, [h1], 'one');
        const dayLater = new Date(Date.now() + DAY);
        expect((await archiveAt(asArchive, redis, dayLater)).counters).toMatchObject({ checkpoints_archived: 1 });
        const monthsLater = new Date(Date.now() + 200 * DAY);
        const first = await run(asRetention, s.store, tables ? { tables } : {}, {}, 600_000, monthsLater);
        expect(first.outcome.counters.rows_exported).toBeGreaterThanOrEqual(2);
        expect(await db.direct.query('SELECT 1 FROM messages')).toHaveLength(0);

        // Act: the thread comes back (its keys left Redis with the archive) and edits h1; archived a day later.
        const edited = new HumanMessage({ content: 'Quiero una habitación individual', id: `${THREAD}-h1` });
        await turn(redis, [edited, new HumanMessage({ content: '¿Y el desayuno?', id: `${THREAD}-h2` })], 'two');
        const back = new Date(Date.now() + DAY);
        const archived = await archiveAt(asArchive, redis, back);
        expect(archived.counters).toMatchObject({ checkpoints_archived: 1, conversations_failed: 0 });
        // The bug's state: h1 twice (the cold version and the edit).
        expect(byKey(await places(db, s))[`${THREAD}-h1`]).toEqual([
          'cold: Quiero una habitación doble',
          'postgres: Quiero una habitación individual',
        ]);
        expect(await db.direct.query('SELECT 1 FROM conversation_returns')).toHaveLength(1);
        const next = await run(asRetention, s.store, tables ? { tables } : {}, {}, 600_000, back);

        // Assess: every message once, h1 with its last content; the earlier one kept beside it.
        expect(next.outcome.counters.versions_folded).toBe(1);
        expect(byKey(await places(db, s))).toEqual({
          [`${THREAD}-h1`]: ['postgres: Quiero una habitación individual'],
          [`${THREAD}-ai-one`]: ['cold: re: one'],
          [`${THREAD}-h2`]: ['postgres: ¿Y el desayuno?'],
          [`${THREAD}-ai-two`]: ['postgres: re: two'],
        });
        const [h1row] = await db.direct.query<{ metadata: { previous_versions?: { content: string }[] } }>(
          'SELECT metadata FROM messages WHERE message_key = $1::text',
          [`${THREAD}-h1`],
        );
        expect(h1row?.metadata.previous_versions?.map((v) => v.content)).toEqual(['Quiero una habitación doble']);
        expect(await db.direct.query('SELECT 1 FROM conversation_returns')).toHaveLength(0);
        // Every live object still matches its manifest, and nothing is outside it.
        expect(next.outcome.counters).toMatchObject({ verification_failures: 0, objects_outside_manifest: 0 });

        // A restore of everything afterwards brings the rest back and still finds h1 once.
        await restore({ sql: asRetention, store: s.store, log: memoryLog(), clock: { now: () => back } }, RETENTION_POLICIES, {
          table: 'messages',
          from: '2000-01-01',
          to: '2100-01-01',
        });
        expect(byKey(await places(db, s))).toEqual({
          [`${THREAD}-h1`]: ['postgres: Quiero una habitación individual'],
          [`${THREAD}-ai-one`]: ['postgres: re: one'],
          [`${THREAD}-h2`]: ['postgres: ¿Y el desayuno?'],
          [`${THREAD}-ai-two`]: ['postgres: re: two'],
        });
      } finally {
        await asArchive.close();
        await asRetention.close();
      }
    },
  );

  it('a cold version met by a restore (no retention run between) is folded too', async () => {
    const h1 = new HumanMessage({ content: 'first words', id: `${THREAD}-h1` });
    await turn(redis, [h1], 'one');
    const dayLater = new Date(Date.now() + DAY);
    await archiveAt(db.sql, redis, dayLater);
    const monthsLater = new Date(Date.now() + 200 * DAY);
    await run(db.sql, s.store, {}, {}, 600_000, monthsLater);
    await turn(redis, [new HumanMessage({ content: 'second words', id: `${THREAD}-h1` })], 'two');
    await archiveAt(db.sql, redis, dayLater);
    const out = await restore({ sql: db.sql, store: s.store, log: memoryLog(), clock: { now: () => dayLater } }, RETENTION_POLICIES, {
      table: 'messages',
      from: '2000-01-01',
      to: '2100-01-01',
      conversation: THREAD,
    });
    expect(out).toMatchObject({ versionsFolded: 1, rowsInserted: 1 });
    expect(byKey(await places(db, s))[`${THREAD}-h1`]).toEqual(['postgres: second words']);
  });

  it('a cold version newer than the live row (an older checkpoint archived after it went cold) wins the fold', async () => {
    // Prepare: the newer checkpoint (25 h old) archived, then moved to cold storage 200 days later.
    const key = (ts: number) => `langgraph:checkpoint:${THREAD}:${ts}`;
    const msg = (content: string) => [
      { id: `${THREAD}-h1`, role: 'user', content, timestamp: new Date(Date.now() - 2 * DAY).toISOString() },
    ];
    const ago = (h: number) => Math.floor((Date.now() - h * 3_600_000) / 1000);
    await putWithAge(redis, key(2), seedValue({ conversationId: THREAD, messages: msg('la doble'), ts: ago(25) }), 25 * 3_600_000);
    await archiveAt(db.sql, redis, new Date());
    await run(db.sql, s.store, { tables: ['messages'] }, {}, 600_000, new Date(Date.now() + 200 * DAY));
    // The older checkpoint (30 h) shows up and is archived: PostgreSQL holds the older text, cold the newer.
    await putWithAge(redis, key(1), seedValue({ conversationId: THREAD, messages: msg('la individual'), ts: ago(30) }), 30 * 3_600_000);
    await archiveAt(db.sql, redis, new Date());
    expect(byKey(await places(db, s))[`${THREAD}-h1`]).toEqual(['cold: la doble', 'postgres: la individual']);
    // Act
    const next = await run(db.sql, s.store, {}, {}, 600_000, new Date());
    // Assess
    expect(next.outcome.counters.versions_folded).toBe(1);
    expect(byKey(await places(db, s))[`${THREAD}-h1`]).toEqual(['postgres: la doble']);
    const [row] = await db.direct.query<{ previous: { content: string }[] }>(
      "SELECT metadata -> 'previous_versions' AS previous FROM messages WHERE message_key = $1::text",
      [`${THREAD}-h1`],
    );
    expect(row?.previous.map((v) => v.content)).toEqual(['la individual']);
  });
});
