/**
 * Retention Lambda: run daily by EventBridge Scheduler, or invoked by an operator
 * (`npm run invoke -- retention --env prod --payload '{"restore": {...}}'`). Thin: wiring only.
 */
import type { Context } from 'aws-lambda';
import { ConfigError } from '../../lib/config';
import { createLedger, createSql, loadRuntimeConfig } from '../shared/deps';
import { powertools } from '../shared/observability';
import { deadline } from '../shared/runtime';
import { S3ColdStore, s3Client } from './cold-store';
import { type RestoreInput, restore } from './restore';
import { type RetentionInput, runRetention } from './retention';

const config = loadRuntimeConfig();
const bucket = process.env.COLD_BUCKET;
if (!bucket) throw new ConfigError('The retention function needs COLD_BUCKET');
const { log, metrics } = powertools('retention');
const sql = createSql(config.sql);
const ledger = createLedger(config.ledger);
const store = new S3ColdStore(s3Client(process.env.S3_ENDPOINT), bucket);
const r = config.env.retention;

export interface RetentionEvent extends RetentionInput {
  /** Restore instead of retention. */
  readonly restore?: RestoreInput;
}

export async function handler(event: RetentionEvent | null, context: Context) {
  if (event?.restore)
    return restore({ sql, store, log, holder: `lambda ${context.functionName ?? 'retention'} (restore)` }, r.policies, event.restore, {
      holdDays: r.restoreHoldDays,
      rowGroupRows: r.rowGroupRows,
    });
  const result = await runRetention(
    {
      sql,
      store,
      log,
      metrics,
      ledger,
      leaseMs: (r.timeoutMinutes + 5) * 60_000,
      deadline: deadline(context, 60_000),
      runId: context.awsRequestId,
      holder: `lambda ${context.functionName ?? 'retention'}`,
    },
    r,
    { dryRun: event?.dryRun, tables: event?.tables, days: event?.days },
  );
  if (result.status === 'skipped') return { skipped: true, reason: result.reason };
  return { ...result.run, tables: result.outcome.tables };
}
