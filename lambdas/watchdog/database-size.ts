/**
 * Database-size Lambda (daily where Aurora auto-pauses, hourly in prod): publishes
 * `DatabaseSizeBytes` for the growth-anomaly alarm. Connects as `dlc_watchdog` (no table
 * privilege); reads no ledger.
 */
import { createSql, loadRuntimeConfig } from '../shared/deps';
import { powertools } from '../shared/observability';
import { measureDatabaseSize } from './watchdog';

const config = loadRuntimeConfig();
const { log, metrics } = powertools('database-size');
const sql = createSql(config.sql);

export async function handler() {
  const databaseBytes = await measureDatabaseSize(sql, metrics);
  log.info('Database size', { databaseBytes });
  metrics.flush();
  return { databaseBytes };
}
