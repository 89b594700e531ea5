import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { parseInstantIn } from '../../lambdas/aggregate/calendar';
import { DEFAULT_RULES } from '../../lambdas/ingest/event';
import { type IngestRecord, type IngestResult, ingest } from '../../lambdas/ingest/ingest';
import { memoryLog } from '../../lambdas/shared/observability';
import { getEnvironment, retentionDaysOf } from '../../lib/config';
import { fail, output, UsageError, withDatabase } from './common';

/**
 * `--now`: the clock that decides what is in the future, past retention, or closed. An instant with
 * its offset (2025-10-27T02:00:00+01:00), or a local date-time (2025-10-27T02:00) read in `timeZone`
 * — the configured zone, never the machine's `TZ`; an impossible date, or a local time the zone
 * skips or repeats, is bad usage saying why.
 */
export function parseNow(value: string | undefined, timeZone: string): Date {
  if (value === undefined) return new Date();
  const parsed = parseInstantIn(value, timeZone);
  if (parsed.ok) return parsed.at;
  throw new UsageError(
    `--now must be an ISO-8601 instant (2025-10-27T02:00:00+01:00) or a local date-time read in ${timeZone} (2025-10-27T02:00): ${parsed.reason}`,
  );
}

/** Ingests a JSONL file (one event per line, the collector's camelCase shape) through the Lambda's path. */
export async function ingestFile(
  sql: Parameters<typeof ingest>[0]['sql'],
  path: string,
  now: Date,
  linesPerBatch = 5_000,
): Promise<Omit<IngestResult, 'failedRecordIds'> & { lines: number; failedLines: number[] }> {
  const total = {
    accepted: 0,
    duplicates: 0,
    rejected: 0,
    late: 0,
    rejectedDuplicates: 0,
    invalidations: 0,
    firstRejections: [] as IngestResult['firstRejections'],
    errors: [] as string[],
    lines: 0,
    failedLines: [] as number[],
  };
  const env = getEnvironment(process.env.ENV_NAME ?? 'dev');
  const rules = { ...DEFAULT_RULES, retentionDays: retentionDaysOf(env.retention, 'analytics_events') };
  let batch: IngestRecord[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const r = await ingest(
      {
        sql,
        clock: { now: () => now },
        log: memoryLog(),
        rules,
        source: 'file',
        recordScope: `${resolve(path)}\u0000`,
        timeZone: env.aggregation.timeZone,
      },
      batch,
    );
    batch = [];
    total.accepted += r.accepted;
    total.duplicates += r.duplicates;
    total.rejected += r.rejected;
    total.late += r.late;
    total.rejectedDuplicates += r.rejectedDuplicates;
    total.invalidations += r.invalidations;
    total.errors.push(...r.errors);
    total.failedLines.push(...r.failedRecordIds.map((id) => Number(id.replace('line ', ''))));
    for (const x of r.firstRejections) if (total.firstRejections.length < 20) total.firstRejections.push(x);
  };
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    total.lines++;
    if (line.trim() === '') continue;
    batch.push({ recordId: `line ${total.lines}`, body: line });
    if (batch.length >= linesPerBatch) await flush();
  }
  await flush();
  return total;
}

export function register(program: Command): void {
  program
    .command('ingest')
    .description('ingest analytics events from a JSONL file (one event per line) into DATABASE_URL, with the ingest Lambda’s validation')
    .argument('<file>', 'JSONL file: one event per line, camelCase as the collector records it')
    .option(
      '--now <iso>',
      'the clock deciding what is in the future or past retention (default: now); without an offset, a time in the configured zone',
    )
    .option('--json', 'machine-readable output')
    .action(async (file: string, o: { now?: string; json?: boolean }) => {
      const now = parseNow(o.now, getEnvironment(process.env.ENV_NAME ?? 'dev').aggregation.timeZone);
      await access(file).catch(() => {
        throw new UsageError(`Cannot read ${file}`);
      });
      await withDatabase(async (sql) => {
        const r = await ingestFile(sql, file, now);
        output(o.json, r, () => {
          console.log(
            `${r.accepted} accepted, ${r.duplicates} duplicate, ${r.rejected} rejected (kept in analytics_events_rejected${r.late ? `; ${r.late} late beyond the raw horizon` : ''}${r.rejectedDuplicates ? `; ${r.rejectedDuplicates} already kept by an earlier run` : ''}), ${r.invalidations} late-data buckets invalidated`,
          );
          for (const x of r.firstRejections) console.log(`  ${x.recordId}${x.eventId ? ` (${x.eventId})` : ''}: ${x.reason}`);
          if (r.failedLines.length > 0)
            console.log(`${r.failedLines.length} lines NOT ingested (database error: ${r.errors[0]}); rerun: duplicates are skipped`);
        });
        if (r.failedLines.length > 0) fail();
      });
    });
}
