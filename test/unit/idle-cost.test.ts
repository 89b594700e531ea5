import { IDLE_RUN_SECONDS, idleCost, PRICES, type TemplateJson } from '../../lib/idle-cost';

const usd = (t: TemplateJson, key: string) => idleCost([t]).lines.find((l) => l.key === key)?.usd;

const fn = (name: string, env: Record<string, string> = {}) => ({
  Type: 'AWS::Lambda::Function',
  Properties: { FunctionName: name, MemorySize: 1024, Environment: { Variables: env } },
});
const schedule = (target: string, expression: string, zone = 'UTC') => ({
  Type: 'AWS::Scheduler::Schedule',
  Properties: { ScheduleExpression: expression, ScheduleExpressionTimezone: zone, Target: { Arn: { 'Fn::GetAtt': [target, 'Arn'] } } },
});
const alarm = (props: Record<string, unknown>) => ({ Type: 'AWS::CloudWatch::Alarm', Properties: props });

describe('idle cost from a template', () => {
  it('prices alarms per metric they evaluate: standard, high resolution, anomaly bands, metric math, composite', () => {
    const t: TemplateJson = {
      Resources: {
        standard: alarm({ MetricName: 'Errors', Period: 300 }),
        highRes: alarm({ MetricName: 'Errors', Period: 10 }),
        anomaly: alarm({
          Metrics: [
            { Id: 'm0', MetricStat: { Period: 86400 } },
            { Id: 'ad1', Expression: 'ANOMALY_DETECTION_BAND(m0, 3)' },
          ],
        }),
        math: alarm({
          Metrics: [
            { Id: 'a', MetricStat: { Period: 60 } },
            { Id: 'b', MetricStat: { Period: 60 } },
            { Id: 'e', Expression: 'a+b' },
          ],
        }),
        composite: { Type: 'AWS::CloudWatch::CompositeAlarm', Properties: {} },
      },
    };
    // 1 + 3 + 2 standard metrics, 1 high-resolution, 1 composite
    expect(usd(t, 'alarms')).toBeCloseTo(6 * PRICES.alarmMetric + PRICES.alarmMetricHighResolution + PRICES.compositeAlarm, 2);
  });

  it('prices a published metric by the hours its function runs: every hour a full month, once a day a 24th', () => {
    const t = (cron: string, published: string): TemplateJson => ({
      Resources: { F: fn('dlc-x-job', { PUBLISHED_METRICS: published }), S: schedule('F', cron) },
    });
    expect(usd(t('cron(0/15 * * * ? *)', 'A,B'), 'custom-metrics')).toBeCloseTo(2 * PRICES.customMetricMonth, 2);
    expect(usd(t('cron(0 * * * ? *)', 'A'), 'custom-metrics')).toBeCloseTo(PRICES.customMetricMonth, 2);
    expect(usd(t('cron(0 1 * * ? *)', 'A,B,C'), 'custom-metrics')).toBeCloseTo((3 * PRICES.customMetricMonth) / 24, 2);
    expect(usd(t('cron(0 1 * * ? *)', '-'), 'custom-metrics')).toBe(0);
    // not scheduled (request-driven, manual): nothing at idle
    expect(usd({ Resources: { F: fn('dlc-x-api', { PUBLISHED_METRICS: 'A' }) } }, 'custom-metrics')).toBe(0);
  });

  it('keeps an auto-paused Aurora awake for each scheduled run of a function that queries it, overlaps counted once', () => {
    const cluster = (min: number) => ({
      Type: 'AWS::RDS::DBCluster',
      Properties: { ServerlessV2ScalingConfiguration: { MinCapacity: min, MaxCapacity: 2, SecondsUntilAutoPause: 300 } },
    });
    const db = { DB_DRIVER: 'data-api' };
    const awake = (resources: TemplateJson['Resources']) => usd({ Resources: { C: cluster(0), ...resources } }, 'aurora-capacity') ?? NaN;
    const perRun = ((IDLE_RUN_SECONDS + 300) / 3600) * PRICES.auroraAwakeAcu * PRICES.auroraAcuHour;
    const daily = awake({ F: fn('dlc-x-daily', db), S: schedule('F', 'cron(0 1 * * ? *)') });
    expect(daily).toBeCloseTo(perRun * (730 / 24), 1);
    // a second job five minutes later extends the same wake; the archive (Redis first) and functions without a database wake nothing
    const two = awake({
      F: fn('dlc-x-daily', db),
      S: schedule('F', 'cron(0 1 * * ? *)'),
      G: fn('dlc-x-other', db),
      T: schedule('G', 'cron(5 1 * * ? *)'),
      A: fn('dlc-x-archive', db),
      U: schedule('A', 'cron(0 * * * ? *)'),
      W: fn('dlc-x-watchdog'),
      V: schedule('W', 'cron(0/15 * * * ? *)'),
    });
    expect(two).toBeCloseTo(daily * ((IDLE_RUN_SECONDS + 300 + 300) / (IDLE_RUN_SECONDS + 300)), 1);
    // always on
    expect(usd({ Resources: { C: cluster(0.5) } }, 'aurora-capacity')).toBeCloseTo(0.5 * 730 * PRICES.auroraAcuHour, 2);
  });

  it('counts the fixed items: interface endpoints per AZ, NAT gateways, Valkey’s minimum, keys, secrets', () => {
    const t: TemplateJson = {
      Resources: {
        E: { Type: 'AWS::EC2::VPCEndpoint', Properties: { VpcEndpointType: 'Interface', SubnetIds: ['a', 'b'] } },
        G: { Type: 'AWS::EC2::VPCEndpoint', Properties: { VpcEndpointType: 'Gateway' } },
        N: { Type: 'AWS::EC2::NatGateway', Properties: {} },
        V: { Type: 'AWS::ElastiCache::ServerlessCache', Properties: {} },
        K: { Type: 'AWS::KMS::Key', Properties: {} },
        S1: { Type: 'AWS::SecretsManager::Secret', Properties: {} },
        S2: { Type: 'AWS::SecretsManager::Secret', Properties: {} },
      },
    };
    expect(usd(t, 'interface-endpoints')).toBeCloseTo(2 * PRICES.interfaceEndpointAzHour * 730, 2);
    expect(usd(t, 'nat')).toBeCloseTo(PRICES.natGatewayHour * 730, 2);
    expect(usd(t, 'valkey')).toBeCloseTo(PRICES.valkeyMinimumGb * PRICES.valkeyGbHour * 730, 2);
    expect(usd(t, 'kms')).toBe(PRICES.kmsKeyMonth);
    expect(usd(t, 'secrets')).toBe(2 * PRICES.secretMonth);
  });
});
