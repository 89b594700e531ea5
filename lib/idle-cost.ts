/**
 * What an environment costs per month with nothing to do but its schedules, computed from its
 * synthesized CloudFormation templates: every alarm at its CloudWatch price, the metrics the
 * functions publish for the hours their schedules run them, how long the schedules keep an
 * auto-paused Aurora awake, and the fixed items (endpoints, cache, keys, secrets…).
 * test/infra/idle-cost.test.ts keeps dev under its target and docs/deploy.md's table equal to it.
 *
 * Unit prices are AWS list prices in USD (eu-west-1 where it differs), in `PRICES`, each with
 * what it prices; the free tiers (10 alarm metrics, 10 custom metrics, 1 M SQS requests…) are
 * left out, since an account usually holds more than one environment.
 */
import { parseCron } from './cron';

export const PRICES = {
  /** A standard-resolution (period ≥ 60 s) alarm, per metric it evaluates (an anomaly band counts 3). */
  alarmMetric: 0.1,
  /** A high-resolution (period < 60 s) alarm, per metric. */
  alarmMetricHighResolution: 0.3,
  /** A composite alarm. */
  compositeAlarm: 0.5,
  /** A custom metric for a month; billed by the hour in which it receives data (0.30 / 730 per hour). */
  customMetricMonth: 0.3,
  /** An interface VPC endpoint, per AZ, per hour. */
  interfaceEndpointAzHour: 0.011,
  /** A NAT gateway, per hour (its data processing left out). */
  natGatewayHour: 0.048,
  /** ElastiCache Serverless for Valkey, per GB-hour of data stored; 100 MB is the minimum billed. */
  valkeyGbHour: 0.0837,
  valkeyMinimumGb: 0.1,
  /** Aurora Serverless v2, per ACU-hour (rounded up from the eu-west-1 list price); 0.5 ACU while awake. */
  auroraAcuHour: 0.14,
  auroraAwakeAcu: 0.5,
  /** Aurora storage, per GB-month, and the size assumed for an idle environment. */
  auroraStorageGbMonth: 0.11,
  auroraIdleStorageGb: 1,
  /** A customer-managed KMS key, per month (its first year: each rotation adds 1 USD for two years). */
  kmsKeyMonth: 1,
  /** A Secrets Manager secret, per month. */
  secretMonth: 0.4,
  /** A CloudWatch dashboard beyond the account's first three, per month. */
  dashboardMonth: 3,
  /** Lambda on ARM: per GB-second and per request. */
  lambdaArmGbSecond: 0.0000133334,
  lambdaRequest: 0.0000002,
  /** SQS requests (an event source mapping's empty long polls). */
  sqsRequest: 0.0000004,
  /** CloudWatch Logs ingestion, per GB. */
  logsIngestGb: 0.57,
  /** DynamoDB (the watchdog's reads, the jobs' run records), S3 (listings, tiny objects), REJECT-only flow logs: not modelled. */
  otherMonth: 0.2,
} as const;

/** How long an idle run keeps the database busy: resuming it (~15 s) and finding nothing to do take well under this. */
export const IDLE_RUN_SECONDS = 60;
/** An idle run's billed Lambda duration on average (a cold start, a resume to wait for, a few reads). */
export const IDLE_LAMBDA_SECONDS = 10;
/** The same for a function whose idle run does not query PostgreSQL: no resume to wait for (a cold start, a few reads). */
export const IDLE_LAMBDA_SECONDS_WITHOUT_DATABASE = 3;
/** What an idle run writes to CloudWatch Logs (START/END/REPORT, its log lines, the EMF line). */
export const IDLE_RUN_LOG_BYTES = 4_096;
/** Functions with a database role whose idle run does not query PostgreSQL: the archive reads Redis first and finds nothing to write. */
export const IDLE_WITHOUT_DATABASE = ['archive'] as const;
/** A Lambda poller on an SQS queue: five long polls of 20 s at once, when the queue stays empty. */
export const SQS_POLLERS = 5;

const HOURS_PER_MONTH = 730;
/** The reference year the schedules are evaluated over: 52 whole weeks from a Monday. */
const YEAR_FROM = new Date('2025-01-06T00:00:00Z');
const YEAR_DAYS = 364;
const PER_MONTH = HOURS_PER_MONTH / (YEAR_DAYS * 24);

interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}
export interface TemplateJson {
  readonly Resources: Record<string, Resource>;
}

export interface CostLine {
  /** A stable key, e.g. `alarms`. */
  readonly key: string;
  readonly item: string;
  /** How the figure was reached, in a few words. */
  readonly basis: string;
  /** USD per month. */
  readonly usd: number;
}

export interface IdleCost {
  readonly lines: readonly CostLine[];
  readonly total: number;
}

/** Whether a function's idle run queries PostgreSQL through the Data API (and so waits for Aurora to resume). */
const queriesDatabaseIdle = (f: Fn): boolean =>
  f.env.DB_DRIVER === 'data-api' && !IDLE_WITHOUT_DATABASE.some((n) => f.name.endsWith(`-${n}`));

interface Fn {
  readonly id: string;
  readonly name: string;
  readonly memoryMb: number;
  readonly env: Record<string, unknown>;
  /** UTC instants (ms) of its scheduled runs over the reference year. */
  readonly runs: number[];
}

export function idleCost(templates: readonly TemplateJson[]): IdleCost {
  const resources = templates.flatMap((t) => Object.entries(t.Resources).map(([id, r]) => ({ id, ...r })));
  const ofType = (type: string) => resources.filter((r) => r.Type === type);
  const fns = functionsWithRuns(resources);
  const lines: CostLine[] = [];
  const line = (key: string, item: string, basis: string, usd: number) => lines.push({ key, item, basis, usd: round(usd) });

  // ------------------------------------------------------------------ alarms
  const priced = alarmPrices(templates);
  const standard = priced.reduce((n, a) => n + a.standardMetrics, 0);
  const highRes = priced.reduce((n, a) => n + a.highResolutionMetrics, 0);
  const composite = priced.filter((a) => a.composite).length;
  line(
    'alarms',
    `CloudWatch alarms (${priced.length})`,
    `${standard} standard alarm metrics × ${PRICES.alarmMetric}` +
      (highRes ? ` + ${highRes} high-resolution × ${PRICES.alarmMetricHighResolution}` : '') +
      (composite ? ` + ${composite} composite × ${PRICES.compositeAlarm}` : '') +
      ' (an anomaly band counts 3)',
    priced.reduce((n, a) => n + a.usd, 0),
  );

  // ------------------------------------------------------------------ custom metrics: published names × the hours the schedules run each function
  let metricMonths = 0;
  let metricNames = 0;
  for (const f of fns) {
    const published = String(f.env.PUBLISHED_METRICS ?? '')
      .split(',')
      .filter((n) => n && n !== '-');
    if (!published.length || !f.runs.length) continue;
    const hours = new Set(f.runs.map((t) => Math.floor(t / 3_600_000))).size * PER_MONTH;
    metricNames += published.length;
    metricMonths += (published.length * Math.min(hours, HOURS_PER_MONTH)) / HOURS_PER_MONTH;
  }
  line(
    'custom-metrics',
    'Custom metrics (EMF)',
    `${metricNames} published by scheduled functions, ${metricMonths.toFixed(2)} metric-months × ${PRICES.customMetricMonth}`,
    metricMonths * PRICES.customMetricMonth,
  );

  // ------------------------------------------------------------------ network
  const nat = ofType('AWS::EC2::NatGateway').length;
  line('nat', 'NAT gateways', `${nat} × ${PRICES.natGatewayHour} USD/h`, nat * PRICES.natGatewayHour * HOURS_PER_MONTH);
  const endpointAzs = ofType('AWS::EC2::VPCEndpoint')
    .filter((e) => e.Properties?.VpcEndpointType === 'Interface')
    .reduce((n, e) => n + ((e.Properties?.SubnetIds as unknown[] | undefined)?.length ?? 1), 0);
  line(
    'interface-endpoints',
    'Interface VPC endpoints (rds-data)',
    `${endpointAzs} AZ × ${PRICES.interfaceEndpointAzHour} USD/h`,
    endpointAzs * PRICES.interfaceEndpointAzHour * HOURS_PER_MONTH,
  );

  // ------------------------------------------------------------------ Valkey
  const caches = ofType('AWS::ElastiCache::ServerlessCache').length;
  line(
    'valkey',
    'ElastiCache Serverless (Valkey)',
    `${caches} × ${PRICES.valkeyMinimumGb} GB minimum × ${PRICES.valkeyGbHour} USD/GB-h`,
    caches * PRICES.valkeyMinimumGb * PRICES.valkeyGbHour * HOURS_PER_MONTH,
  );

  // ------------------------------------------------------------------ Aurora
  for (const c of ofType('AWS::RDS::DBCluster')) {
    const scaling = (c.Properties?.ServerlessV2ScalingConfiguration ?? {}) as {
      MinCapacity?: number;
      SecondsUntilAutoPause?: number;
    };
    const min = scaling.MinCapacity ?? 0.5;
    if (min > 0) {
      line(
        'aurora-capacity',
        'Aurora Serverless v2 capacity',
        `${min} ACU always on × ${PRICES.auroraAcuHour} USD/ACU-h`,
        min * HOURS_PER_MONTH * PRICES.auroraAcuHour,
      );
    } else {
      const pause = (scaling.SecondsUntilAutoPause ?? 300) * 1000;
      const wakers = fns.filter((f) => f.runs.length > 0 && queriesDatabaseIdle(f));
      const awakeMs = unionLength(wakers.flatMap((f) => f.runs.map((t): [number, number] => [t, t + IDLE_RUN_SECONDS * 1000 + pause])));
      const awakeHours = (awakeMs / 3_600_000) * PER_MONTH;
      line(
        'aurora-capacity',
        'Aurora Serverless v2 capacity (auto-paused)',
        `awake ${awakeHours.toFixed(1)} h/month (${wakers.length} scheduled functions query it; each run keeps it up ${pause / 60_000} min more) × ${PRICES.auroraAwakeAcu} ACU × ${PRICES.auroraAcuHour} USD/ACU-h`,
        awakeHours * PRICES.auroraAwakeAcu * PRICES.auroraAcuHour,
      );
    }
    line(
      'aurora-storage',
      'Aurora storage',
      `${PRICES.auroraIdleStorageGb} GB × ${PRICES.auroraStorageGbMonth} USD/GB-month`,
      PRICES.auroraIdleStorageGb * PRICES.auroraStorageGbMonth,
    );
  }

  // ------------------------------------------------------------------ keys, secrets, dashboards
  const keys = ofType('AWS::KMS::Key').length;
  line('kms', 'KMS keys', `${keys} × ${PRICES.kmsKeyMonth}`, keys * PRICES.kmsKeyMonth);
  const secrets = ofType('AWS::SecretsManager::Secret').length;
  line('secrets', 'Secrets Manager secrets', `${secrets} × ${PRICES.secretMonth}`, secrets * PRICES.secretMonth);
  const dashboards = ofType('AWS::CloudWatch::Dashboard').length;
  line('dashboards', 'CloudWatch dashboards', `${dashboards}, within the account's first three (${PRICES.dashboardMonth} each beyond)`, 0);

  // ------------------------------------------------------------------ the schedules' own runs
  const runsPerMonth = (f: Fn) => f.runs.length * PER_MONTH;
  const invocations = fns.reduce((n, f) => n + runsPerMonth(f), 0);
  const gbSeconds = fns.reduce(
    (n, f) =>
      n + runsPerMonth(f) * (f.memoryMb / 1024) * (queriesDatabaseIdle(f) ? IDLE_LAMBDA_SECONDS : IDLE_LAMBDA_SECONDS_WITHOUT_DATABASE),
    0,
  );
  line(
    'lambda',
    'Lambda (scheduled runs)',
    `${Math.round(invocations)} runs × ${IDLE_LAMBDA_SECONDS} s (${IDLE_LAMBDA_SECONDS_WITHOUT_DATABASE} s without a database query) at their memory = ${Math.round(gbSeconds)} GB-s`,
    gbSeconds * PRICES.lambdaArmGbSecond + invocations * PRICES.lambdaRequest,
  );
  const pollers = ofType('AWS::Lambda::EventSourceMapping').length * SQS_POLLERS;
  const polls = pollers * ((HOURS_PER_MONTH * 3600) / 20);
  line(
    'sqs-polling',
    'SQS (the ingest poller on an empty queue)',
    `${pollers} long polls of 20 s = ${Math.round(polls / 1000)}k requests`,
    polls * PRICES.sqsRequest,
  );
  line(
    'logs',
    'CloudWatch Logs (scheduled runs)',
    `${Math.round(invocations)} runs × ${IDLE_RUN_LOG_BYTES / 1024} KB`,
    ((invocations * IDLE_RUN_LOG_BYTES) / 1024 ** 3) * PRICES.logsIngestGb,
  );
  line('other', 'DynamoDB, S3, flow logs at idle', 'allowance, not modelled', PRICES.otherMonth);

  return { lines, total: round(lines.reduce((n, l) => n + l.usd, 0)) };
}

export interface AlarmPrice {
  readonly name: string;
  readonly standardMetrics: number;
  readonly highResolutionMetrics: number;
  readonly composite: boolean;
  /** USD per month. */
  readonly usd: number;
}

/** Each alarm of the templates at its CloudWatch price: per metric it evaluates (an anomaly band counts 3), or as a composite. */
export function alarmPrices(templates: readonly TemplateJson[]): AlarmPrice[] {
  const out: AlarmPrice[] = [];
  for (const t of templates)
    for (const [id, r] of Object.entries(t.Resources)) {
      const p = r.Properties ?? {};
      const name = String(p.AlarmName ?? id);
      if (r.Type === 'AWS::CloudWatch::CompositeAlarm') {
        out.push({ name, standardMetrics: 0, highResolutionMetrics: 0, composite: true, usd: PRICES.compositeAlarm });
        continue;
      }
      if (r.Type !== 'AWS::CloudWatch::Alarm') continue;
      const queries = (p.Metrics as { MetricStat?: { Period?: number }; Expression?: string }[] | undefined) ?? [];
      const metrics = queries.length
        ? queries.filter((q) => q.MetricStat).length + (queries.some((q) => q.Expression?.includes('ANOMALY_DETECTION_BAND')) ? 2 : 0)
        : 1;
      const period = queries.length
        ? Math.min(...queries.flatMap((q) => (q.MetricStat?.Period ? [q.MetricStat.Period] : [60])))
        : Number(p.Period ?? 60);
      const highRes = period < 60;
      out.push({
        name,
        standardMetrics: highRes ? 0 : metrics,
        highResolutionMetrics: highRes ? metrics : 0,
        composite: false,
        usd: metrics * (highRes ? PRICES.alarmMetricHighResolution : PRICES.alarmMetric),
      });
    }
  return out;
}

/** The cost as a Markdown table (docs/deploy.md holds it, test/infra/idle-cost.test.ts compares). */
export function costTable(cost: IdleCost): string {
  const rows = cost.lines.map((l) => `| ${l.item} | ${l.basis} | ${l.usd.toFixed(2)} |`);
  return [
    '| item | from the template | USD / month |',
    '| --- | --- | ---: |',
    ...rows,
    `| **total** | | **${cost.total.toFixed(2)}** |`,
  ].join('\n');
}

/** Every function with the UTC instants of its scheduled runs over the reference year. */
function functionsWithRuns(resources: readonly (Resource & { id: string })[]): Fn[] {
  const fns = new Map<string, Fn>();
  for (const r of resources)
    if (r.Type === 'AWS::Lambda::Function' && r.Properties) {
      const env = ((r.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}) as Record<
        string,
        unknown
      >;
      fns.set(r.id, {
        id: r.id,
        name: String(r.Properties.FunctionName ?? r.id),
        memoryMb: Number(r.Properties.MemorySize ?? 128),
        env,
        runs: [],
      });
    }
  for (const r of resources) {
    if (r.Type !== 'AWS::Scheduler::Schedule' || r.Properties?.State === 'DISABLED') continue;
    const p = r.Properties ?? {};
    const arn = (p.Target as { Arn?: { 'Fn::GetAtt'?: [string, string] } } | undefined)?.Arn?.['Fn::GetAtt']?.[0];
    const fn = arn ? fns.get(arn) : undefined;
    if (!fn) throw new Error(`Schedule ${r.id}: its target is not a function of these templates`);
    const zone = String(p.ScheduleExpressionTimezone ?? 'UTC');
    fn.runs.push(...parseCron(String(p.ScheduleExpression)).firesIn(zone, YEAR_FROM, YEAR_DAYS));
  }
  return [...fns.values()];
}

/** The length covered by a set of [start, end) intervals. */
function unionLength(intervals: [number, number][]): number {
  const sorted = intervals.sort((a, b) => a[0] - b[0]);
  let total = 0;
  let [start, end] = [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY];
  for (const [a, b] of sorted) {
    if (a > end) {
      if (end > start) total += end - start;
      [start, end] = [a, b];
    } else end = Math.max(end, b);
  }
  if (end > start && Number.isFinite(start)) total += end - start;
  return total;
}

const round = (usd: number) => Math.round(usd * 100) / 100;
