/**
 * Backfill benchmark: N audits over M leads, backfilled end to end with the pg driver, beside a
 * naive per-audit baseline (seed 003's script: one lookup and one insert per audit); then search
 * latency (p50/p95) over the resulting messages.
 */
import { type BackfillResult, backfill } from '../lambdas/backfill/backfill';
import { searchMessages } from '../lambdas/backfill/search';
import { memoryLog } from '../lambdas/shared/observability';
import { deadline, systemClock } from '../lambdas/shared/runtime';
import type { PgSql } from '../lambdas/shared/sql/pg-driver';
import { RssSampler } from './rss';

/** Leads and audits generated inside PostgreSQL: Zipf-like words in Spanish and English sentences. */
export async function generate(sql: PgSql, leads: number, auditsPerLead: number, idOffset: number): Promise<void> {
  await sql.execute(
    `INSERT INTO leads (id, customer_id, channel, phone, stage, created_at)
     SELECT ('00000000-0000-4000-8000-' || lpad((g + $2::int)::text, 12, '0'))::uuid, 'cust-' || (g + $2::int), 'whatsapp',
            '+346' || lpad(g::text, 8, '0'), (ARRAY['new','qualified','done','lost'])[1 + g % 4], timestamptz '2025-01-01' + g * interval '1 minute'
     FROM generate_series(1, $1::int) g`,
    [leads, idOffset],
  );
  await sql.execute('SELECT setseed(0.42)');
  await sql.execute(
    `WITH syl AS (SELECT ARRAY['ra','me','lo','pe','ci','ta','no','vi','sa','du','ke','mo','ri','te','la','fo','gu','ba','ne','zo'] AS s)
     INSERT INTO audits (lead_id, actor, action, payload, created_at)
     SELECT ('00000000-0000-4000-8000-' || lpad((1 + (g / $2::int) + $3::int)::text, 12, '0'))::uuid,
            CASE WHEN g % 20 = 0 THEN 'admin' WHEN g % 20 = 1 THEN 'system' WHEN g % 2 = 0 THEN 'customer' ELSE 'agent' END,
            CASE WHEN g % 2 = 0 THEN 'message_received' ELSE 'message_sent' END,
            jsonb_build_object(CASE WHEN g % 3 = 0 THEN 'message' ELSE 'text' END,
              CASE WHEN g % 2 = 0 THEN 'Hola, quiero ' ELSE 'Hello, I would like ' END ||
              (SELECT string_agg(s[1 + w % 20] || s[1 + (w / 20) % 20] || s[1 + (w / 400) % 20], ' ')
               FROM syl, (SELECT floor(power(8000, random()))::int + g * 0 AS w FROM generate_series(1, 10)) ws)),
            timestamptz '2025-01-01' + g * interval '2 seconds'
     FROM generate_series(0, $1::int - 1) g`,
    [leads * auditsPerLead, auditsPerLead, idOffset],
  );
  await sql.execute('ANALYZE leads');
  await sql.execute('ANALYZE audits');
}

/** Seed 003's script, transcribed: per audit, find the lead and the conversation, insert one message. */
async function naive(sql: PgSql, fromLead: number, leads: number): Promise<number> {
  const audits = await sql.query<{ id: string; lead_id: string; actor: string; action: string; payload: unknown; created_at: string }>(
    `SELECT id, lead_id, actor, action, payload, created_at FROM audits
     WHERE lead_id BETWEEN $1::uuid AND $2::uuid ORDER BY created_at`,
    [
      { sqlType: 'uuid', value: `00000000-0000-4000-8000-${String(fromLead).padStart(12, '0')}` },
      { sqlType: 'uuid', value: `00000000-0000-4000-8000-${String(fromLead + leads - 1).padStart(12, '0')}` },
    ],
  );
  let created = 0;
  const roles: Record<string, string> = {
    customer: 'user',
    user: 'user',
    agent: 'assistant',
    assistant: 'assistant',
    system: 'system',
    tool: 'tool',
  };
  for (const a of audits) {
    const role = roles[a.actor];
    if (!role) continue;
    const [lead] = await sql.query<{ id: string; customer_id: string; channel: string; phone: string; created_at: string }>(
      'SELECT id, customer_id, channel, phone, created_at FROM leads WHERE id = $1::uuid',
      [{ sqlType: 'uuid', value: a.lead_id }],
    );
    if (!lead) continue;
    let [conv] = await sql.query<{ id: string }>('SELECT id FROM conversations WHERE conversation_key = $1::text', [`lead:${lead.id}`]);
    if (!conv) {
      [conv] = await sql.query<{ id: string }>(
        `INSERT INTO conversations (conversation_key, source, channel, customer_id, lead_id, external_id, started_at)
         VALUES ($1::text, 'audit_backfill', $2::text, $3::text, $4::uuid, $5::text, $6::timestamptz) RETURNING id`,
        [`lead:${lead.id}`, lead.channel, lead.customer_id, { sqlType: 'uuid', value: lead.id }, lead.phone, lead.created_at],
      );
    }
    const p = a.payload as Record<string, unknown>;
    const text = (p.text ?? p.message ?? p.content ?? p.body ?? JSON.stringify(p).slice(0, 1000)) as string;
    const r = await sql.execute(
      `INSERT INTO messages (conversation_id, message_key, role, content, created_at, source, metadata, language)
       VALUES ($1::uuid, $2::text, $3::text, $4::text, $5::timestamptz, 'audit_backfill', $6::jsonb, detect_language($4::text)) ON CONFLICT DO NOTHING`,
      [
        { sqlType: 'uuid', value: conv?.id },
        `audit:${a.id}`,
        role,
        text,
        a.created_at,
        { sqlType: 'jsonb', value: { auditId: a.id, source: 'audit_backfill' } },
      ],
    );
    created += r.rowCount;
  }
  return created;
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

export interface BackfillBenchResult {
  audits: number;
  leads: number;
  seconds: number;
  auditsPerSecond: number;
  messages: number;
  peakRssMb: number;
  baseline: { leads: number; audits: number; seconds: number; auditsPerSecond: number };
  speedup: number;
  search: { messages: number; queries: number; p50Ms: number; p95Ms: number; commonWord: string; commonWordP95Ms: number };
}

export async function benchBackfill(sql: PgSql, leads: number, auditsPerLead: number, baselineLeads: number): Promise<BackfillBenchResult> {
  await generate(sql, leads, auditsPerLead, 0);
  const sampler = new RssSampler();
  const t0 = performance.now();
  let r: BackfillResult = await backfill(
    { sql, log: memoryLog(), deadline: deadline({ budgetMs: 3_600_000 }), clock: systemClock, runId: 'bench' },
    { mode: 'apply' },
  );
  while (!r.done)
    r = await backfill(
      { sql, log: memoryLog(), deadline: deadline({ budgetMs: 3_600_000 }), clock: systemClock, runId: 'bench' },
      { mode: 'apply', cursor: r.cursor },
    );
  const seconds = (performance.now() - t0) / 1000;
  const peak = sampler.stop();

  // the baseline on fresh leads of its own
  await generate(sql, baselineLeads, auditsPerLead, leads + 10);
  const t1 = performance.now();
  await naive(sql, leads + 11, baselineLeads);
  const baseSeconds = (performance.now() - t1) / 1000;
  const baseAudits = baselineLeads * auditsPerLead;

  // search over everything
  await sql.execute('ANALYZE messages');
  const [{ n } = { n: 0 }] = await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM messages');
  const words = await sql.query<{ word: string }>(
    `SELECT word FROM ts_stat('SELECT search_vector FROM messages TABLESAMPLE SYSTEM (1)') WHERE length(word) = 6 ORDER BY md5(word) LIMIT 200`,
  );
  const times: number[] = [];
  for (const [i, { word }] of words.entries()) {
    const text = i % 4 === 0 ? `${word} ${words[(i + 1) % words.length]?.word ?? ''}` : word;
    const s = performance.now();
    await searchMessages(sql, { text, limit: 20 });
    times.push(performance.now() - s);
  }
  times.sort((a, b) => a - b);
  const [top] = await sql.query<{ word: string }>(
    `SELECT word FROM ts_stat('SELECT search_vector FROM messages TABLESAMPLE SYSTEM (1)') WHERE length(word) = 6 ORDER BY ndoc DESC LIMIT 1`,
  );
  const common: number[] = [];
  for (let i = 0; i < 20; i++) {
    const s = performance.now();
    await searchMessages(sql, { text: top?.word ?? 'hola', limit: 20 });
    common.push(performance.now() - s);
  }
  common.sort((a, b) => a - b);
  const audits = leads * auditsPerLead;
  return {
    audits,
    leads,
    seconds,
    auditsPerSecond: audits / seconds,
    messages: r.totals.messagesCreated,
    peakRssMb: peak,
    baseline: { leads: baselineLeads, audits: baseAudits, seconds: baseSeconds, auditsPerSecond: baseAudits / baseSeconds },
    speedup: audits / seconds / (baseAudits / baseSeconds),
    search: {
      messages: n,
      queries: times.length,
      p50Ms: percentile(times, 0.5),
      p95Ms: percentile(times, 0.95),
      commonWord: top?.word ?? 'hola',
      commonWordP95Ms: percentile(common, 0.95),
    },
  };
}
