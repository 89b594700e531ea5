/**
 * `npm start`: the main job on embedded defaults. Starts a private PostgreSQL 17 and Redis,
 * writes a realistic mix of checkpoints (both layouts, fresh and expired, some malformed),
 * runs one archival, prints what happened, and cleans up.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadMigrations, migrate } from '../lambdas/shared/migrate';
import { PgSql } from '../lambdas/shared/sql/pg-driver';
import { formatInZone } from '../lambdas/shared/time';
import { getEnvironment } from '../lib/config';
import { archiveLocally } from './archive-run';
import { HOUR_MS, lc, putWithAge, saverDoc, seedValue, sentence } from './fixtures';
import { startPostgres, startRedis } from './services';

async function writeCheckpoints(redis: Redis): Promise<void> {
  const now = Date.now();
  // seed 000 layout: 40 expired (23.2–26 h old), 10 fresh, one with an unidentified customer and a summary
  for (let i = 0; i < 50; i++) {
    const age = i < 40 ? (23.2 + (i % 10) * 0.07) * HOUR_MS : (1 + (i % 10)) * HOUR_MS;
    const id = i === 0 ? 'wa-msg-abc123' : `wa-msg-${i}:${1_000 + i}`;
    const t0 = Math.floor((now - age) / 1000) - 600;
    const messages = Array.from({ length: 4 + (i % 6) }, (_, j) => ({
      role: j % 2 ? 'assistant' : 'user',
      content: sentence(i * 100 + j),
      timestamp: t0 + j * 30,
    }));
    await putWithAge(
      redis,
      `langgraph:checkpoint:${id}:${t0}`,
      seedValue({
        conversationId: id,
        customerId: i % 7 === 0 ? null : `cust-${i}`,
        messages,
        summary: i === 0 ? 'Cliente pide cita para corte de pelo mañana.' : undefined,
        ts: Math.floor((now - age) / 1000),
      }),
      age,
    );
  }
  // LangGraph Redis saver layout: 10 expired threads, 5 active ones
  for (let i = 0; i < 15; i++) {
    const age = i < 10 ? 23.6 * HOUR_MS : 2 * HOUR_MS;
    const thread = `thread-${i}`;
    const msgs = [
      lc('HumanMessage', { content: sentence(i + 7), id: `${thread}-h1` }),
      lc('AIMessage', {
        content: [{ type: 'text', text: sentence(i + 8) }],
        id: `${thread}-a1`,
        usage_metadata: { input_tokens: 50 + i, output_tokens: 20 },
        response_metadata: { model_name: 'gpt-4o-mini' },
      }),
    ];
    await putWithAge(
      redis,
      `checkpoint:${thread}::cp-${i}`,
      saverDoc({ thread, id: `cp-${i}`, tsMs: now - age, messages: msgs, customerId: `cust-t${i}` }),
      age,
    );
    await putWithAge(redis, `checkpoint_latest:${thread}:`, `checkpoint:${thread}::cp-${i}`, age);
  }
  // malformed: kept in Redis, quarantined in PostgreSQL
  await putWithAge(redis, 'langgraph:checkpoint:broken-1:1698765432', '{"v":1,"data":{"messages":', 23.5 * HOUR_MS);
  await putWithAge(
    redis,
    'checkpoint:thread-broken::cp-x',
    JSON.stringify({ thread_id: 'thread-broken', checkpoint: 'not json' }),
    23.5 * HOUR_MS,
  );
}

export async function demo(): Promise<number> {
  console.log('Starting a private PostgreSQL 17 and Redis…');
  const pg = await startPostgres({ forceLocal: true });
  const redisServer = await startRedis({ forceLocal: true });
  const work = mkdtempSync(join(tmpdir(), 'dlc-demo-'));
  const sql = new PgSql({ connectionString: pg.url });
  const redis = new Redis(redisServer.url);
  try {
    const m = await migrate(sql, loadMigrations(join(__dirname, '..', 'sql')));
    console.log(`Migrations applied: ${m.applied.join(', ')}`);
    await writeCheckpoints(redis);
    console.log(`Redis holds ${await redis.dbsize()} keys (both checkpoint layouts, fresh and expired, 2 malformed)\n`);

    const { result, health } = await archiveLocally({
      sql,
      redisUrl: redisServer.url,
      ledgerFile: join(work, 'run-ledger.json'),
      healthFile: join(work, 'archiver_health.json'),
      overrides: { retryDelayMs: 500 },
    });
    if (result.status !== 'completed') throw new Error(`run ${result.status}`);

    console.log('\nCounters:');
    for (const [k, v] of Object.entries(result.run.counters)) console.log(`  ${k.padEnd(26)} ${v}`);
    console.log(`\nRedis now holds ${await redis.dbsize()} keys (fresh checkpoints, active threads, malformed ones)`);
    const rows = await sql.query<{ timestamp: string; message_role: string; message_content: string; customer_id: string | null }>(
      "SELECT timestamp, message_role, message_content, customer_id FROM conversation_history WHERE conversation_id = 'wa-msg-abc123' ORDER BY timestamp, id",
    );
    console.log("\nSELECT * FROM conversation_history WHERE conversation_id = 'wa-msg-abc123':");
    for (const r of rows)
      console.log(
        `  ${formatInZone(new Date(r.timestamp), getEnvironment('dev').archive.schedule.timeZone)}  ${r.message_role.padEnd(9)} ${r.message_content}`,
      );
    const q = await sql.query<{ redis_key: string; error: string }>(
      'SELECT redis_key, error FROM checkpoint_quarantine ORDER BY redis_key',
    );
    console.log('\nQuarantined (left in Redis, copied here):');
    for (const r of q) console.log(`  ${r.redis_key}: ${r.error}`);
    console.log('\nHealth record (seed 000):');
    console.log(JSON.stringify(health, null, 2));
    return 0;
  } finally {
    redis.disconnect();
    await sql.close();
    await redisServer.stop();
    await pg.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
