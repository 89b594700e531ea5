import { type Command, Option } from 'commander';
import { ENVIRONMENT_NAMES } from '../../lib/config';
import { callAnalytics, failed } from '../analytics-client';
import { renderDashboard } from '../analytics-format';
import { output } from './common';

export function register(program: Command): void {
  program
    .command('metrics')
    .description('dashboard metrics of a property (seed 001 DashboardMetrics)')
    .requiredOption('--property <id>', 'property id')
    .addOption(new Option('--env <env>', 'the deployed API (SigV4); default: local DATABASE_URL').choices(ENVIRONMENT_NAMES))
    .option('--region <region>', 'AWS region (with --env; default AWS_REGION)')
    .option('--json', 'machine-readable output')
    .action(async (o: { property: string; env?: string; region?: string; json?: boolean }) => {
      const r = await callAnalytics(o, '/dashboard', { property: o.property });
      if (failed(r)) return;
      const m = JSON.parse(r.body);
      output(o.json, m, () => console.log(renderDashboard(o.property, m).join('\n')));
    });
}
