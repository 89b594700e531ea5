import { type Command, Option } from 'commander';
import { GRANULARITIES, METRICS } from '../../lambdas/analytics-api/metrics';
import { ENVIRONMENT_NAMES } from '../../lib/config';
import { callAnalytics, failed } from '../analytics-client';
import { output } from './common';

export function register(program: Command): void {
  program
    .command('timeseries')
    .description(`a metric over time (metrics: ${METRICS.map((m) => m.name).join(', ')})`)
    .requiredOption('--metric <name>', 'a registered metric')
    .addOption(new Option('--granularity <g>', 'period').choices(GRANULARITIES).makeOptionMandatory())
    .requiredOption('--from <date>', 'start (YYYY-MM-DD, inclusive)')
    .requiredOption('--to <date>', 'end (YYYY-MM-DD, exclusive)')
    .requiredOption('--property <id>', 'property id')
    .option('--dimension <names>', 'group by (comma-separated)')
    .addOption(new Option('--env <env>', 'the deployed API (SigV4); default: local DATABASE_URL').choices(ENVIRONMENT_NAMES))
    .option('--region <region>', 'AWS region (with --env; default AWS_REGION)')
    .option('--json', 'machine-readable output')
    .action(
      async (o: {
        metric: string;
        granularity: string;
        from: string;
        to: string;
        property: string;
        dimension?: string;
        env?: string;
        region?: string;
        json?: boolean;
      }) => {
        const r = await callAnalytics(o, '/timeseries', {
          metric: o.metric,
          granularity: o.granularity,
          from: o.from,
          to: o.to,
          property: o.property,
          dimensions: o.dimension,
        });
        if (failed(r)) return;
        const ts = JSON.parse(r.body);
        output(o.json, ts, () => {
          console.log(`${ts.metric.name} (${ts.metric.unit}, ${ts.metric.rollup}) by ${ts.query.granularity}, ${ts.query.timeZone}`);
          for (const s of ts.series) {
            const dims = Object.entries(s.dimensions)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ');
            if (dims) console.log(`\n${dims}`);
            for (const p of s.points) console.log(`  ${p.period}  ${p.value ?? '—'}`);
          }
        });
      },
    );
}
