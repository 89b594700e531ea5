/** One aggregation run as a job: inside runExclusive (lock, ledger record, metrics), per registry entry. */
import type { RunLedger } from '../shared/ledger/types';
import type { Log, MetricsSink } from '../shared/observability';
import { type Clock, type RunResult, runExclusive } from '../shared/runtime';
import type { Sql } from '../shared/sql/types';
import { type AggregateMode, type AggregateResult, countersOf, runAggregation } from './aggregate';
import { type Rederivation, runRederivations } from './rederive';
import { type AggregationDefinition, aggregation } from './registry';

export interface AggregateJobDeps {
  readonly sql: Sql;
  readonly log: Log;
  readonly metrics: MetricsSink;
  readonly ledger: RunLedger;
  readonly clock: Clock;
  readonly leaseMs: number;
  readonly runId?: string;
}

/**
 * `mode` runs the aggregation; a scheduled run then carries out its table's pending re-derivations
 * (zone changes: lambdas/aggregate/rederive.ts). `rederive: P` runs only property P's re-derivation
 * (the CLI's `properties set`), and returns its results merged.
 */
export async function aggregateJob(
  deps: AggregateJobDeps,
  input: { job: string; mode: AggregateMode; timeZone: string; rederive?: string },
): Promise<RunResult<{ counters: Record<string, number>; errors: number; result: AggregateResult; rederived: Rederivation[] }>> {
  const def = aggregation(input.job);
  return runExclusive(
    {
      job: def.name,
      ledger: deps.ledger,
      log: deps.log,
      metrics: deps.metrics,
      leaseMs: deps.leaseMs,
      timeZone: input.timeZone,
      clock: deps.clock,
      runId: deps.runId,
    },
    async () => {
      const aggDeps = { sql: deps.sql, log: deps.log, clock: deps.clock };
      if (input.rederive !== undefined) {
        const rederived = await runRederivations(aggDeps, def, input.timeZone, input.rederive);
        const result = mergeResults(def, input.timeZone, rederived);
        const failed = rederived.filter((r) => r.error).length;
        return { counters: { ...countersOf(result), properties_rederived: rederived.length - failed }, errors: failed, result, rederived };
      }
      const result = await runAggregation(aggDeps, def, input.mode, input.timeZone);
      const rederived = input.mode.kind === 'scheduled' ? await runRederivations(aggDeps, def, input.timeZone) : [];
      const failed = rederived.filter((r) => r.error).length;
      return {
        counters: { ...countersOf(result), ...(rederived.length > 0 ? { properties_rederived: rederived.length - failed } : {}) },
        errors: failed,
        result,
        rederived,
      };
    },
  );
}

/** The results of several re-derivations as one (what the CLI prints). */
function mergeResults(def: AggregationDefinition, timeZone: string, runs: Rederivation[]): AggregateResult {
  const results = runs.flatMap((r) => (r.result ? [r.result] : []));
  const sum = (f: (r: AggregateResult) => number) => results.reduce((a, r) => a + f(r), 0);
  return {
    job: def.name,
    table: def.table,
    timeZone,
    periods: [...new Set(results.flatMap((r) => r.periods))],
    zones: results.flatMap((r) => r.zones),
    invalidatedBuckets: results.flatMap((r) => r.invalidatedBuckets),
    bucketsBeyondHorizon: results.flatMap((r) => r.bucketsBeyondHorizon),
    rawHorizon: results[0]?.rawHorizon ?? null,
    rowsComputed: sum((r) => r.rowsComputed),
    rowsWritten: sum((r) => r.rowsWritten),
    rowsZeroed: sum((r) => r.rowsZeroed),
  };
}
