/**
 * Aggregation Lambda: one function for the seven registry entries, each with its own schedule
 * (EventBridge Scheduler, in the configured zone) sending `{ "job": "<name>" }`. Thin: wiring only.
 * Optional `period` ("2025-10-26") or `from`/`to` recompute closed periods (e.g. after a fix).
 */
import type { Context } from 'aws-lambda';
import { createLedger, createSql, loadRuntimeConfig } from '../shared/deps';
import { powertools } from '../shared/observability';
import { systemClock } from '../shared/runtime';
import type { AggregateMode } from './aggregate';
import { aggregateJob } from './job';

const config = loadRuntimeConfig();
const sql = createSql(config.sql);
const ledger = createLedger(config.ledger);
const TIMEOUT_MINUTES = 15;

export async function handler(event: { job?: string; period?: string; from?: string; to?: string } | undefined, context: Context) {
  if (!event?.job) throw new Error('The event must name the aggregation: { "job": "hourly_message_counts" }');
  const { log, metrics } = powertools(event.job);
  const mode: AggregateMode = event.period
    ? { kind: 'period', start: event.period }
    : event.from && event.to
      ? { kind: 'range', from: event.from, to: event.to }
      : { kind: 'scheduled' };
  const r = await aggregateJob(
    { sql, log, metrics, ledger, clock: systemClock, leaseMs: (TIMEOUT_MINUTES + 5) * 60_000, runId: context.awsRequestId },
    { job: event.job, mode, timeZone: config.env.aggregation.timeZone },
  );
  if (r.status === 'skipped') return { skipped: true, reason: r.reason };
  return r.outcome.result;
}
