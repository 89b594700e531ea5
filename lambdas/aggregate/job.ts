/** One aggregation run as a job: inside runExclusive (lock, ledger record, metrics), per registry entry. */
import type { RunLedger } from '../shared/ledger/types';
import type { Log, MetricsSink } from '../shared/observability';
import { type Clock, type RunResult, runExclusive } from '../shared/runtime';
import type { Sql } from '../shared/sql/types';
import { type AggregateMode, type AggregateResult, countersOf, runAggregation } from './aggregate';
import { aggregation } from './registry';

export interface AggregateJobDeps {
  readonly sql: Sql;
  readonly log: Log;
  readonly metrics: MetricsSink;
  readonly ledger: RunLedger;
  readonly clock: Clock;
  readonly leaseMs: number;
  readonly runId?: string;
}

export async function aggregateJob(
  deps: AggregateJobDeps,
  input: { job: string; mode: AggregateMode; timeZone: string },
): Promise<RunResult<{ counters: Record<string, number>; errors: number; result: AggregateResult }>> {
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
      const result = await runAggregation({ sql: deps.sql, log: deps.log, clock: deps.clock }, def, input.mode, input.timeZone);
      return { counters: countersOf(result), errors: 0, result };
    },
  );
}
