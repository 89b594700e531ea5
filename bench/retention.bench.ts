/**
 * Retention end to end on N message rows (pg driver, s3rver): export → verify → manifest + delete,
 * then restore; peak RSS per size; and, as the ceiling, the Parquet writer alone (with the same
 * SHA-256 per row, fed the same 5,000-row pages) on the very same rows, read back from the objects.
 * CPU time per row (this process; the PostgreSQL server's processes) is reported beside the rates:
 * it varies far less than wall time when other work shares the machine.
 */
import { availableParallelism } from 'node:os';
import { type PassThrough, Writable } from 'node:stream';
import { type ColdStore, openColdStore } from '../lambdas/retention/cold-store';
import { ParquetStreamWriter, readBack, type TextRow } from '../lambdas/retention/parquet';
import { columnLayout } from '../lambdas/retention/policies';
import { restore } from '../lambdas/retention/restore';
import { applyRetention, readExpired } from '../lambdas/retention/retention';
import { memoryLog } from '../lambdas/shared/observability';
import { deadline } from '../lambdas/shared/runtime';
import type { PgSql } from '../lambdas/shared/sql/pg-driver';
import { getEnvironment, type RetentionPolicy } from '../lib/config';
import { startS3Process } from '../local/services';
import { postgresCpuReader, processCpuReader } from './cpu';
import { RssSampler } from './rss';

export interface RetentionBench {
  readonly rows: number;
  readonly export: { seconds: number; rowsPerSecond: number; peakRssMb: number; objects: number; bytes: number };
  /** Within the run: streaming rows to S3, reading objects back, the manifest + delete transactions. */
  readonly phases: { exportRowsPerSecond: number; verifyRowsPerSecond: number; deleteRowsPerSecond: number };
  readonly restore: { rows: number; seconds: number; rowsPerSecond: number; peakRssMb: number };
  readonly writerAlone: { seconds: number; rowsPerSecond: number; cpuMicrosPerRow: number };
  /** The export's reading alone (same SQL, same pages, nothing written), before the export, same rows. */
  readonly readAlone: { seconds: number; rowsPerSecond: number; cpuMicrosPerRow: number; postgresMicrosPerRow?: number };
  /**
   * Reading and writing on one thread (as the export does): at best 1 / (reading's + writer's CPU per
   * row) rows/s; and the export's rate as a share of it.
   */
  readonly oneThread: { boundRowsPerSecond: number; exportShare: number };
  /**
   * This machine, whatever the threading: its cores can give at most cores / (reading's + writer's CPU
   * per row here + PostgreSQL's CPU per exported row) rows/s (PostgreSQL runs on the same cores);
   * undefined without /proc. As a share of the writer alone: the most any export could reach here.
   */
  readonly machine?: { cores: number; boundRowsPerSecond: number; shareOfWriter: number };
  /**
   * CPU µs per row: during the uploads (the export: reading pages, Parquet, upload) and over the whole
   * run (export + verify + manifest + delete); this Node process and the PostgreSQL server (none without /proc).
   */
  readonly cpu: { export: CpuPerRow; run: CpuPerRow };
  readonly exportShareOfWriter: number;
  readonly insertSeconds: number;
  /**
   * The same rows again (inserted again after the one-thread run, the table VACUUMed), exported on
   * `threads` export threads (each its own connection and S3 client, whole days each). End to end is
   * wall time; the export phase's rate is the sum over threads of each one's rows / its time exporting.
   */
  readonly threaded?: {
    readonly threads: number;
    readonly insertSeconds: number;
    readonly seconds: number;
    readonly rowsPerSecond: number;
    readonly exportRowsPerSecond: number;
    readonly exportShareOfWriter: number;
    readonly endToEndShareOfWriter: number;
    /** End to end against the one-thread run's end to end, same rows, same run. */
    readonly speedupEndToEnd: number;
    readonly peakRssMb: number;
    readonly cpu: CpuPerRow;
  };
}

export async function seed(sql: PgSql, n: number): Promise<number> {
  const t0 = performance.now();
  const conversations = Math.max(1, Math.floor(n / 20));
  await sql.execute(
    `INSERT INTO conversations (id, conversation_key, source, started_at, last_message_at)
     SELECT ('00000000-0000-0000-0000-' || lpad(to_hex(i), 12, '0'))::uuid, 'bench-' || i, 'live', '2025-01-01', '2025-03-01'
       FROM generate_series(1, $1::integer) i
     ON CONFLICT DO NOTHING`,
    [conversations],
  );
  const chunk = 250_000;
  for (let start = 1; start <= n; start += chunk) {
    await sql.execute(
      `INSERT INTO messages (conversation_id, message_key, role, content, created_at, source, input_tokens, output_tokens, model, metadata)
       SELECT ('00000000-0000-0000-0000-' || lpad(to_hex(1 + i % $3::integer), 12, '0'))::uuid, 'k' || i,
              (ARRAY['user', 'assistant'])[1 + i % 2],
              left(repeat(md5(i::text) || ' hola, quiero reservar una mesa para dos ', 1 + i % 10), 20 + (i * 37) % 380),
              '2025-01-01 00:00:00+00'::timestamptz + i * interval '1.7 seconds' + (i % 1000) * interval '1 microsecond',
              'live', i % 500, i % 300, 'gpt-4o-mini',
              jsonb_build_object('n', i, 'tool_calls', jsonb_build_array(jsonb_build_object('name', 'book', 'args', jsonb_build_object('people', 1 + i % 6))))
         FROM generate_series($1::integer, $2::integer) i`,
      [start, Math.min(n, start + chunk - 1), conversations],
    );
  }
  await sql.execute('ANALYZE messages');
  return (performance.now() - t0) / 1000;
}

/** CPU µs per row of this process, of the PostgreSQL server and of the S3 stand-in (s3rver, a child process) over a phase. */
interface CpuPerRow {
  readonly nodeMicrosPerRow: number;
  readonly postgresMicrosPerRow?: number;
  readonly s3MicrosPerRow?: number;
}

/** µs per row over a phase from its CPU readings: Node ms, and [before, after] of PostgreSQL (ms) and s3rver (s). */
function cpuPerRow(n: number, nodeMs: number, pg: [number?, number?], s3: [number?, number?]): CpuPerRow {
  const [pg0, pg1] = pg;
  const [s30, s31] = s3;
  return {
    nodeMicrosPerRow: (1000 * nodeMs) / n,
    ...(pg0 !== undefined && pg1 !== undefined ? { postgresMicrosPerRow: (1000 * (pg1 - pg0)) / n } : {}),
    ...(s30 !== undefined && s31 !== undefined ? { s3MicrosPerRow: (1e6 * (s31 - s30)) / n } : {}),
  };
}

const cpuMs = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};

export async function benchRetention(
  sql: PgSql,
  url: string,
  n: number,
  options: { restoreDays?: number; threads: number },
): Promise<RetentionBench> {
  const { threads, restoreDays } = options;
  const insertSeconds = await seed(sql, n);
  const bucket = 'bench-cold';
  // S3 is another machine in production: s3rver runs in a child process, its CPU reported apart.
  const s3 = await startS3Process([bucket]);
  const s3Cpu = processCpuReader(s3.pid);
  try {
    const storeConfig = {
      bucket,
      endpoint: s3.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    };
    const s3Store = openColdStore(storeConfig);
    const pgSeconds = await postgresCpuReader(sql);
    const pgCpu = pgSeconds && (() => pgSeconds() * 1000); // ms
    // The export of an object is its upload: the upload starts with the object's first row and ends
    // after its footer (only the first page's query comes before).
    const exportCpu = { node: 0, pg: 0 };
    const store: ColdStore = {
      bucket,
      head: (key) => s3Store.head(key),
      removeAllVersions: (key) => s3Store.removeAllVersions(key),
      reader: (key, size) => s3Store.reader(key, size),
      list: (prefix) => s3Store.list(prefix),
      upload: async (key, body, condition) => {
        const c0 = process.cpuUsage();
        const p0 = pgCpu?.() ?? 0;
        try {
          await s3Store.upload(key, body, condition);
        } finally {
          exportCpu.node += cpuMs(c0);
          exportCpu.pg += (pgCpu?.() ?? 0) - p0;
        }
      },
    };
    const settings = getEnvironment('prod').retention;
    const log = memoryLog();

    // The reading alone, on the same rows, before the export deletes them.
    global.gc?.();
    const readPg0 = pgCpu?.() ?? 0;
    const readCpu0 = process.cpuUsage();
    const readT0 = performance.now();
    const read = await readExpired({ sql, log }, settings, 'messages');
    const readSeconds = (performance.now() - readT0) / 1000;
    const readCpuMs = cpuMs(readCpu0);
    const readPgMs = (pgCpu?.() ?? 0) - readPg0;
    if (read !== n) throw new Error(`bench: read ${read} of ${n} rows`);

    global.gc?.();
    let rss = new RssSampler();
    const pg0 = pgCpu?.();
    const s30 = s3Cpu?.();
    const cpu0 = process.cpuUsage();
    let t0 = performance.now();
    const out = await applyRetention({ sql, store, log, deadline: deadline(undefined), runId: 'bench' }, settings, {
      tables: ['messages'],
    });
    const exportSeconds = (performance.now() - t0) / 1000;
    const nodeCpuMs = cpuMs(cpu0);
    const pg1 = pgCpu?.();
    const s31 = s3Cpu?.();
    const exportRss = rss.stop();
    const [t] = out.tables;
    if (!t || t.rowsDeleted !== n || t.verificationFailures !== 0)
      throw new Error(`bench: expected ${n} rows exported and deleted, got ${JSON.stringify(t)}`);

    // The ceiling: the writer alone (same canonical SHA-256, same row groups, same pages) on the same rows, from the objects.
    const keys = await sql.query<{ object_key: string; bytes: number }>(
      "SELECT object_key, bytes FROM archive_manifest WHERE table_name = 'messages' AND run_id = 'bench'",
    );
    let writerMs = 0;
    let writerCpuMs = 0;
    const pageRows = 5_000;
    const layout = columnLayout(settings.policies.find((p) => p.table === 'messages') as RetentionPolicy);
    for (const k of keys) {
      const rows: TextRow[] = [];
      let columns: readonly string[] = [];
      await readBack(store.reader(k.object_key, Number(k.bytes)), async (r, c) => {
        columns = c;
        for (const x of r) rows.push(x);
      });
      const sink = new Writable({ write: (_c, _e, cb) => cb() });
      const start = performance.now();
      const cpuStart = process.cpuUsage();
      const w = await ParquetStreamWriter.open(sink as unknown as PassThrough, columns, settings.rowGroupRows, layout);
      for (let i = 0; i < rows.length; i += pageRows) await w.addRows(rows.slice(i, i + pageRows));
      await w.finish({ table: 'messages', day: 'x', rowsMd5: '', keyMin: [], keyMax: [], columns: [], schemaVersion: 1 });
      writerMs += performance.now() - start;
      writerCpuMs += cpuMs(cpuStart);
    }

    global.gc?.();
    rss = new RssSampler();
    t0 = performance.now();
    // Everything, or (RETENTION_RESTORE_DAYS) the first days only: restore's rate and memory do not need 5 M rows.
    const to = restoreDays === undefined ? '2100-01-01' : new Date(Date.UTC(2025, 0, 1 + restoreDays)).toISOString().slice(0, 10);
    const [expected] = await sql.query<{ n: number }>(
      "SELECT COALESCE(sum(row_count), 0)::bigint AS n FROM archive_manifest WHERE table_name = 'messages' AND day < $1::date",
      [to],
    );
    const restoreRows = Number(expected?.n ?? 0);
    const back = await restore({ sql, store, log }, settings.policies, { table: 'messages', from: '1900-01-01', to });
    const restoreSeconds = (performance.now() - t0) / 1000;
    const restoreRss = rss.stop();
    if (back.rowsInserted !== restoreRows) throw new Error(`bench: restored ${back.rowsInserted} of ${restoreRows}`);

    const writerRate = n / (writerMs / 1000);
    let threaded: RetentionBench['threaded'];
    if (threads > 1) {
      // The same rows again (new ids), in the pages the first export emptied.
      await sql.execute("DELETE FROM messages WHERE created_at < '2100-01-01'");
      await sql.execute('VACUUM messages');
      const insertAgain = await seed(sql, n);
      global.gc?.();
      rss = new RssSampler();
      const pgT0 = pgCpu?.();
      const s3T0 = s3Cpu?.();
      const cpuT0 = process.cpuUsage();
      const tT0 = performance.now();
      const again = await applyRetention(
        {
          sql,
          store: s3Store,
          log,
          deadline: deadline(undefined),
          runId: 'bench-threads',
          threads: { threads, sql: { driver: 'pg', url, ssl: false }, store: storeConfig },
        },
        settings,
        { tables: ['messages'] },
      );
      const seconds = (performance.now() - tT0) / 1000;
      const nodeMs = cpuMs(cpuT0);
      const pgT1 = pgCpu?.();
      const s3T1 = s3Cpu?.();
      const peakRssMb = rss.stop();
      const [tt] = again.tables;
      if (!tt || tt.rowsDeleted !== n || tt.verificationFailures !== 0)
        throw new Error(`bench (threads): expected ${n} rows exported and deleted, got ${JSON.stringify(tt)}`);
      const exportRowsPerSecond = (tt.exportThreads ?? []).reduce(
        (a, x) => a + (x.exportMs > 0 ? x.rowsExported / (x.exportMs / 1000) : 0),
        0,
      );
      threaded = {
        threads,
        insertSeconds: insertAgain,
        seconds,
        rowsPerSecond: n / seconds,
        exportRowsPerSecond,
        exportShareOfWriter: exportRowsPerSecond / writerRate,
        endToEndShareOfWriter: n / seconds / writerRate,
        speedupEndToEnd: exportSeconds / seconds,
        peakRssMb,
        cpu: cpuPerRow(n, nodeMs, [pgT0, pgT1], [s3T0, s3T1]),
      };
    }
    const exportRate = n / (t.ms.export / 1000);
    const readCpuPerRow = (1000 * readCpuMs) / n;
    const writerCpuPerRow = (1000 * writerCpuMs) / n;
    const oneThreadBound = 1e6 / (readCpuPerRow + writerCpuPerRow);
    const cores = availableParallelism();
    const machineBound = (cores * 1e6) / (readCpuPerRow + writerCpuPerRow + (1000 * exportCpu.pg) / n);
    const machine = pgCpu ? { cores, boundRowsPerSecond: machineBound, shareOfWriter: machineBound / writerRate } : undefined;
    return {
      rows: n,
      insertSeconds,
      phases: {
        exportRowsPerSecond: exportRate,
        verifyRowsPerSecond: n / (t.ms.verify / 1000),
        deleteRowsPerSecond: n / (t.ms.commit / 1000),
      },
      export: {
        seconds: exportSeconds,
        rowsPerSecond: n / exportSeconds,
        peakRssMb: exportRss,
        objects: t.objectsWritten,
        bytes: t.bytesWritten,
      },
      restore: { rows: restoreRows, seconds: restoreSeconds, rowsPerSecond: restoreRows / restoreSeconds, peakRssMb: restoreRss },
      writerAlone: { seconds: writerMs / 1000, rowsPerSecond: writerRate, cpuMicrosPerRow: writerCpuPerRow },
      readAlone: {
        seconds: readSeconds,
        rowsPerSecond: n / readSeconds,
        cpuMicrosPerRow: readCpuPerRow,
        ...(pgCpu ? { postgresMicrosPerRow: (1000 * readPgMs) / n } : {}),
      },
      oneThread: { boundRowsPerSecond: oneThreadBound, exportShare: exportRate / oneThreadBound },
      ...(machine ? { machine } : {}),
      cpu: {
        export: {
          nodeMicrosPerRow: (1000 * exportCpu.node) / n,
          ...(pgCpu ? { postgresMicrosPerRow: (1000 * exportCpu.pg) / n } : {}),
        },
        run: cpuPerRow(n, nodeCpuMs, [pg0, pg1], [s30, s31]),
      },
      exportShareOfWriter: exportRate / writerRate,
      ...(threaded ? { threaded } : {}),
    };
  } finally {
    await s3.stop();
  }
}
