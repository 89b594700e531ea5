import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { runCli } from '../../bin/cli';
import { type ColdStoreConfig, openColdStore } from '../../lambdas/retention/cold-store';
import { applyRetention } from '../../lambdas/retention/retention';
import { memoryLog } from '../../lambdas/shared/observability';
import { type Deadline, deadline, JobFailed } from '../../lambdas/shared/runtime';
import { freePort } from '../../local/services';
import { type TestDb, testDb } from '../support/db';
import { BUCKET, clock, s3, settings, withCliEnv } from '../support/retention-harness';

/**
 * Export threads (export-threads.ts): the pg driver only — each thread opens its own connection from
 * a URL (the Data API double lives in the test's own thread).
 */

const DAYS = 8;
const PER_DAY = 45;

/** 8 old days × 45 messages, plus one fresh message. */
async function seed(db: TestDb) {
  await db.direct.execute(`INSERT INTO conversations (id, conversation_key, source, started_at, last_message_at)
    VALUES ('00000000-0000-0000-0000-0000000000b1', 'old', 'live', '2025-01-01', '2025-01-09 12:00+00')`);
  await db.direct.execute(
    `INSERT INTO messages (conversation_id, message_key, role, content, created_at, source, metadata)
     SELECT '00000000-0000-0000-0000-0000000000b1', 'k' || i, 'user', 'text ' || i || ' 🙂',
            '2025-01-01 00:30+00'::timestamptz + ((i % $1::integer) || ' days')::interval + (i || ' seconds')::interval, 'live',
            jsonb_build_object('n', 12345678901234567890 + i)
       FROM generate_series(1, $2::integer) i`,
    [DAYS, DAYS * PER_DAY],
  );
  await db.direct.execute(`INSERT INTO messages (conversation_id, message_key, role, content, created_at, source)
    VALUES ('00000000-0000-0000-0000-0000000000b1', 'fresh', 'user', 'fresh', '2026-11-21 10:00+00', 'live')`);
}

const count = async (db: TestDb) => Number((await db.direct.query<{ n: number }>('SELECT count(*)::int AS n FROM messages'))[0]?.n);

/** The manifest as a comparable list: key, rows, SHA-256 (deterministic keys: the same data gives the same list). */
const manifest = async (db: TestDb) =>
  db.direct.query<{ object_key: string; row_count: number; sha256: string }>(
    "SELECT object_key, row_count::int, sha256 FROM archive_manifest WHERE table_name = 'messages' ORDER BY object_key",
  );

describe('retention on export threads (pg driver)', () => {
  let db: TestDb;
  let s: Awaited<ReturnType<typeof s3>>;
  let storeConfig: ColdStoreConfig;
  beforeEach(async () => {
    db = await testDb('pg');
    s = await s3();
    storeConfig = {
      bucket: BUCKET,
      endpoint: s.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    };
  });
  afterEach(async () => {
    await s.stop();
    await db.close();
  });

  const threads = (store = storeConfig) => ({ threads: 2, sql: { driver: 'pg' as const, url: db.url, ssl: false }, store });
  /** The messages table on two threads, objects of at most 20 rows; `over` changes the deps (deadline, store). */
  const onThreads = (runId: string, over: Partial<Parameters<typeof applyRetention>[0]> = {}) =>
    applyRetention(
      {
        sql: db.sql,
        store: s.store,
        log: memoryLog(),
        deadline: deadline({ budgetMs: 600_000 }, 0),
        clock,
        runId,
        threads: threads(),
        ...over,
      },
      settings({ maxRowsPerObject: 20 }),
      { tables: ['messages'] },
    );

  it('two threads: every expired row exported, verified and deleted once; the same objects as the inline export', async () => {
    await seed(db);
    const log = memoryLog();
    const progress: number[] = [];
    const out = await applyRetention(
      {
        sql: db.sql,
        store: s.store,
        log,
        deadline: deadline({ budgetMs: 600_000 }, 0),
        clock,
        runId: 'threads',
        threads: threads(),
        onProgress: (p) => progress.push(p.rowsDone),
      },
      settings({ maxRowsPerObject: 20, pageRows: 7 }),
      { tables: ['messages'] },
    );
    const total = DAYS * PER_DAY;
    expect(out.counters).toMatchObject({ rows_exported: total, rows_deleted: total, verification_failures: 0, objects_changed: 0 });
    expect(out.counters.objects_written).toBe(DAYS * Math.ceil(PER_DAY / 20));
    expect(out.tables[0]?.workRemaining).toBe(false);
    expect(await count(db)).toBe(1); // the fresh one
    expect(progress.at(-1)).toBe(total);
    // Both threads took days (each day once).
    const days = log.lines.filter((l) => l.message === 'Day done on an export thread').map((l) => l.extra);
    expect(new Set(days.map((d) => d?.exportThread))).toEqual(new Set([0, 1]));
    expect(days.map((d) => d?.day).sort()).toEqual(Array.from({ length: DAYS }, (_, i) => `2025-01-0${i + 1}`));
    const perThread = out.tables[0]?.exportThreads ?? [];
    expect(perThread.map((t) => t.thread)).toEqual([0, 1]);
    expect(perThread.reduce((a, t) => a + t.days, 0)).toBe(DAYS);
    expect(perThread.reduce((a, t) => a + t.rowsExported, 0)).toBe(total);
    for (const t of perThread) expect(t.exportMs).toBeGreaterThan(0);
    const threaded = await manifest(db);
    expect(threaded).toHaveLength(out.counters.objects_written);
    expect(threaded.reduce((a, m) => a + m.row_count, 0)).toBe(total);
    const listed = await s.client.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual(threaded.map((m) => m.object_key));

    // The same data exported inline (another database, another bucket) gives the same objects.
    const db2 = await testDb('pg');
    const s2 = await s3();
    try {
      await seed(db2);
      const inline = await applyRetention(
        { sql: db2.sql, store: s2.store, log: memoryLog(), deadline: deadline({ budgetMs: 600_000 }, 0), clock, runId: 'inline' },
        settings({ maxRowsPerObject: 20, pageRows: 7 }),
        { tables: ['messages'] },
      );
      // Bytes aside: each database stamps its own insert time (its text's length varies).
      expect({ ...inline.counters, bytes_written: 0 }).toEqual({ ...out.counters, bytes_written: 0 });
      // Same keys and row counts (the SHA-256s differ: each database stamps its own insert time).
      const strip = (ms: { object_key: string; row_count: number }[]) => ms.map((m) => [m.object_key, m.row_count]);
      expect(strip(await manifest(db2))).toEqual(strip(threaded));
    } finally {
      await s2.stop();
      await db2.close();
    }
  });

  it('the deadline: the threads stop between objects, work remaining is reported; the next run finishes, nothing twice', async () => {
    await seed(db);
    let checks = 0;
    const soon: Deadline = { remainingMs: () => 0, shouldStop: () => ++checks > 6 };
    const first = await onThreads('r1', { deadline: soon });
    expect(first.workRemaining).toBe(true);
    expect(first.counters.rows_deleted).toBeGreaterThan(0);
    expect(first.counters.rows_deleted).toBeLessThan(DAYS * PER_DAY);
    expect(first.counters.rows_deleted).toBe(first.counters.rows_exported);
    expect(await count(db)).toBe(DAYS * PER_DAY + 1 - first.counters.rows_deleted);

    const second = await onThreads('r2');
    expect(second.workRemaining).toBe(false);
    expect(await count(db)).toBe(1);
    const all = await manifest(db);
    expect(new Set(all.map((m) => m.object_key)).size).toBe(all.length);
    expect(all.reduce((a, m) => a + m.row_count, 0)).toBe(DAYS * PER_DAY);
  });

  it('S3 unreachable: the run fails with the error, nothing is deleted, the threads end; the next run completes', async () => {
    await seed(db);
    const dead = { ...storeConfig, endpoint: `http://127.0.0.1:${await freePort()}` };
    const failed = onThreads('r1', { store: openColdStore(dead), threads: threads(dead) });
    await expect(failed).rejects.toBeInstanceOf(JobFailed);
    await expect(failed).rejects.toMatchObject({ cause: { message: expect.stringMatching(/ECONNREFUSED|connect/) } });
    expect(await count(db)).toBe(DAYS * PER_DAY + 1);
    expect(await manifest(db)).toEqual([]);

    const again = await onThreads('r2');
    expect(again.counters.rows_deleted).toBe(DAYS * PER_DAY);
    expect(await count(db)).toBe(1);
  });

  it('npm run retention -- --threads 2 --json: the same job from the command line; a bad --threads is bad usage (2)', async () => {
    await seed(db);
    const dir = mkdtempSync(join(tmpdir(), 'dlc-threads-cli-'));
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const error = jest.spyOn(console, 'error').mockImplementation(() => {});
    try {
      await withCliEnv(
        db.url,
        s.url,
        async () => {
          const args = ['retention', '--table', 'messages', '--json', '--ledger-file', join(dir, 'ledger.json')];
          expect(await runCli([...args, '--threads', '0'])).toBe(2);
          expect(String(error.mock.calls[0]?.[0])).toMatch(/--threads/);
          expect(await count(db)).toBe(DAYS * PER_DAY + 1);
          expect(await runCli([...args, '--threads', '2'])).toBe(0);
          const printed = JSON.parse(out.mock.calls.map((c) => String(c[0])).join(''));
          expect(printed.run.status).toBe('healthy');
          expect(printed.tables[0]).toMatchObject({ table: 'messages', rowsExported: DAYS * PER_DAY, rowsDeleted: DAYS * PER_DAY });
          expect(await count(db)).toBe(1);
        },
        BUCKET,
      );
    } finally {
      out.mockRestore();
      err.mockRestore();
      error.mockRestore();
      rmSync(dir, { recursive: true, force: true });
      process.exitCode = undefined;
    }
  });
});
