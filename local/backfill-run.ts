/**
 * `npm run backfill`: runs the backfill to the end, locally against DATABASE_URL or by invoking
 * the deployed Lambda (`--env prod`), with a progress bar, then prints seed 003's statistics.
 */
import { type BackfillFilters, type BackfillMode, type BackfillRequest, type BackfillResult, backfill } from '../lambdas/backfill/backfill';
import { FileRunLedger } from '../lambdas/shared/ledger/file';
import { memoryLog, memoryMetrics } from '../lambdas/shared/observability';
import { deadline, runExclusive, systemClock } from '../lambdas/shared/runtime';
import { p, type Sql } from '../lambdas/shared/sql/types';
import { formatSeconds } from '../lambdas/shared/time';

export interface BackfillCliOptions {
  readonly mode: BackfillMode;
  readonly verbose: boolean;
  readonly filters: BackfillFilters;
  readonly batchSize?: number;
  /** Print the statistics as JSON on stdout and everything else on stderr. */
  readonly json?: boolean;
}

type Step = (req: BackfillRequest) => Promise<BackfillResult>;

/** One call at a time through the job function, under the run ledger's lock. */
export function localStep(sql: Sql, ledgerFile: string, verbose: boolean): Step {
  const ledger = new FileRunLedger(ledgerFile);
  const log = memoryLog(verbose ? (l) => process.stderr.write(`\n  ${l.message}`) : undefined);
  return async (req) => {
    const r = await runExclusive(
      { job: 'backfill', ledger, log, metrics: memoryMetrics(), leaseMs: 20 * 60_000, timeZone: 'UTC' },
      async ({ runId }) => {
        const result = await backfill(
          { sql, log, deadline: deadline({ budgetMs: 10 * 60_000 }), clock: systemClock, runId: req.cursor?.runId ?? runId },
          req,
        );
        return { result, counters: { ...result.call }, errors: result.call.errors, workRemaining: !result.done };
      },
    );
    if (r.status === 'skipped') throw new Error(`Another backfill is running: ${r.reason}`);
    return r.outcome.result;
  };
}

/** How many leads are in scope (for the progress bar). */
export async function leadsInScope(sql: Sql, f: BackfillFilters): Promise<number> {
  const [row] = await sql.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM leads l WHERE ($1::uuid IS NULL OR l.id = $1::uuid)
       AND EXISTS (SELECT 1 FROM audits a WHERE a.lead_id = l.id AND ($2::timestamptz IS NULL OR a.created_at >= $2::timestamptz) AND ($3::timestamptz IS NULL OR a.created_at < $3::timestamptz))`,
    [p.uuid(f.leadId ?? null), p.ts(f.from ?? null), p.ts(f.to ?? null)],
  );
  return Math.min(row?.n ?? 0, f.limit ?? Number.POSITIVE_INFINITY);
}

function bar(done: number, total: number): string {
  const width = 30;
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const full = Math.round(frac * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}] ${Math.round(frac * 100)}% ${done}/${total} leads`;
}

export async function runBackfillToEnd(step: Step, o: BackfillCliOptions, total: number | undefined): Promise<BackfillResult> {
  const say = o.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
  const title = { 'dry-run': '🔍 DRY RUN', apply: '✍️  APPLY', rollback: '↩️  ROLLBACK' }[o.mode];
  say(`🚀 Backfill of conversations and messages from the audit log\n   Mode: ${title}\n`);
  const t0 = Date.now();
  let r = await step({ mode: o.mode, verbose: o.verbose, filters: o.filters, batchSize: o.batchSize });
  const progress = () => {
    if (total !== undefined && o.mode !== 'rollback') process.stderr.write(`\r${bar(r.totals.leadsProcessed, total)}`);
  };
  progress();
  const previews = [...r.preview];
  while (!r.done) {
    r = await step({ mode: o.mode, verbose: o.verbose, filters: o.filters, batchSize: o.batchSize, cursor: r.cursor });
    previews.push(...r.preview);
    progress();
  }
  if (total !== undefined) process.stderr.write('\n');
  const s = r.totals;
  if (o.mode === 'dry-run' && previews.length > 0) {
    say('\nPreview (first messages that would be created):');
    for (const m of previews.slice(0, 10)) say(`   [DRY RUN] Would create message from audit ${m.auditId} (${m.role}): ${m.preview}`);
  }
  if (r.orphanSample.length > 0)
    say(`\n⚠ ${s.orphanAudits} audits reference a missing lead, skipped (e.g. ${r.orphanSample.slice(0, 5).join(', ')})`);
  const line = '═'.repeat(59);
  say(
    `\n${line}\n${o.mode === 'dry-run' ? '🔍 DRY RUN COMPLETE' : o.mode === 'rollback' ? '↩️  ROLLBACK COMPLETE' : '✅ BACKFILL COMPLETE'} in ${formatSeconds(Date.now() - t0)}\n${line}\n`,
  );
  say('📊 Statistics:');
  const rows: [string, number][] =
    o.mode === 'rollback'
      ? [
          ['Messages deleted', s.messagesDeleted],
          ['Conversations deleted', s.conversationsDeleted],
        ]
      : [
          ['Conversations created', s.conversationsCreated],
          ['Conversations skipped', s.conversationsSkipped],
          ['Messages created', s.messagesCreated],
          ['Messages skipped', s.messagesSkipped],
          ['Audits processed', s.auditsProcessed],
          ['Audits skipped', s.auditsSkipped],
          ['  not a message actor', s.auditsNonMessage],
          ['  no extractable text', s.auditsWithoutText],
          ['  lead not found', s.orphanAudits],
          ['Payload not an object', s.auditsPayloadNotObject],
          ['Errors', s.errors],
        ];
  for (const [k, v] of rows) say(`   ${`${k}:`.padEnd(24)}${v}`);
  if (o.verbose && r.perLead) {
    say('\nPer lead (last call):');
    for (const [lead, v] of Object.entries(r.perLead)) say(`   ${lead}: ${v.created} created, ${v.skipped} skipped`);
  }
  if (o.json) process.stdout.write(`${JSON.stringify({ mode: o.mode, totals: r.totals, orphanSample: r.orphanSample }, null, 2)}\n`);
  return r;
}
