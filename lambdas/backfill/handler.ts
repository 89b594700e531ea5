/**
 * Backfill Lambda: invoked by hand (no schedule), e.g. `npm run backfill -- --env prod`.
 * Event: { mode: "dry-run" | "apply" | "rollback", verbose?, filters?: { leadId, from, to, limit }, cursor? }.
 * Returns the statistics and, while not done, a cursor to call again with.
 */
import type { Context } from 'aws-lambda';
import { createLedger, createSql, loadRuntimeConfig } from '../shared/deps';
import { powertools } from '../shared/observability';
import { deadline, runExclusive, systemClock } from '../shared/runtime';
import { type BackfillRequest, backfill } from './backfill';

const config = loadRuntimeConfig();
const { log, metrics } = powertools('backfill');
const sql = createSql(config.sql);
const ledger = createLedger(config.ledger);
const MODES = new Set(['dry-run', 'apply', 'rollback']);

export async function handler(event: Partial<BackfillRequest> | undefined, context: Context) {
  const mode = event?.mode ?? 'dry-run';
  if (!MODES.has(mode)) throw new Error(`mode must be dry-run, apply or rollback, not "${String(mode)}"`);
  const result = await runExclusive(
    {
      job: 'backfill',
      ledger,
      log,
      metrics,
      leaseMs: (config.env.backfill.timeoutMinutes + 5) * 60_000,
      timeZone: 'UTC',
      runId: context.awsRequestId,
    },
    async ({ runId }) => {
      const r = await backfill(
        { sql, log, deadline: deadline(context, 60_000), clock: systemClock, runId: event?.cursor?.runId ?? runId },
        { ...event, mode, batchSize: event?.batchSize ?? config.env.backfill.batchSize },
      );
      return { result: r, counters: { ...r.call }, errors: r.call.errors, workRemaining: !r.done };
    },
  );
  if (result.status === 'skipped') return { skipped: true, reason: result.reason };
  return result.outcome.result;
}
