/** Local retention/restore against DATABASE_URL and an S3-compatible endpoint (S3_ENDPOINT, COLD_BUCKET). */
import { type ColdStoreConfig, openColdStore, type S3ColdStore } from '../lambdas/retention/cold-store';
import type { TableReport } from '../lambdas/retention/report';
import { formatSeconds } from '../lambdas/shared/time';
import { UsageError } from './commands/common';

/** COLD_BUCKET and S3_ENDPOINT (credentials and region: the SDK's own variables). */
export function coldStoreConfigFromEnv(): ColdStoreConfig {
  const bucket = process.env.COLD_BUCKET;
  if (!bucket) throw new UsageError('COLD_BUCKET is not set. Example: COLD_BUCKET=cold S3_ENDPOINT=http://127.0.0.1:4568');
  return { bucket, ...(process.env.S3_ENDPOINT ? { endpoint: process.env.S3_ENDPOINT } : {}) };
}

export function coldStoreFromEnv(): S3ColdStore {
  return openColdStore(coldStoreConfigFromEnv());
}

/** `messages=30,analytics_events=7` → { messages: 30, analytics_events: 7 }. */
export function parseDays(value: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of value.split(',').filter(Boolean)) {
    const [table, days] = part.split('=');
    const n = Number(days);
    if (!table || !Number.isInteger(n) || n < 1) throw new UsageError(`--days: "${part}" is not table=days (days a positive integer)`);
    out[table.trim()] = n;
  }
  return out;
}

/** A progress bar per table on a terminal (stderr), nothing otherwise. */
export function progressBar(stream: NodeJS.WriteStream = process.stderr) {
  const started = performance.now();
  let current = '';
  return {
    update({ table, rowsDone, rowsTotal }: { table: string; rowsDone: number; rowsTotal: number }) {
      if (!stream.isTTY) return;
      if (current && current !== table) stream.write('\n');
      current = table;
      const width = 30;
      const share = rowsTotal > 0 ? Math.min(1, rowsDone / rowsTotal) : 1;
      const bar = '█'.repeat(Math.round(share * width)).padEnd(width, '░');
      stream.write(`\r${table.padEnd(32)} ${bar} ${rowsDone}/${rowsTotal} rows  ${formatSeconds(performance.now() - started)}`);
    },
    done() {
      if (stream.isTTY && current) stream.write('\n');
    },
  };
}

export function printReport(tables: readonly TableReport[], dryRun: boolean): void {
  for (const t of tables) {
    const rows = t.days.reduce((a, d) => a + d.rows, 0);
    if (dryRun) {
      const bytes = t.days.reduce((a, d) => a + (d.bytes ?? 0), 0);
      console.log(
        `${t.table}: cutoff ${t.cutoff}, ${rows} row${rows === 1 ? '' : 's'} over ${t.days.length} day${t.days.length === 1 ? '' : 's'}, ~${(bytes / 1024 / 1024).toFixed(2)} MiB would go`,
      );
      for (const d of t.days) console.log(`  day=${d.day}  ${d.rows} rows  ~${d.bytes ?? 0} bytes`);
      if (t.rowsUnexportable) console.log(`  ${t.rowsUnexportable} expired rows with a time no day can name: kept`);
      continue;
    }
    console.log(
      `${t.table}: cutoff ${t.cutoff}; exported ${t.rowsExported}, deleted ${t.rowsDeleted} rows; ${t.objectsWritten} objects written (${t.bytesWritten} bytes), ` +
        `${t.objectsRecovered} recovered, ${t.verificationFailures} verification failures, ${t.objectsChanged} changed after export` +
        `${t.rowsUnexportable ? `, ${t.rowsUnexportable} unexportable kept` : ''}` +
        `${t.rowsHeld ? `, ${t.rowsHeld} held in PostgreSQL by a restore` : ''}` +
        `${t.objectsRetired ? `, ${t.objectsRetired} superseded objects removed` : ''}` +
        `${t.objectsOutsideManifest ? `, ${t.objectsOutsideManifest} objects under ${t.table}/ not in the manifest (kept; keys in the log)` : ''}` +
        `${t.workRemaining ? ' — work remaining' : ''}`,
    );
  }
}
