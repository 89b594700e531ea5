/**
 * One export thread (export-threads.ts): its own connection and S3 client; exports the days it is
 * handed with the same `TableRun` as the inline export, asking the main thread before each object.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createSql } from '../shared/deps';
import type { Log } from '../shared/observability';
import { openColdStore } from './cold-store';
import type { FromWorker, ReportCounts, ToWorker, WorkerData } from './export-threads';
import { emptyReport, type TableReport, TableRun } from './retention';

const port = parentPort;
if (!port) throw new Error('export-worker.ts runs as a worker thread (export-threads.ts)');
const data = workerData as WorkerData;
const post = (m: FromWorker) => port.postMessage(m);

const sql = createSql(data.sql);
const store = openColdStore(data.store);
const at =
  (level: keyof Log) =>
  (message: string, extra?: Record<string, unknown>): void =>
    post({ type: 'log', level, message, ...(extra ? { extra: cloneable(extra) } : {}) });
const log: Log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };

/** Log fields as plain data (an Error or a Map does not cross threads as itself). */
function cloneable(extra: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(extra, (_k, v) => (v instanceof Error ? v.message : typeof v === 'bigint' ? v.toString() : v)));
}

let asked = 0;
const answers = new Map<number, (ok: boolean) => void>();
const mayStartObject = () =>
  new Promise<boolean>((resolve) => {
    const id = ++asked;
    answers.set(id, resolve);
    post({ type: 'may-start', id });
  });

const runs = new Map<string, { run: TableRun; report: TableReport }>();
function tableRun(m: Extract<ToWorker, { type: 'day' }>) {
  const name = `${m.shape.policy.table}\u0000${m.cutoff}`;
  let r = runs.get(name);
  if (!r) {
    const report = emptyReport(m.shape.policy.table, m.cutoff);
    const deps = { sql, store, log, mayStartObject, onRowsDeleted: (rows: number) => post({ type: 'rows-deleted', rows }) };
    r = { run: new TableRun(deps, data.settings, m.shape, m.cutoff, data.runId, report), report };
    runs.set(name, r);
  }
  return r;
}

/** What the report counted since the last call (and zero again). */
function takeCounts(r: TableReport): ReportCounts {
  const counts: ReportCounts = {
    rowsExported: r.rowsExported,
    rowsDeleted: r.rowsDeleted,
    objectsWritten: r.objectsWritten,
    objectsRecovered: r.objectsRecovered,
    bytesWritten: r.bytesWritten,
    verificationFailures: r.verificationFailures,
    objectsChanged: r.objectsChanged,
    ms: { ...r.ms },
  };
  r.rowsExported = r.rowsDeleted = r.objectsWritten = r.objectsRecovered = 0;
  r.bytesWritten = r.verificationFailures = r.objectsChanged = 0;
  r.ms.export = r.ms.verify = r.ms.commit = 0;
  return counts;
}

async function day(m: Extract<ToWorker, { type: 'day' }>): Promise<void> {
  const { run, report } = tableRun(m);
  try {
    const finished = await run.day(m.day);
    post({ type: 'day-done', finished, counts: takeCounts(report) });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    post({ type: 'day-failed', counts: takeCounts(report), error: { name: e.name, message: e.message, stack: e.stack } });
  }
}

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'day':
      void day(m);
      return;
    case 'may-start':
      answers.get(m.id)?.(m.ok);
      answers.delete(m.id);
      return;
    case 'close':
      // Its connections closed, the thread ends (open S3 sockets would keep it alive otherwise).
      void sql.close().finally(() => process.exit(0));
      return;
  }
});
