import { type Command, Option } from 'commander';
import { GRANULARITIES, METRICS } from '../../lambdas/analytics-api/metrics';
import { ENVIRONMENT_NAMES } from '../../lib/config';
import { callAnalytics, failed } from '../analytics-client';
import { renderTimeSeries } from '../analytics-format';
import { output, UsageError } from './common';

export function register(program: Command): void {
  program
    .command('timeseries')
    .description(`a metric over time (metrics: ${METRICS.map((m) => m.name).join(', ')})`)
    .requiredOption('--metric <name>', 'a registered metric')
    .addOption(new Option('--granularity <g>', 'period').choices(GRANULARITIES).makeOptionMandatory())
    .requiredOption('--from <date>', 'start (YYYY-MM-DD, inclusive)')
    .requiredOption('--to <date>', 'end (YYYY-MM-DD, exclusive)')
    .requiredOption('--property <id>', 'property id')
    // the API's parameter is `dimensions` (it takes `dimension` too): the same names here
    .option('--dimensions <names>', 'group by (comma-separated; --dimension is accepted too)')
    .addOption(new Option('--dimension <names>').hideHelp())
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
        dimensions?: string;
        dimension?: string;
        env?: string;
        region?: string;
        json?: boolean;
      }) => {
        if (o.dimensions !== undefined && o.dimension !== undefined)
          throw new UsageError('--dimensions and --dimension are one option: give it once (e.g. --dimensions channel,direction)');
        const r = await callAnalytics(o, '/timeseries', {
          metric: o.metric,
          granularity: o.granularity,
          from: o.from,
          to: o.to,
          property: o.property,
          dimensions: o.dimensions ?? o.dimension,
        });
        if (failed(r, ['from', 'to'])) return;
        const ts = JSON.parse(r.body);
        output(o.json, ts, () => console.log(renderTimeSeries(ts).join('\n')));
      },
    );
}
