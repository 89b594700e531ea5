/**
 * Watchdog Lambda, every 15 minutes: each watched job's health (stale, failing) from the run ledger
 * only (read-only: GetItem, Query), published as `StaleJobs` / `FailingJobs`. WATCHED_JOBS names
 * each job and its limit (`archive=90,retention=1560,…`). No database access: the database size is
 * measured by the separate `database-size` function (./database-size.ts), which alone holds a database role.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ConfigError } from '../../lib/config';
import { DynamoRunLedgerReader } from '../shared/ledger/dynamodb-reader';
import { powertools } from '../shared/observability';
import { systemClock } from '../shared/runtime';
import { parseWatchedJobs, watch } from './watchdog';

const table = process.env.LEDGER_TABLE;
if (!table) throw new ConfigError('LEDGER_TABLE is required');
const { log, metrics } = powertools('watchdog');
const ledger = new DynamoRunLedgerReader({ client: new DynamoDBClient({}), tableName: table });
const jobs = parseWatchedJobs(process.env.WATCHED_JOBS ?? '');

export async function handler(event: { measureDatabase?: boolean } | undefined) {
  if (event?.measureDatabase) {
    throw new ConfigError('The watchdog has no database access: invoke the database-size function to measure the database');
  }
  return watch({ ledger, log, metrics, clock: systemClock }, jobs, { measureDatabase: false });
}
