/**
 * `npm run bench [-- archive|archive-costs|backfill|serving]`: speed and memory, measured here (never in tests).
 * Starts private PostgreSQL and Redis; sizes via env (ARCHIVE_CONVERSATIONS, ...).
 */
import { startPostgres, startRedis } from '../local/services';
import { benchArchive } from './archive.bench';
import { benchArchiveCosts } from './archive-costs.bench';
import { benchBackfill } from './backfill.bench';
import { withMigratedDatabase } from './db';
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
          `  monthly report + HTML (${r.htmlBytes} bytes): ${f(r.report)}  (target < 1000 ms)`,
      );
    }
    if (which === 'retention') {
      // Sizes in order (RETENTION_MESSAGES=1000000,5000000): peak RSS must not grow with N.
      const sizes = (process.env.RETENTION_MESSAGES ?? '1000000').split(',').map(Number);
      const runs = [];
      for (const n of sizes) {
        const r = await withMigratedDatabase(pg.url, { prefix: 'bench', maxConnections: 4 }, (sql) => benchRetention(sql, n));
        runs.push(r);
        console.log(
          `retention: ${r.rows} messages (inserted in ${r.insertSeconds.toFixed(0)} s); export+verify+delete ${r.export.seconds.toFixed(1)} s = ` +
            `${Math.round(r.export.rowsPerSecond)} rows/s end to end, ${r.export.objects} objects, ${(r.export.bytes / 1e6).toFixed(1)} MB, peak RSS ${r.export.peakRssMb} MiB; ` +
            `phases: export ${Math.round(r.phases.exportRowsPerSecond)} rows/s, verify ${Math.round(r.phases.verifyRowsPerSecond)}, delete ${Math.round(r.phases.deleteRowsPerSecond)}; ` +
            `writer alone ${Math.round(r.writerAlone.rowsPerSecond)} rows/s → export is ${Math.round(100 * r.exportShareOfWriter)}% of it; ` +
            `restore ${Math.round(r.restore.rowsPerSecond)} rows/s, peak RSS ${r.restore.peakRssMb} MiB`,
        );
      }
      results.retention = runs;
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
