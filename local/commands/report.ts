import { writeFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { addDays, addMonths, isDate, monthStart, weekStart } from '../../lambdas/analytics-api/periods';
import { ALL_SECTIONS, periodOf, REPORT_TYPES, type ReportType } from '../../lambdas/analytics-api/reports';
import { formatInZone } from '../../lambdas/shared/time';
import { ENVIRONMENT_NAMES, getEnvironment } from '../../lib/config';
import { callAnalytics, failed } from '../analytics-client';
import { output, UsageError } from './common';

interface Options {
  type: ReportType;
  property: string;
  from: string;
  to?: string;
  format: string;
  sections?: string;
  out?: string;
  env?: string;
  region?: string;
  json?: boolean;
}

/**
 * A report of a period that has not closed (today, this week, a future month) would show
 * incomplete numbers as if they were the period's: refused, naming the latest closed period.
 */
export function checkPeriodClosed(type: ReportType, from: string, timeZone: string, now: Date): void {
  if (!isDate(from)) return; // the API names a malformed date
  let period: { start: string; end: string };
  try {
    period = periodOf(type, from);
  } catch {
    return; // not a period start: the API says which is
  }
  const today = formatInZone(now, timeZone).slice(0, 10);
  if (period.end <= today) return;
  const latest =
    type === 'daily' ? addDays(today, -1) : type === 'weekly' ? addDays(weekStart(today), -7) : addMonths(monthStart(today), -1);
  throw new UsageError(
    `--from ${from}: the ${type} period ${period.start} to ${period.end} (${timeZone}) has not closed yet, so its report would be incomplete; ` +
      `the latest closed ${type} period starts ${latest}`,
  );
}

export function register(program: Command): void {
  program
    .command('report')
    .description('a daily, weekly or monthly report as JSON, a CSV zip or one HTML page')
    .addOption(new Option('--type <type>', 'report type').choices(REPORT_TYPES).makeOptionMandatory())
    .requiredOption('--property <id>', 'property id')
    .requiredOption('--from <date>', 'first day of a closed period (a Monday for weekly, the 1st for monthly)')
    .option('--to <date>', 'end of the period (exclusive); checked against the type')
    .addOption(new Option('--format <format>', 'output format (csv: a zip, needs --out)').choices(['json', 'csv', 'html']).default('json'))
    .option('--sections <list>', `comma-separated, as named in the JSON and CSV: ${ALL_SECTIONS.join(', ')}`)
    .option('--out <file>', 'write the report to this file')
    .addOption(new Option('--env <env>', 'the deployed API (SigV4); default: local DATABASE_URL').choices(ENVIRONMENT_NAMES))
    .option('--region <region>', 'AWS region (with --env; default AWS_REGION)')
    .option('--json', 'machine-readable output (the report, or where it was written)')
    .action(async (o: Options) => {
      if (o.format === 'csv' && !o.out) throw new UsageError('--format csv writes a zip of CSV files: give --out FILE.zip');
      checkPeriodClosed(o.type, o.from, getEnvironment(o.env ?? 'dev').aggregation.timeZone, new Date());
      const r = await callAnalytics(o, '/reports', {
        type: o.type,
        property: o.property,
        from: o.from,
        to: o.to,
        format: o.format,
        sections: o.sections,
      });
      if (failed(r, ['from', 'to'])) return;
      const body = r.isBase64Encoded ? Buffer.from(r.body, 'base64') : r.body;
      if (o.out) {
        writeFileSync(o.out, body);
        output(o.json, { file: o.out, bytes: Buffer.byteLength(body), format: o.format }, () =>
          console.log(`Wrote ${o.out} (${Buffer.byteLength(body)} bytes)`),
        );
      } else process.stdout.write(o.format === 'json' ? `${JSON.stringify(JSON.parse(String(body)), null, 2)}\n` : String(body));
    });
}
