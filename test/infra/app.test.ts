import { App, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AGGREGATIONS } from '../../lambdas/aggregate/registry';
import { buildApp } from '../../lib/app';
import { ALARM_SUBSCRIBERS } from '../support/alarm-subscribers';

/** Each environment is built once (bundling the functions takes a few seconds). */
const built = new Map<string, ReturnType<typeof buildApp>>();
/** Staging and prod are synthesized with subscribers, as they must be deployed; dev without. */
const appFor = (name: 'dev' | 'staging' | 'prod') => new App(name === 'dev' ? {} : { context: ALARM_SUBSCRIBERS });
function env(name: 'dev' | 'staging' | 'prod') {
  let b = built.get(name);
  if (!b) {
    b = buildApp(appFor(name), { envName: name });
    built.set(name, b);
  }
  return b;
}
const stateful = (name: 'dev' | 'prod') => Template.fromStack(env(name).stateful);
const jobs = (name: 'dev' | 'prod') => Template.fromStack(env(name).jobs);

describe('environments', () => {
  it('refuses an unknown environment with the valid names', () => {
    expect(() => buildApp(new App(), { envName: 'qa' })).toThrow('Unknown environment "qa": expected one of dev, staging, prod');
  });

  it('synthesizes every environment with cdk-nag (AwsSolutions) and no unacknowledged finding', () => {
    for (const name of ['dev', 'staging', 'prod'] as const) {
      const app = appFor(name);
      buildApp(app, { envName: name });
      // Validation plugins run at synth: any finding throws.
      expect(() => app.synth()).not.toThrow();
      for (const stack of app.node.children.filter(Stack.isStack)) {
        expect(Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions'))).toEqual([]);
      }
    }
  });

  it('the same check stops synth on an unacknowledged finding', () => {
    const app = new App();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const stack = new Stack(app, 'Bad');
    new s3.Bucket(stack, 'Open'); // no TLS enforcement, no access logs
    expect(() => app.synth()).toThrow(/AwsSolutions-S(1|10)/);
  });
});

describe('stateful stack', () => {
  it('has isolated subnets, no NAT gateway, gateway endpoints for S3 and DynamoDB and an rds-data interface endpoint', () => {
    const t = stateful('dev');
    t.resourceCountIs('AWS::EC2::NatGateway', 0);
    t.resourceCountIs('AWS::EC2::InternetGateway', 0);
    t.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['.s3'])]) }),
    });
    t.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['.dynamodb'])]) }),
    });
    t.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Interface',
      PrivateDnsEnabled: true,
      ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['.rds-data'])]) }),
    });
  });

  it('runs Valkey serverless with TLS-only access from the archive function, usage limits and IAM users', () => {
    const t = stateful('dev');
    t.hasResourceProperties('AWS::ElastiCache::ServerlessCache', {
      Engine: 'valkey',
      ServerlessCacheName: 'dlc-dev-checkpoints',
      CacheUsageLimits: { DataStorage: { Maximum: 1, Unit: 'GB' }, ECPUPerSecond: { Maximum: 5000 } },
      UserGroupId: Match.anyValue(),
    });
    t.hasResourceProperties('AWS::ElastiCache::User', { UserName: 'default', AccessString: 'off -@all' });
    t.hasResourceProperties('AWS::ElastiCache::User', {
      UserId: 'dlc-dev-archive',
      UserName: 'dlc-dev-archive',
      AuthenticationMode: { Type: 'iam' },
    });
    const sgs = t.findResources('AWS::EC2::SecurityGroup', { Properties: { GroupDescription: 'Valkey: the archive function only' } });
    const cacheSg = Object.values(sgs)[0] as { Properties: { SecurityGroupIngress?: unknown[] } };
    expect(cacheSg.Properties.SecurityGroupIngress ?? []).toEqual([]); // ingress is a separate rule from one SG:
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 6379,
      ToPort: 6380,
      IpProtocol: 'tcp',
      SourceSecurityGroupId: Match.anyValue(),
    });
  });

  it('runs Aurora Serverless v2 PostgreSQL 17 with the Data API: paused at 0 ACU in dev, warm and protected in prod', () => {
    stateful('dev').hasResourceProperties('AWS::RDS::DBCluster', {
      Engine: 'aurora-postgresql',
      EngineVersion: Match.stringLikeRegexp('^17\\.'),
      EnableHttpEndpoint: true,
      StorageEncrypted: true,
      DeletionProtection: false,
      BackupRetentionPeriod: 1,
      ServerlessV2ScalingConfiguration: { MinCapacity: 0, MaxCapacity: 2, SecondsUntilAutoPause: 300 },
    });
    const prod = stateful('prod');
    prod.hasResourceProperties('AWS::RDS::DBCluster', {
      DeletionProtection: true,
      BackupRetentionPeriod: 14,
      ServerlessV2ScalingConfiguration: Match.objectEquals({ MinCapacity: 0.5, MaxCapacity: 16 }),
    });
    prod.hasResource('AWS::RDS::DBCluster', { DeletionPolicy: 'Snapshot', UpdateReplacePolicy: 'Snapshot' });
    stateful('dev').hasResource('AWS::RDS::DBCluster', { DeletionPolicy: 'Delete' });
  });

  it('keeps cold storage private, TLS-only, KMS-encrypted, versioned, tiered to Glacier IR only (restore and Athena read every object), with access logs', () => {
    const t = stateful('prod');
    t.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          Match.objectLike({ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() } }),
        ],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'cold-storage/' }),
      LifecycleConfiguration: {
        Rules: [
          Match.objectLike({
            // Only classes that GetObject (restore) and Athena read in real time: nothing archived.
            Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 30 }],
          }),
        ],
      },
    });
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
    t.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    stateful('dev').hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
  });

  it('has an on-demand run ledger with point-in-time recovery and TTL', () => {
    stateful('dev').hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
    });
  });

  it('pages through an encrypted, TLS-only topic with the email and HTTPS subscribers given at synth', () => {
    const prod = stateful('prod');
    prod.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    prod.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
    for (const email of ALARM_SUBSCRIBERS.alarmEmails.split(','))
      prod.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: email });
    prod.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'https', Endpoint: ALARM_SUBSCRIBERS.alarmHttpsEndpoints });
    stateful('dev').resourceCountIs('AWS::SNS::Subscription', 0);
  });
});

describe('jobs stack', () => {
  it('deploys ARM64 Node 24 functions with source maps; only the archive and privacy functions (Valkey) are in the VPC', () => {
    const t = jobs('dev');
    const fns = t.findResources('AWS::Lambda::Function', { Properties: { FunctionName: Match.stringLikeRegexp('^dlc-dev-') } });
    const byName = Object.fromEntries(
      Object.values(fns).map((f) => [
        (f as { Properties: { FunctionName: string } }).Properties.FunctionName,
        (f as { Properties: Record<string, unknown> }).Properties,
      ]),
    );
    expect(Object.keys(byName).sort()).toEqual(
      [
        'dlc-dev-analytics-api',
        'dlc-dev-archive',
        'dlc-dev-backfill',
        'dlc-dev-database-size',
        'dlc-dev-migrate',
        'dlc-dev-reports-daily',
        'dlc-dev-reports-monthly',
        'dlc-dev-reports-weekly',
        'dlc-dev-retention',
        'dlc-dev-privacy',
        'dlc-dev-watchdog',
        'dlc-dev-ingest',
        ...AGGREGATIONS.map((a) => `dlc-dev-${a.name}`),
      ].sort(),
    );
    for (const [name, p] of Object.entries(byName)) {
      expect(p.Runtime).toBe('nodejs24.x');
      expect(p.Architectures).toEqual(['arm64']);
      expect((p.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
        NODE_OPTIONS: '--enable-source-maps',
        ENV_NAME: 'dev',
        // the 15-minute watchdog reads the ledger only: no database settings at all
        ...(name === 'dlc-dev-watchdog' ? {} : { DB_DRIVER: 'data-api' }),
      });
      expect(p.VpcConfig !== undefined).toBe(name === 'dlc-dev-archive' || name === 'dlc-dev-privacy');
    }
    expect(byName['dlc-dev-archive']?.Timeout).toBe(900);
    // Seed 000: the archive's log lines are stamped in Europe/Madrid (Powertools reads TZ).
    expect(byName['dlc-dev-archive']?.Environment).toMatchObject({ Variables: { TZ: 'Europe/Madrid' } });
  });

  it('schedules the archive every 15 minutes (Europe/Madrid) with retries and a dead-letter queue', () => {
    jobs('dev').hasResourceProperties('AWS::Scheduler::Schedule', {
      Name: 'dlc-dev-archive',
      ScheduleExpression: 'cron(0/15 * * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Madrid',
      Target: Match.objectLike({
        Input: JSON.stringify({ source: 'schedule' }),
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
        DeadLetterConfig: { Arn: Match.anyValue() },
      }),
    });
    jobs('dev').hasResourceProperties('AWS::Scheduler::Schedule', { Name: 'dlc-dev-watchdog', ScheduleExpression: 'cron(0/15 * * * ? *)' });
  });

  it('gives the archive function least privilege: Data API on its cluster, its ledger, Valkey connect as its user', () => {
    const t = jobs('dev');
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(['rds-data:BatchExecuteStatement', 'rds-data:ExecuteStatement']),
            Resource: Match.anyValue(),
          }),
          Match.objectLike({ Action: 'elasticache:Connect', Effect: 'Allow', Resource: [Match.anyValue(), Match.anyValue()] }),
        ]),
      },
    });
    const policies = JSON.stringify(t.findResources('AWS::IAM::Policy'));
    expect(policies).not.toMatch(/"Action":"\*"/);
  });

  it('runs the migrations through a custom resource keyed on the digest of sql/', () => {
    const t = jobs('dev');
    t.hasResourceProperties('Custom::SchemaMigrations', { sqlDigest: Match.stringLikeRegexp('^[0-9a-f]{64}$') });
    t.resourcePropertiesCountIs('AWS::Scheduler::Schedule', { Name: 'dlc-dev-migrate' }, 0);
  });

  it('deploys the backfill for manual invocation only: no schedule, no alarm (whoever runs it sees it fail)', () => {
    const t = jobs('dev');
    t.resourcePropertiesCountIs('AWS::Scheduler::Schedule', { Name: 'dlc-dev-backfill' }, 0);
    t.hasResourceProperties('AWS::Lambda::Function', { FunctionName: 'dlc-dev-backfill', Timeout: 900, MemorySize: 1024 });
    for (const env of ['dev', 'prod'] as const) expect(alarmNames(env).filter((n) => /-(backfill|migrate)-/.test(n))).toEqual([]);
    // the watchdog watches every job that runs on a cadence and records runs (not the manual, deploy-time or request-driven ones)
    const [watchdog] = Object.values(t.findResources('AWS::Lambda::Function', { Properties: { FunctionName: 'dlc-dev-watchdog' } }));
    const watched = String(watchdog?.Properties.Environment.Variables.WATCHED_JOBS)
      .split(',')
      .map((entry) => entry.split('=')[0])
      .sort();
    expect(watched).toEqual(
      ['archive', 'retention', 'reports-daily', 'reports-weekly', 'reports-monthly', ...AGGREGATIONS.map((a) => a.name)].sort(),
    );
  });

  const alarmNames = (env: 'dev' | 'prod') =>
    Object.values(jobs(env).findResources('AWS::CloudWatch::Alarm')).map((a) => String(a.Properties.AlarmName));

  it('pages when a job is stale or failing, or when the watchdog that says so stops (missing data is breaching)', () => {
    const t = jobs('dev');
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'dlc-dev-jobs-stale',
      MetricName: 'StaleJobs',
      Namespace: 'ConversationDataLifecycle',
      Dimensions: [{ Name: 'service', Value: 'watchdog' }],
      Period: 900,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'breaching',
      AlarmActions: [Match.anyValue()],
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'dlc-dev-jobs-failing',
      MetricName: 'FailingJobs',
      Threshold: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [Match.anyValue()],
    });
    // each watched job with its own limit: the scheduled reports too
    const [watchdog] = Object.values(t.findResources('AWS::Lambda::Function', { Properties: { FunctionName: 'dlc-dev-watchdog' } }));
    const limits = Object.fromEntries(
      String(watchdog?.Properties.Environment.Variables.WATCHED_JOBS)
        .split(',')
        .map((e) => e.split('=')),
    );
    expect(limits).toMatchObject({
      archive: '40',
      retention: String(26 * 60),
      'reports-daily': String(6 * 60 + 90), // dev: every 6 hours
      'reports-weekly': String(8 * 24 * 60),
      'reports-monthly': String(32 * 24 * 60),
    });
    // the watchdog publishes only what the alarms and the dashboard read
    expect(watchdog?.Properties.Environment.Variables.PUBLISHED_METRICS).toBe('FailingJobs,StaleJobs');
  });

  it('pages on a stale archive from its own metric (no success in 40 min, while the threads due since can still be archived), independently of the watchdog', () => {
    jobs('dev').hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'dlc-dev-archive-Stale',
      MetricName: 'RunsSucceeded',
      Namespace: 'ConversationDataLifecycle',
      Dimensions: [{ Name: 'service', Value: 'archive' }],
      Period: 2400,
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      TreatMissingData: 'breaching',
      AlarmActions: [Match.anyValue()],
    });
  });

  it('sends every schedule’s undelivered invocations to one dead-letter queue, which pages', () => {
    const t = jobs('dev');
    t.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'dlc-dev-schedules-dlq' });
    const [dlq] = Object.keys(t.findResources('AWS::SQS::Queue', { Properties: { QueueName: 'dlc-dev-schedules-dlq' } }));
    const schedules = Object.values(t.findResources('AWS::Scheduler::Schedule'));
    expect(schedules.length).toBeGreaterThan(10);
    for (const s of schedules) expect(s.Properties.Target.DeadLetterConfig).toEqual({ Arn: { 'Fn::GetAtt': [dlq, 'Arn'] } });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'dlc-dev-schedules-DlqNotEmpty',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: Match.anyValue() }],
      Threshold: 1,
    });
  });

  it('adds each function’s own alarms in prod (errors at once, duration near the timeout, throttles where nothing retries), not in dev', () => {
    const prod = jobs('prod');
    for (const suffix of ['LambdaErrors', 'DurationNearTimeout'])
      prod.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: `dlc-prod-archive-${suffix}`, TreatMissingData: 'notBreaching' });
    prod.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'dlc-prod-archive-DurationNearTimeout', Threshold: 720_000 });
    for (const fn of ['analytics-api', 'ingest'])
      prod.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: `dlc-prod-${fn}-Throttles` });
    for (const a of AGGREGATIONS) prod.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: `dlc-prod-${a.name}-LambdaErrors` });
    // dev: only the database-size function's errors, which nothing else would notice
    expect(alarmNames('dev').filter((n) => /-(LambdaErrors|DurationNearTimeout|Throttles)$/.test(n))).toEqual([
      'dlc-dev-database-size-LambdaErrors',
    ]);
  });

  it('pages on Valkey memory and ECPU, Aurora at its maximum capacity, and a database growth anomaly', () => {
    const t = jobs('prod');
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'dlc-prod-valkey-memory-high',
      MetricName: 'BytesUsedForCache',
      Threshold: 10 * 1024 ** 3 * 0.8,
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'dlc-prod-valkey-ecpu-high',
      MetricName: 'ElastiCacheProcessingUnits',
      Threshold: 50_000 * 60 * 0.8,
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'dlc-prod-aurora-at-max-capacity',
      MetricName: 'ServerlessDatabaseCapacity',
      Threshold: 16,
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'dlc-prod-database-growth-anomaly',
      ComparisonOperator: 'GreaterThanUpperThreshold',
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'ANOMALY_DETECTION_BAND(m0, 3)' })]),
    });
    t.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('measures the database daily where Aurora auto-pauses (inside a wake it has anyway), hourly in prod', () => {
    jobs('dev').hasResourceProperties('AWS::Scheduler::Schedule', {
      Name: 'dlc-dev-database-size',
      // while the daily aggregations (01:00) keep the cluster awake anyway
      ScheduleExpression: 'cron(10 1 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Madrid',
    });
    jobs('prod').hasResourceProperties('AWS::Scheduler::Schedule', {
      Name: 'dlc-prod-database-size',
      ScheduleExpression: 'cron(15 * * * ? *)',
    });
  });

  it('matches the snapshot, asset hashes normalised', () => {
    const normalise = (t: Template) => JSON.parse(JSON.stringify(t.toJSON()).replace(/[0-9a-f]{64}(\.zip)?/g, '<hash>'));
    expect({ stateful: normalise(stateful('dev')), jobs: normalise(jobs('dev')) }).toMatchSnapshot();
  });
});
