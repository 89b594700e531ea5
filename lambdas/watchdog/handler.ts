/** Watchdog Lambda: every 15 minutes (ledger only); with `{ "measureDatabase": true }` also the database size. */
import { createLedger, createSql, loadRuntimeConfig } from '../shared/deps';
import { powertools } from '../shared/observability';
import { systemClock } from '../shared/runtime';
import { watch } from './watchdog';

const config = loadRuntimeConfig();
const { log, metrics } = powertools('watchdog');
const ledger = createLedger(config.ledger);
const sql = createSql(config.sql);
const jobs = (process.env.WATCHED_JOBS ?? '')
  .split(',')
  .filter(Boolean)
  .map((name) => ({ name }));

export async function handler(event: { measureDatabase?: boolean } | undefined) {
  return watch({ ledger, log, metrics, clock: systemClock, sql }, jobs, { measureDatabase: event?.measureDatabase === true });
}
