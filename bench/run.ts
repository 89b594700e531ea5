/**
 * `npm run bench [-- archive|archive-costs|backfill|ingest|aggregate|serving|retention|privacy]`: speed and memory, measured here (never in tests).
 * Starts private PostgreSQL and Redis; sizes via env (ARCHIVE_CONVERSATIONS, ...).
 */
import { startPostgres, startRedis } from '../local/services';
import { benchAggregate, benchIngest } from './analytics.bench';
import { benchArchive } from './archive.bench';
import { benchArchiveCosts } from './archive-costs.bench';
import { benchBackfill } from './backfill.bench';
import { withMigratedDatabase } from './db';
import { benchPrivacy } from './privacy.bench';
import { benchRetention } from './retention.bench';
import { benchServing } from './serving.bench';

const num = (name: string, def: number) => Number(process.env[name] ?? def);

async function main() {
  const which = process.argv[2] ?? 'all';
  const pg = await startPostgres({ forceLocal: true, durable: true });
  const redisServer = await startRedis({ forceLocal: true });
  const results: Record<string, unknown> = {};
  try {
    if (which === 'all' || which === 'archive') {
      const r = await withMigratedDatabase(pg.url, { prefix: 'bench', maxConnections: 4 }, (sql) =>
        benchArchive(
          sql,
          redisServer.url,
          num('ARCHIVE_CONVERSATIONS', 20_000),
          num('ARCHIVE_MESSAGES', 20),
          num('ARCHIVE_BASELINE_CONVERSATIONS', 1_000),
        ),
      );
      results.archive = r;
      console.log(
        `archive: ${r.conversations} conversations × ${r.messagesPerConversation} messages in ${r.optimized.seconds.toFixed(1)} s = ` +
          `${Math.round(r.optimized.messagesPerSecond)} messages/s, peak RSS ${r.optimized.peakRssMb} MiB; ` +
          `baseline (seed 000's worker, ${r.baseline.conversations} conversations) ${Math.round(r.baseline.messagesPerSecond)} messages/s; ` +
          `speed-up ×${r.speedup.toFixed(1)}`,
      );
      const cpu = r.cpuMicrosPerMessage;
      const f = (x?: number) => (x === undefined ? 'n/a' : x.toFixed(1));
      console.log(
        `archive, CPU per message: Node ${f(cpu.node)} µs, PostgreSQL ${f(cpu.postgres)} µs, Redis ${f(cpu.redis)} µs, ` +
          `all ${f(cpu.total)} µs (${r.databaseOnly.cores} cores: at most ${Math.round((r.databaseOnly.cores * 1e6) / cpu.total)} messages/s); ` +
          `PostgreSQL's CPU per row in the database-only ceiling: ${f(r.databaseOnly.postgresCpuMicrosPerRow)} µs`,
      );
      console.log(
        `archive, database only (no client; ${r.databaseOnly.cores} backends at once): ${r.databaseOnly.rows} message rows, ` +
          `${r.databaseOnly.microsPerRowPerCore.toFixed(1)} µs of one core each → ceiling ${Math.round(r.databaseOnly.ceilingMessagesPerSecond)} messages/s ` +
          `= ×${r.databaseOnly.ceilingSpeedup.toFixed(1)} the baseline; the job reaches ${Math.round(100 * r.databaseOnly.achievedShare)}% of it`,
      );
    }
    if (which === 'all' || which === 'archive-costs') {
      const costs = await benchArchiveCosts(pg.url, num('COSTS_CONVERSATIONS', 5_000), num('ARCHIVE_MESSAGES', 20));
      results.archiveCosts = costs;
      const full = costs[0]?.microsPerRow ?? 0;
      console.log('archive, database time per message row (one backend, 4,000-row statements):');
      for (const c of costs)
        console.log(
          `  ${c.variant.padEnd(52)} ${c.microsPerRow.toFixed(1).padStart(6)} µs` +
            (c === costs[0] ? '' : `  (${(c.microsPerRow - full).toFixed(1)})`),
        );
    }
    if (which === 'all' || which === 'backfill') {
      const r = await withMigratedDatabase(pg.url, { prefix: 'bench', maxConnections: 4 }, (sql) =>
        benchBackfill(sql, num('BACKFILL_LEADS', 50_000), num('BACKFILL_AUDITS_PER_LEAD', 20), num('BACKFILL_BASELINE_LEADS', 200)),
      );
      results.backfill = r;
      console.log(
        `backfill: ${r.audits} audits over ${r.leads} leads in ${r.seconds.toFixed(1)} s = ${Math.round(r.auditsPerSecond)} audits/s ` +
          `(${r.messages} messages), peak RSS ${r.peakRssMb} MiB; baseline (per audit, ${r.baseline.audits} audits) ` +
          `${Math.round(r.baseline.auditsPerSecond)} audits/s; speed-up ×${r.speedup.toFixed(0)}`,
      );
      console.log(
        `search: ${r.search.queries} queries over ${r.search.messages} messages: p50 ${r.search.p50Ms.toFixed(1)} ms, p95 ${r.search.p95Ms.toFixed(1)} ms; ` +
          `most common word ("${r.search.commonWord}") p95 ${r.search.commonWordP95Ms.toFixed(1)} ms`,
      );
    }
    if (which === 'serving') {
      const r = await withMigratedDatabase(pg.url, { prefix: 'bench', maxConnections: 4 }, (sql) =>
        benchServing(sql, num('SERVING_EVENTS', 10_000_000), num('SERVING_PROPERTIES', 20)),
      );
      results.serving = r;
      const f = (s: { p50: number; p95: number; max: number }) =>
        `p50 ${s.p50.toFixed(1)} ms, p95 ${s.p95.toFixed(1)} ms, max ${s.max.toFixed(1)} ms`;
      console.log(
        `serving: ${r.events.toLocaleString('en-US')} events (loaded in ${r.loadEventsS.toFixed(0)} s) and ${r.aggregateRows.toLocaleString('en-US')} aggregate rows ` +
          `(a year, ${r.properties} properties, ${r.loadAggregatesS.toFixed(0)} s)\n` +
          `  dashboard, uncached:                 ${f(r.dashboard)}  (target p95 < 50 ms)\n` +
          `  1-year daily series, daily table:    ${f(r.seriesDaily)}  (target p95 < 50 ms)\n` +
          `  1-year daily series, hourly table:   ${f(r.seriesFromHourly)}\n` +
          `  1-year daily series, weighted mean:  ${f(r.seriesWeighted)}\n` +
          `  monthly report + HTML (${r.htmlBytes} bytes): ${f(r.report)}  (target < 1000 ms)\n` +
          `  the same, properties over ${r.multiZone.zones} zones: dashboard ${f(r.multiZone.dashboard)}; daily series ${f(r.multiZone.seriesDaily)}; ` +
          `weighted ${f(r.multiZone.seriesWeighted)}; report ${f(r.multiZone.report)}`,
      );
    }
    if (which === 'privacy') {
      const r = await withMigratedDatabase(pg.url, { prefix: 'bench', maxConnections: 4 }, (sql) =>
        benchPrivacy(sql, num('PRIVACY_COLD_MESSAGES', 5_000_000), num('PRIVACY_HOT_ROWS', 1_000_000)),
      );
      results.privacy = r;
      console.log(
        `privacy: one subject among ${r.coldMessages} cold messages (${r.objects} objects) and ${r.hotRows} hot rows: erased in ${r.erase.seconds.toFixed(2)} s, ` +
          `${r.erase.objectsRead} objects read, ${r.erase.objectsRewritten} rewritten, ${r.erase.rowsRemoved} rows removed; ` +
          `a full scan of the bucket (what finding without the index reads) ${r.fullScan.seconds.toFixed(1)} s over ${r.fullScan.objectsRead} objects ` +
          `(${r.fullScan.rowsRead} rows): the erasure took ${((100 * r.erase.seconds) / r.fullScan.seconds).toFixed(1)} % of it`,
      );
    }
    if (which === 'retention') {
      // Sizes in order (RETENTION_MESSAGES=1000000,5000000): peak RSS must not grow with N.
      const sizes = (process.env.RETENTION_MESSAGES ?? '1000000').split(',').map(Number);
      const runs = [];
      for (const n of sizes) {
        const r = await withMigratedDatabase(pg.url, { prefix: 'bench', maxConnections: 4 }, (sql, url) =>
          benchRetention(sql, url, n, {
            restoreDays: process.env.RETENTION_RESTORE_DAYS ? Number(process.env.RETENTION_RESTORE_DAYS) : undefined,
            threads: num('RETENTION_THREADS', 2),
          }),
        );
        runs.push(r);
        console.log(
          `retention: ${r.rows} messages (inserted in ${r.insertSeconds.toFixed(0)} s); export+verify+delete ${r.export.seconds.toFixed(1)} s = ` +
            `${Math.round(r.export.rowsPerSecond)} rows/s end to end, ${r.export.objects} objects, ${(r.export.bytes / 1e6).toFixed(1)} MB, peak RSS ${r.export.peakRssMb} MiB; ` +
            `phases: export ${Math.round(r.phases.exportRowsPerSecond)} rows/s, verify ${Math.round(r.phases.verifyRowsPerSecond)}, delete ${Math.round(r.phases.deleteRowsPerSecond)}; ` +
            `writer alone ${Math.round(r.writerAlone.rowsPerSecond)} rows/s → export is ${Math.round(100 * r.exportShareOfWriter)}% of it; ` +
            `reading alone ${Math.round(r.readAlone.rowsPerSecond)} rows/s (${r.readAlone.cpuMicrosPerRow.toFixed(1)} µs here + ${r.readAlone.postgresMicrosPerRow?.toFixed(1) ?? '?'} µs PostgreSQL per row); ` +
            `reading + writing on one thread: at most ${Math.round(r.oneThread.boundRowsPerSecond)} rows/s → export is ${Math.round(100 * r.oneThread.exportShare)}% of it; ` +
            (r.machine
              ? `this machine (${r.machine.cores} cores shared with PostgreSQL), any threading: at most ${Math.round(r.machine.boundRowsPerSecond)} rows/s = ${Math.round(100 * r.machine.shareOfWriter)}% of the writer alone; `
              : '') +
            `CPU per row: export ${r.cpu.export.nodeMicrosPerRow.toFixed(1)} µs here + ${r.cpu.export.postgresMicrosPerRow?.toFixed(1) ?? '?'} µs PostgreSQL, ` +
            `whole run ${r.cpu.run.nodeMicrosPerRow.toFixed(1)} + ${r.cpu.run.postgresMicrosPerRow?.toFixed(1) ?? '?'} µs (+ ${r.cpu.run.s3MicrosPerRow?.toFixed(1) ?? '?'} µs in s3rver), writer alone ${r.writerAlone.cpuMicrosPerRow.toFixed(1)} µs; ` +
            `restore (${r.restore.rows} rows) ${Math.round(r.restore.rowsPerSecond)} rows/s, peak RSS ${r.restore.peakRssMb} MiB`,
        );
        const t = r.threaded;
        if (t)
          console.log(
            `retention on ${t.threads} export threads, the same rows inserted again (${t.insertSeconds.toFixed(0)} s): export+verify+delete ${t.seconds.toFixed(1)} s = ${Math.round(t.rowsPerSecond)} rows/s end to end ` +
              `(×${t.speedupEndToEnd.toFixed(2)} the one-thread run; ${Math.round(100 * t.endToEndShareOfWriter)}% of the writer alone); ` +
              `export phase ${Math.round(t.exportRowsPerSecond)} rows/s = ${Math.round(100 * t.exportShareOfWriter)}% of the writer alone (target ≥ 80%); ` +
              `peak RSS ${t.peakRssMb} MiB; CPU per row ${t.cpu.nodeMicrosPerRow.toFixed(1)} µs here (all threads) + ${t.cpu.postgresMicrosPerRow?.toFixed(1) ?? '?'} µs PostgreSQL (+ ${t.cpu.s3MicrosPerRow?.toFixed(1) ?? '?'} µs in s3rver)`,
          );
      }
      results.retention = runs;
    }
    if (which === 'all' || which === 'ingest') {
      const r = await withMigratedDatabase(pg.url, { prefix: 'bench', maxConnections: 4 }, (sql) =>
        benchIngest(sql, num('INGEST_EVENTS', 200_000)),
      );
      results.ingest = r;
      console.log(
        `ingest (pg driver): ${r.events} events (${r.eventsPerRecord} per SQS record, 10 records per call) in ${r.seconds.toFixed(2)} s = ` +
          `${Math.round(r.eventsPerSecond)} events/s (target ≥ 50000); ceiling (bare INSERT … SELECT of the same JSON) ` +
          `${Math.round(r.ceilingEventsPerSecond)} events/s; the ingest path reaches ${Math.round(100 * r.shareOfCeiling)}% of it`,
      );
    }
    if (which === 'all' || which === 'aggregate') {
      const r = await withMigratedDatabase(pg.url, { prefix: 'bench', maxConnections: 4 }, (sql) =>
        benchAggregate(sql, num('AGGREGATE_EVENTS', 10_000_000)),
      );
      results.aggregate = r;
      console.log(
        `aggregate: ${r.events} events over 30 days × 20 properties (generated in ${r.generateSeconds.toFixed(0)} s): ` +
          `one hourly run ${r.hourlySeconds.toFixed(2)} s (target < 1 s); the three daily jobs for one day ${r.dailyThreeSeconds.toFixed(2)} s (< 10 s); ` +
          `monthly ${r.monthlySeconds.toFixed(2)} s (< 60 s); the 20 properties over ${r.multiZone.zones} zones: hourly ${r.multiZone.hourlySeconds.toFixed(2)} s, ` +
          `three daily ${r.multiZone.dailyThreeSeconds.toFixed(2)} s, monthly ${r.multiZone.monthlySeconds.toFixed(2)} s`,
      );
      console.log(
        `aggregate, late data: rerun of ${r.lateBuckets} late (property, hour) buckets (1 % of the month) + the new hour ${r.lateRerunSeconds.toFixed(2)} s; ` +
          `recomputing the whole month ${r.wholeMonthSeconds.toFixed(2)} s; ratio ×${r.ratio.toFixed(1)}`,
      );
    }
  } finally {
    await redisServer.stop();
    await pg.stop();
  }
  console.log(JSON.stringify(results, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
