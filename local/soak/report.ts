/** The soak's one screen: operations, faults, runs and throughput per job, each check with its counts. */
import type { SoakReport } from './soak';

const line = (k: string, v: string | number) => `  ${k.padEnd(36)} ${v}`;
const sorted = (o: Record<string, number>) => Object.entries(o).sort(([a], [b]) => a.localeCompare(b));

/** Counters summed per job over its runs, the ones that say how much work it did. */
const THROUGHPUT: Record<string, string[]> = {
  archive: [
    'checkpoints_archived',
    'messages_archived',
    'messages_updated',
    'checkpoints_malformed',
    'checkpoints_changed',
    'checkpoints_superseded_incomplete',
  ],
  retention: ['rows_exported', 'rows_deleted', 'objects_written', 'objects_recovered', 'objects_retired', 'rows_held', 'tables_held_back'],
  backfill: ['messagesCreated', 'conversationsCreated'],
  hourly_message_counts: ['periods_aggregated', 'late_buckets_recomputed', 'rows_written'],
};

export function soakSummary(r: SoakReport): string[] {
  const j = r.journal;
  const out: string[] = [];
  out.push(
    `Soak: seed ${r.seed}, ${r.seconds} s at ${r.speed} virtual h/s (virtual ${r.virtualStart} → ${r.virtualEnd}), catch-up ${(r.catchUpMs / 1000).toFixed(1)} s`,
  );
  out.push('Operations (the app):');
  for (const [k, v] of sorted(j.ops).filter(([k]) => !k.startsWith('run.'))) out.push(line(k, v));
  out.push(line('messages journaled', j.messages.size));
  out.push(
    line(
      'events journaled (valid / invalid)',
      `${[...j.events.values()].filter((e) => e.valid).length} / ${[...j.events.values()].filter((e) => !e.valid).length}`,
    ),
  );
  out.push(line('audits journaled (message-bearing)', `${j.audits.size} (${[...j.audits.values()].filter((a) => a.message).length})`));
  if (Object.keys(j.appErrors).length > 0) {
    out.push('App writes that failed and were retried:');
    for (const [k, v] of sorted(j.appErrors)) out.push(line(k, v));
  }
  out.push('Faults injected:');
  if (Object.keys(j.faults).length === 0) out.push('  none');
  for (const [k, v] of sorted(j.faults)) out.push(line(k, v));
  out.push('Runs (soak + catch-up): healthy / unhealthy / failed / busy / skipped / refused / killed, and throughput:');
  const jobs = [...new Set(j.runs.map((x) => x.job))].sort();
  for (const job of jobs) {
    const runs = j.runs.filter((x) => x.job === job);
    const n = (o: string) => runs.filter((x) => x.outcome === o).length;
    const sums = (THROUGHPUT[job] ?? []).map((k) => `${k} ${runs.reduce((a, x) => a + (x.counters?.[k] ?? 0), 0)}`);
    out.push(
      line(
        job,
        `${n('healthy')} / ${n('unhealthy')} / ${n('failed')} / ${n('busy')} / ${n('skipped')} / ${n('refused')} / ${n('killed')}${sums.length ? `  (${sums.join(', ')})` : ''}`,
      ),
    );
  }
  const errors = new Map<string, number>();
  for (const x of j.runs)
    if (x.error && (x.outcome === 'failed' || x.outcome === 'unhealthy')) {
      const k = `${x.job}: ${x.error
        .replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '…')
        .replace(/\d+/g, 'N')
        .slice(0, 110)}`;
      errors.set(k, (errors.get(k) ?? 0) + 1);
    }
  if (errors.size > 0) {
    out.push('Why runs failed (expected under faults; the next run must finish the work):');
    for (const [k, v] of [...errors].sort((a, b) => b[1] - a[1]).slice(0, 12)) out.push(`  ${String(v).padStart(4)} × ${k}`);
  }
  for (const p of r.catchUpProblems) out.push(`  FAIL  catch-up: ${p}`);
  out.push('Checks:');
  for (const c of r.checks) {
    out.push(`  ${c.pass ? 'PASS' : 'FAIL'}  ${c.name}`);
    out.push(
      `        ${sorted(c.counts)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    for (const p of c.problems) out.push(`        ✗ ${p}`);
  }
  out.push(
    r.passed
      ? 'Every check passed.'
      : `FAILED: replay with --seed ${r.seed} --seconds ${r.seconds}${r.speed === 8 ? '' : ` --speed ${r.speed}`}.`,
  );
  return out;
}
