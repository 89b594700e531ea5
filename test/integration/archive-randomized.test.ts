/**
 * The delete rule under random interference. Real saver output (a real StateGraph with the real
 * JS savers); before the run random keys of random threads are removed, corrupted, retyped or
 * rewritten, and DURING the run a second client acting as the app keeps doing so. Whatever
 * happened, every thread either has all its declared messages in PostgreSQL, or still has its
 * keys in Redis, or a quarantine copy. The seed is printed (and can be fixed with ARCHIVE_SEED)
 * so a failure replays.
 */
import type { Redis } from 'ioredis';
import { archiveCheckpoints } from '../../lambdas/archive/archive';
import { CheckpointStore } from '../../lambdas/archive/redis-store';
import { memoryLog } from '../../lambdas/shared/observability';
import { deadline } from '../../lambdas/shared/runtime';
import { redisClient, settings, useArchiveWorld } from '../support/archive-harness';
import type { TestDb } from '../support/db';
import { runRealConversation } from '../support/real-savers';

function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4_294_967_296;
  };
}

// The SQL here is the archive's own, covered for both drivers elsewhere; this test is about Redis.
describe('the delete rule under random interference (pg driver)', () => {
  let redis: Redis;
  let db: TestDb;
  useArchiveWorld('pg', (w) => ({ redis, db } = w));

  // 854436 failed once under load (JobFailed: WRONGTYPE, a key retyped between TYPE and ZRANGE): kept as
  // a fixed seed; the deterministic case is archive-failures' "a key that changes type while it is read"
  const seeds = process.env.ARCHIVE_SEED
    ? [Number(process.env.ARCHIVE_SEED)]
    : [854436, Date.now() % 1_000_000, (Date.now() * 7) % 1_000_000];

  it.each(seeds)('seed %i: every thread is archived whole, or kept, or quarantined', async (seed) => {
    console.log(`archive randomized test seed=${seed} (replay: ARCHIVE_SEED=${seed})`);
    const random = rng(seed);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)] as T;
    // Prepare: real conversations, full and shallow
    const declared = new Map<string, Set<string>>();
    for (let i = 0; i < 6; i++) {
      const thread = `wa:msg:r${i}`;
      const state = await runRealConversation(redis, i % 3 === 2 ? 'shallow' : 'full', thread);
      declared.set(thread, new Set(state.messages.map((m) => m.id as string)));
    }
    const threadOf = (key: string) => [...declared.keys()].find((t) => key.includes(`:${t}:`));
    const original = new Set(await redis.keys('*'));
    const app = await redisClient(`redis://127.0.0.1:${redis.options.port}`);
    const removedByApp = new Set<string>();
    let extra = 0;
    const actions: string[] = [];
    /** Messages the app added to blobs: declared only while the documents that reference them are intact. */
    const blobExtras: { thread: string; id: string; key: string }[] = [];
    // The blobs a checkpoint loads its messages from (the JS saver reads a blob only for a channel not inline).
    const loaded = new Set<string>();
    for (const key of original) {
      if (!key.startsWith('checkpoint:')) continue;
      const doc = JSON.parse((await redis.get(key)) as string);
      const v = doc.checkpoint?.channel_versions?.messages;
      const ns = key.slice(`checkpoint:${doc.thread_id}:`.length).split(':').slice(0, -1).join(':');
      if (v !== undefined && !('messages' in (doc.checkpoint?.channel_values ?? {})))
        loaded.add(`checkpoint_blob:${doc.thread_id}:${ns}:messages:${v}`);
    }
    const docsHit = new Set<string>();
    const interfere = async () => {
      const keys = (await app.keys('*')).sort();
      if (keys.length === 0) return;
      const key = pick(keys);
      const thread = threadOf(key);
      const action = pick(['remove', 'corrupt', 'retype', 'rewrite', 'rewrite'] as const);
      actions.push(`${action} ${key}`);
      if (action !== 'rewrite' && key.startsWith('checkpoint:') && thread) docsHit.add(thread);
      if (action === 'remove') {
        await app.del(key);
        removedByApp.add(key);
      } else if (action === 'corrupt') await app.set(key, '{"thread_id": "x", "checkpoint": ', 'KEEPTTL');
      else if (action === 'retype') {
        await app.del(key);
        await app.hset(key, 'f', 'v');
      } else {
        const raw = await app.get(key).catch(() => null);
        if (!raw || !thread) return;
        try {
          const doc = JSON.parse(raw);
          const list = doc?.checkpoint?.channel_values?.messages ?? (Array.isArray(doc?.value) ? doc.value : undefined);
          if (!Array.isArray(list)) return;
          const id = `extra-${++extra}`;
          list.push({ lc: 1, type: 'constructor', id: ['langchain_core', 'messages', 'HumanMessage'], kwargs: { content: 'más', id } });
          await app.set(key, JSON.stringify(doc), 'KEEPTTL');
          // pending writes (checkpoint_write:) are not declared by any checkpoint; documents and blobs are
          if (key.startsWith('checkpoint:')) declared.get(thread)?.add(id);
          else if (key.startsWith('checkpoint_blob:')) blobExtras.push({ thread, id, key });
        } catch {
          /* not JSON: nothing to rewrite */
        }
      }
    };
    for (let i = 0; i < 4; i++) await interfere();
    if (process.env.ARCHIVE_SEED) console.log(actions.join('\n'));
    const store = new CheckpointStore(redis);
    const read = store.read.bind(store);
    store.read = async (keys) => {
      const entries = await read(keys);
      if (random() < 0.5) await interfere(); // the app, during the run
      return entries;
    };
    // Act: a day later, small batches so the app interferes between stages
    const later = new Date(Date.now() + 24 * 3_600_000);
    await archiveCheckpoints(
      { sql: db.sql, store, log: memoryLog(), deadline: deadline({ budgetMs: 60_000 }), clock: { now: () => later } },
      { ...settings, batchSize: 2 },
    );
    await app.quit();
    for (const { thread, id, key } of blobExtras) if (!docsHit.has(thread) && loaded.has(key)) declared.get(thread)?.add(id);
    // Assess
    const left = new Set(await redis.keys('*'));
    const quarantined = new Set(
      (await db.direct.query<{ redis_key: string }>('SELECT redis_key FROM checkpoint_quarantine')).map((r) => r.redis_key),
    );
    for (const [thread, ids] of declared) {
      const deletedByArchive = [...original].filter((k) => threadOf(k) === thread && !left.has(k) && !removedByApp.has(k));
      if (deletedByArchive.length === 0) continue; // kept whole (or only the app removed keys)
      const rows = await db.direct.query<{ message_key: string }>(
        'SELECT m.message_key FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.conversation_key = $1::text',
        [thread],
      );
      const stored = new Set(rows.map((r) => r.message_key));
      const missing = [...ids].filter((id) => !stored.has(id) && !id.startsWith('extra-'));
      const copies = deletedByArchive.filter((k) => quarantined.has(k));
      if (missing.length > 0)
        expect({ seed, thread, missing, copies: copies.length }).toEqual({ seed, thread, missing, copies: deletedByArchive.length });
      // a message the app added to a document the archive then deleted is in PostgreSQL
      for (const id of [...ids].filter((x) => x.startsWith('extra-'))) {
        const inDeletedDoc = deletedByArchive.length > 0 && !stored.has(id);
        if (inDeletedDoc) {
          const stillThere = [...left].some((k) => threadOf(k) === thread);
          expect({ seed, thread, id, keptInRedis: stillThere || copies.length > 0 }).toEqual({ seed, thread, id, keptInRedis: true });
        }
      }
    }
  });
});
