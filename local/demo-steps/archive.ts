/** Demo step: realistic checkpoints in both layouts (fresh and expired, two malformed), one archival run. */
import type { Redis } from 'ioredis';
import { formatInZone } from '../../lambdas/shared/time';
import { archiveLocally } from '../archive-run';
import type { DemoContext } from '../demo';
import { HOUR_MS, lc, putWithAge, saverDoc, seedValue } from '../fixtures';
import { SCRIPTS, type Script } from './conversations';

/** Seed 000's message list for a script: `{role, content, timestamp, metadata}`. */
function seedMessages(script: Script, t0: number) {
  return script.turns.map((t, j) => ({
    role: t.role,
    content: t.content,
    timestamp: t0 + j * 40,
    ...(t.toolCall ? { metadata: { tool_calls: [{ name: t.toolCall.name, args: t.toolCall.args, id: `call_${j}` }] } } : {}),
  }));
}

/** The same script as LangChain serialized messages, the way the LangGraph savers store them. */
function lcMessages(script: Script, thread: string) {
  return script.turns.map((t, j) => {
    const id = `${thread}-m${j}`;
    if (t.role === 'user') return lc('HumanMessage', { content: t.content, id });
    if (t.role === 'tool')
      return lc('ToolMessage', { content: t.content, id, tool_call_id: `call_${thread}_${j - 1}`, name: 'check_availability' });
    return lc('AIMessage', {
      content: [{ type: 'text', text: t.content }],
      id,
      tool_calls: t.toolCall ? [{ name: t.toolCall.name, args: t.toolCall.args, id: `call_${thread}_${j}`, type: 'tool_call' }] : [],
      usage_metadata: { input_tokens: 180 + 20 * j, output_tokens: 25 + t.content.length / 4, total_tokens: 205 + 20 * j },
      response_metadata: { model_name: 'gpt-4o-mini' },
    });
  });
}

async function writeCheckpoints(redis: Redis): Promise<void> {
  const now = Date.now();
  // seed 000 layout: 40 expired (23.2–26 h old), 10 fresh; some customers not yet identified
  for (let i = 0; i < 50; i++) {
    const age = i < 40 ? (23.2 + (i % 10) * 0.07) * HOUR_MS : (1 + (i % 10)) * HOUR_MS;
    const id = i === 0 ? 'wa-msg-abc123' : `wa-msg-${i}:${1_000 + i}`;
    const t0 = Math.floor((now - age) / 1000) - 600;
    const script = SCRIPTS[i % SCRIPTS.length] as Script;
    await putWithAge(
      redis,
      `langgraph:checkpoint:${id}:${t0}`,
      seedValue({
        conversationId: id,
        customerId: i % 7 === 0 && i > 0 ? null : `cust-${i}`,
        messages: seedMessages(script, t0),
        summary: script.summary,
        ts: Math.floor((now - age) / 1000),
      }),
      age,
    );
  }
  // LangGraph Redis saver layout: 10 expired threads, 5 active ones
  for (let i = 0; i < 15; i++) {
    const age = i < 10 ? 23.6 * HOUR_MS : 2 * HOUR_MS;
    const thread = `thread-${i}`;
    const script = SCRIPTS[(i + 1) % SCRIPTS.length] as Script;
    await putWithAge(
      redis,
      `checkpoint:${thread}::cp-${i}`,
      saverDoc({ thread, id: `cp-${i}`, tsMs: now - age, messages: lcMessages(script, thread), customerId: `cust-t${i}` }),
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

export async function archiveStep(ctx: DemoContext): Promise<void> {
  await writeCheckpoints(ctx.redis);
  ctx.say(`Redis holds ${await ctx.redis.dbsize()} keys (both checkpoint layouts, fresh and expired, 2 malformed)`);
  ctx.say(
    'The 2 malformed checkpoints are there on purpose: expect an ERROR line for each below (on stderr). They stay in Redis, ' +
      'a copy goes to PostgreSQL (checkpoint_quarantine), and the run counts them as errors — an operator must see them.\n',
  );
  const { result, health } = await archiveLocally({
    sql: ctx.sql,
    redisUrl: ctx.redisUrl,
    ledgerFile: ctx.file('run-ledger.json'),
    healthFile: ctx.file('archiver_health.json'),
    overrides: { retryDelayMs: 500 },
  });
  if (result.status !== 'completed') throw new Error(`run ${result.status}`);

  ctx.say('\nCounters:');
  for (const [k, v] of Object.entries(result.run.counters)) ctx.say(`  ${k.padEnd(26)} ${v}`);
  ctx.say(`\nRedis now holds ${await ctx.redis.dbsize()} keys (fresh checkpoints, active threads, malformed ones)`);
  const rows = await ctx.sql.query<{ timestamp: string; message_role: string; message_content: string }>(
    "SELECT timestamp, message_role, message_content FROM conversation_history WHERE conversation_id = 'wa-msg-abc123' ORDER BY timestamp, id",
  );
  ctx.say("\nSELECT * FROM conversation_history WHERE conversation_id = 'wa-msg-abc123':");
  for (const r of rows) ctx.say(`  ${formatInZone(new Date(r.timestamp), ctx.timeZone)}  ${r.message_role.padEnd(9)} ${r.message_content}`);
  const q = await ctx.sql.query<{ redis_key: string; error: string }>(
    'SELECT redis_key, error FROM checkpoint_quarantine ORDER BY redis_key',
  );
  ctx.say('\nQuarantined (left in Redis, copied here):');
  for (const r of q) ctx.say(`  ${r.redis_key}: ${r.error}`);
  ctx.say(
    result.run.status === 'unhealthy'
      ? `\nHealth record (seed 000): "unhealthy" with ${result.run.errors} errors — the ${result.run.counters.checkpoints_malformed} malformed checkpoints above, on purpose; everything else was archived:`
      : '\nHealth record (seed 000):',
  );
  ctx.say(JSON.stringify(health, null, 2));
}
