/**
 * Demo step: part of the demo's conversations aged past retention, exported to a private S3
 * (s3rver) as Parquet, the manifest shown, the cold objects queried with DuckDB, one conversation
 * restored; then one person's data found, exported and erased (privacy.ts).
 */
import { rmSync } from 'node:fs';
import { S3ColdStore, s3Client } from '../../lambdas/retention/cold-store';
import { restore } from '../../lambdas/retention/restore';
import { applyRetention } from '../../lambdas/retention/retention';
import { memoryLog } from '../../lambdas/shared/observability';
import { deadline } from '../../lambdas/shared/runtime';
import { getEnvironment } from '../../lib/config';
import type { DemoContext } from '../demo';
import { downloadPrefix, duckQuery } from '../duckdb';
import { startS3 } from '../services';
import { privacyStep } from './privacy';

const many = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

export async function retentionStep(ctx: DemoContext): Promise<void> {
  const bucket = 'dlc-demo-cold';
  const s3 = await startS3([bucket]);
  const client = s3Client(s3.url, { credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, region: 'us-east-1' });
  const store = new S3ColdStore(client, bucket);
  const settings = getEnvironment('dev').retention;
  try {
    // Age a third of the conversations (and their messages) by 200 days: past the 180-day policy.
    const aged = await ctx.sql.query<{ conversation_key: string }>(
      `WITH picked AS (SELECT id FROM conversations ORDER BY conversation_key LIMIT (SELECT greatest(1, count(*) / 3) FROM conversations)),
            m AS (UPDATE messages SET created_at = created_at - interval '200 days' WHERE conversation_id IN (SELECT id FROM picked))
       UPDATE conversations c SET started_at = started_at - interval '200 days', last_message_at = last_message_at - interval '200 days'
        WHERE id IN (SELECT id FROM picked) RETURNING conversation_key`,
    );
    const [counts] = await ctx.sql.query<{ c: number; m: number }>(
      `SELECT (SELECT count(*) FROM conversations)::int AS c, (SELECT count(*) FROM messages)::int AS m`,
    );
    ctx.say(`Aged ${aged.length} of ${counts?.c} conversations by 200 days (policy: messages and conversations after 180 days).`);

    const deps = { sql: ctx.sql, store, log: memoryLog(), deadline: deadline(undefined), runId: 'demo' };
    const dry = await applyRetention(deps, settings, { dryRun: true, tables: ['messages', 'conversations'] });
    for (const t of dry.tables)
      ctx.say(
        `Dry run — ${t.table}: ${many(
          t.days.reduce((a, d) => a + d.rows, 0),
          'row',
        )} over ${many(t.days.length, 'day')} would go now (cutoff ${t.cutoff}; a conversation waits until its messages are gone)`,
      );
    // Messages first: a conversation goes only once it has no messages left.
    const done = await applyRetention(deps, settings, { tables: ['messages', 'conversations'] });
    for (const t of done.tables)
      ctx.say(
        `Exported → verified → deleted — ${t.table}: ${many(t.rowsExported, 'row')} in ${many(t.objectsWritten, 'Parquet object')} (${t.bytesWritten} bytes), ${t.rowsDeleted} deleted`,
      );

    const manifest = await ctx.sql.query<{ table_name: string; object_key: string; row_count: number; bytes: number; sha256: string }>(
      'SELECT table_name, object_key, row_count, bytes, sha256 FROM archive_manifest ORDER BY table_name, object_key LIMIT 6',
    );
    ctx.say('\narchive_manifest (first rows):');
    for (const m of manifest)
      ctx.say(
        `  ${m.table_name.padEnd(14)} s3://${bucket}/${m.object_key}  ${m.row_count} rows  ${m.bytes} B  sha256 ${m.sha256.slice(0, 12)}…`,
      );

    const dir = ctx.file('cold');
    await downloadPrefix(client, bucket, '', dir);
    const rows = await duckQuery(
      `SELECT day, count(*)::INTEGER AS messages, count(DISTINCT conversation_id)::INTEGER AS conversations, min(created_at) AS first, max(created_at) AS last
         FROM read_parquet('${dir}/messages/**/*.parquet', hive_partitioning = true) GROUP BY day ORDER BY day LIMIT 5`,
    );
    ctx.say('\nDuckDB over the Parquet objects (messages per day):');
    for (const r of rows) ctx.say(`  day=${r.day}  ${r.messages} messages, ${r.conversations} conversations, ${r.first} → ${r.last}`);
    rmSync(dir, { recursive: true, force: true });

    const key = aged[0]?.conversation_key;
    if (key) {
      const restored = await restore({ sql: ctx.sql, store, log: memoryLog() }, settings.policies, {
        table: 'messages',
        from: '1900-01-01',
        to: '2100-01-01',
        conversation: key,
      });
      const [back] = await ctx.sql.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.conversation_key = $1::text',
        [key],
      );
      ctx.say(
        `\nRestored conversation ${key}: the conversation first (${restored.conversations?.rowsInserted ?? 0} row), then ${restored.rowsInserted} messages; ${back?.n} messages of it are in PostgreSQL again,`,
      );
      ctx.say(
        `moved, not copied: ${restored.objectsSuperseded} object(s) rewritten without them (${restored.objectsWritten} successor(s)), the old ones removed; held in PostgreSQL until ${restored.heldUntil}.`,
      );
    }
    const other = aged[1]?.conversation_key;
    if (other) await privacyStep(ctx, store, other);
  } finally {
    await s3.stop();
  }
}
