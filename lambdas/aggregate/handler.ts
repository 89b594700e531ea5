/**
 * Aggregation Lambda: one function for the seven registry entries, each with its own schedule
 * (EventBridge Scheduler) sending `{ "job": "<name>" }`: each run closes, in every property's zone,
 * the periods that ended there (+ the grace), then re-derives the properties whose zone changed. Thin: wiring only.
 * Optional `period` ("2025-10-26") or `from`/`to` recompute closed periods (e.g. after a fix).
 */
import type { Context } from 'aws-lambda';
import { GRACE_MINUTES } from '../../lib/config';
import { createLedger, createSql, loadRuntimeConfig } from '../shared/deps';
import { powertools } from '../shared/observability';
import { systemClock } from '../shared/runtime';
import type { AggregateMode } from './aggregate';
import { aggregateJob } from './job';
import { aggregation } from './registry';

const config = loadRuntimeConfig();
const sql = createSql(config.sql);
const ledger = createLedger(config.ledger);
const TIMEOUT_MINUTES = 15;

export async function handler(event: { job?: string; period?: string; from?: string; to?: string } | undefined, context: Context) {
  if (!event?.job) throw new Error('The event must name the aggregation: { "job": "hourly_message_counts" }');
  const { log, metrics } = powertools(event.job);
  const def = aggregation(event.job);
  const mode: AggregateMode = event.period
    ? { kind: 'period', start: event.period }
    : event.from && event.to
      ? { kind: 'range', from: event.from, to: event.to }
      : // per zone, what has closed there (+ the grace of lib/config.ts); every hour, a daily job leaves alone the zones where nothing new has
        { kind: 'scheduled', graceMinutes: GRACE_MINUTES[def.granularity], onlyNew: def.granularity !== 'hourly' };
  const r = await aggregateJob(
    { sql, log, metrics, ledger, clock: systemClock, leaseMs: (TIMEOUT_MINUTES + 5) * 60_000, runId: context.awsRequestId },
    { job: event.job, mode, timeZone: config.env.aggregation.timeZone },
  );
  if (r.status === 'skipped') return { skipped: true, reason: r.reason };
  return r.outcome.rederived.length > 0 ? { ...r.outcome.result, rederived: r.outcome.rederived } : r.outcome.result;
}
