import { writeFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { ALL_SECTIONS, REPORT_TYPES } from '../../lambdas/analytics-api/reports';
import { ENVIRONMENT_NAMES } from '../../lib/config';
import { callAnalytics, failed } from '../analytics-client';
import { output } from './common';

export function register(program: Command): void {
  program
    .command('report')
    .description('a daily, weekly or monthly report as JSON, a CSV zip or one HTML page')
    .addOption(new Option('--type <type>', 'report type').choices(REPORT_TYPES).makeOptionMandatory())
    .requiredOption('--property <id>', 'property id')
    .requiredOption('--from <date>', 'first day of the period (a Monday for weekly, the 1st for monthly)')
    .option('--to <date>', 'end of the period (exclusive); checked against the type')
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'csv', 'html']).default('json'))
    .option('--sections <list>', `comma-separated: ${ALL_SECTIONS.join(', ')}`)
    .option('--out <file>', 'write the report to this file')
    .addOption(new Option('--env <env>', 'the deployed API (SigV4); default: local DATABASE_URL').choices(ENVIRONMENT_NAMES))
    .option('--region <region>', 'AWS region')
    .option('--json', 'machine-readable output (the report, or where it was written)')
    .action(
      async (o: {
        type: string;
        property: string;
        from: string;
        to?: string;
        format: string;
        sections?: string;
        out?: string;
        env?: string;
        region?: string;
        json?: boolean;
      }) => {
        const r = await callAnalytics(o, '/reports', {
          type: o.type,
          property: o.property,
          from: o.from,
          to: o.to,
          format: o.format,
          sections: o.sections,
        });
        if (failed(r)) return;
        const body = r.isBase64Encoded ? Buffer.from(r.body, 'base64') : r.body;
        if (o.out) {
          writeFileSync(o.out, body);
          output(o.json, { file: o.out, bytes: Buffer.byteLength(body), format: o.format }, () =>
            console.log(`Wrote ${o.out} (${Buffer.byteLength(body)} bytes)`),
          );
        } else if (o.format === 'csv') console.error('A CSV report is a zip: give --out FILE.zip');
        else process.stdout.write(o.format === 'json' ? `${JSON.stringify(JSON.parse(String(body)), null, 2)}\n` : String(body));
      },
    );
}
