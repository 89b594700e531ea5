/**
 * One worker export thread (export-threads.ts): its own connection and S3 client; exports the days
 * it is handed with the same `TableRun` as the inline export, asking the main thread before each object.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createSql } from '../shared/deps';
import type { Log } from '../shared/observability';
import { openColdStore } from './cold-store';
import { DayRunner } from './day-runner';
import type { FromWorker, ToWorker, WorkerData } from './export-threads';
import type { DayFailed } from './report';

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

const runner = new DayRunner({ sql, store, log, fence: data.fence }, data.settings, data.runId);
const onRowsDeleted = (rows: number) => post({ type: 'rows-deleted', rows });

async function day(m: Extract<ToWorker, { type: 'day' }>): Promise<void> {
  try {
    const { finished, counts } = await runner.day(m, { mayStartObject, onRowsDeleted });
    post({ type: 'day-done', finished, counts });
  } catch (err) {
    const failed = err as DayFailed;
    const e = failed.cause instanceof Error ? failed.cause : new Error(String(failed.cause));
    post({ type: 'day-failed', counts: failed.counts, error: { name: e.name, message: e.message, stack: e.stack } });
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
