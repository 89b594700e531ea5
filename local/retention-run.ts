/** Local retention/restore against DATABASE_URL and an S3-compatible endpoint (S3_ENDPOINT, COLD_BUCKET). */
import { type ColdStore, type ColdStoreConfig, openColdStore, type S3ColdStore } from '../lambdas/retention/cold-store';
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

/**
 * Progress on a terminal: one line on stderr, rewritten in place (`\r`, then erased to its end).
 * Nothing at all when stderr is not a terminal (piped, redirected: no `\r` in a file or a log).
 */
export function progressLine(stream: NodeJS.WriteStream = process.stderr) {
  const tty = Boolean(stream.isTTY);
  let open = false;
  return {
    tty,
    show(text: string) {
      if (!tty) return;
      stream.write(`\r${text}\x1b[K`);
      open = true;
    },
    /** Leaves the line as it is and moves to the next. */
    end() {
      if (open) stream.write('\n');
      open = false;
    },
    /** Erases the line (it said what was going on; the result says the rest). */
    clear() {
      if (open) stream.write('\r\x1b[K');
      open = false;
    },
  };
}

/** A progress bar per table on a terminal (stderr), after each object; nothing otherwise. */
export function progressBar(stream: NodeJS.WriteStream = process.stderr) {
  const line = progressLine(stream);
  const started = performance.now();
  let current = '';
  return {
    /** Before the first object: finding the expired rows of a large table takes a while. */
    start(tables: readonly string[]) {
      line.show(`Finding expired rows in ${tables.join(', ')}…`);
    },
    update({ table, rowsDone, rowsTotal }: { table: string; rowsDone: number; rowsTotal: number }) {
      if (current && current !== table) line.end();
      current = table;
      const width = 30;
      const share = rowsTotal > 0 ? Math.min(1, rowsDone / rowsTotal) : 1;
      const bar = '█'.repeat(Math.round(share * width)).padEnd(width, '░');
      line.show(`${table.padEnd(32)} ${bar} ${rowsDone}/${rowsTotal} rows  ${formatSeconds(performance.now() - started)}`);
    },
    done() {
      if (current) line.end();
      else line.clear();
    },
  };
}

/**
 * Restore's progress on a terminal: a line rewritten for each cold object read (counted at its
 * HEAD, which restore sends before reading an object). `store` is the store to restore with;
 * when stderr is not a terminal it is the store given, untouched.
 */
export function restoreProgress(store: ColdStore, table: string, stream: NodeJS.WriteStream = process.stderr) {
  const line = progressLine(stream);
  if (!line.tty) return { store, done: () => undefined };
  const started = performance.now();
  let objects = 0;
  let bytes = 0;
  line.show(`Restoring ${table}: reading the manifest…`);
  const counted: ColdStore = {
    bucket: store.bucket,
    upload: (key, body, condition) => store.upload(key, body, condition),
    head: async (key) => {
      const head = await store.head(key);
      if (head) {
        objects++;
        bytes += head.size;
        line.show(
          `Restoring ${table}: object ${objects} (${(bytes / 1024 / 1024).toFixed(1)} MiB read)  ${formatSeconds(performance.now() - started)}`,
        );
      }
      return head;
    },
    reader: (key, size) => store.reader(key, size),
    list: (prefix) => store.list(prefix),
    removeAllVersions: (key) => store.removeAllVersions(key),
  };
  return {
    store: counted,
    done: () => (objects > 0 ? line.end() : line.clear()),
  };
}

export function printReport(tables: readonly TableReport[], dryRun: boolean): void {
  for (const t of tables) {
    const rows = t.days.reduce((a, d) => a + d.rows, 0);
    if (t.heldBack)
      console.log(`${t.table}: held back to ${t.cutoff} (the policy's cutoff is ${t.heldBack.policyCutoff}): ${t.heldBack.by}`);
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
