import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { IAM_ACTIONS as AGGREGATE_ACTIONS } from '../../lambdas/aggregate/permissions';
import { AGGREGATIONS } from '../../lambdas/aggregate/registry';
import { IAM_ACTIONS as INGEST_ACTIONS } from '../../lambdas/ingest/permissions';
import { buildApp } from '../../lib/app';
import { getEnvironment } from '../../lib/config';

const built = buildApp(new App(), { envName: 'dev' });
const t = Template.fromStack(built.jobs);
const config = getEnvironment('dev');

describe('analytics infrastructure (issue 14)', () => {
  it('has a KMS-encrypted, TLS-only events queue with a dead-letter queue and redrive policy', () => {
    t.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'dlc-dev-analytics-events',
      KmsMasterKeyId: Match.anyValue(),
      VisibilityTimeout: 6 * 60 + 5,
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 5 },
    });
    t.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'dlc-dev-analytics-events-dlq', KmsMasterKeyId: Match.anyValue() });
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true, Description: 'Analytics events queue and its dead-letter queue' });
    const policies = t.findResources('AWS::SQS::QueuePolicy');
    const denies = Object.values(policies).filter((p) => JSON.stringify(p).includes('"aws:SecureTransport":"false"'));
    expect(denies.length).toBeGreaterThanOrEqual(2);
  });

  it('feeds the ingest function with partial batch responses and a batching window', () => {
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 5,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      FunctionName: Match.anyValue(),
    });
    t.hasResourceProperties('AWS::Lambda::Function', { FunctionName: 'dlc-dev-ingest', Timeout: 60, Architectures: ['arm64'] });
  });

  it('schedules each registry aggregation in the configured zone, sending its name', () => {
    const schedules = Object.values(t.findResources('AWS::Scheduler::Schedule')).map((r) => r.Properties);
    for (const def of AGGREGATIONS) {
      const cfg = config.aggregation.jobs.find((j) => j.name === def.name);
      const s = schedules.find((p) => JSON.stringify(p.Target.Input ?? '').includes(def.name));
      expect(s).toMatchObject({ ScheduleExpression: cfg?.schedule.cron, ScheduleExpressionTimezone: 'Europe/Madrid' });
      expect(JSON.parse(s.Target.Input)).toEqual({ job: def.name });
      t.hasResourceProperties('AWS::Lambda::Function', { FunctionName: `dlc-dev-${def.name}`, Timeout: 15 * 60 });
    }
    const cron = (name: string) => schedules.find((p) => JSON.stringify(p.Target.Input).includes(name))?.ScheduleExpression;
    // dev runs them every 6 hours from 01:00, together (each run wakes its auto-paused Aurora), the weekly
    // one on Mondays and the monthly one on the 1st (when a week or month closes somewhere)
    expect(cron('hourly_message_counts')).toBe('cron(0 1/6 * * ? *)');
    expect(cron('hourly_response_times')).toBe('cron(5 1/6 * * ? *)');
    expect(cron('daily_conversation_metrics')).toBe('cron(0 1/6 * * ? *)');
    expect(cron('weekly_satisfaction_trends')).toBe('cron(0 1/6 ? * MON *)');
    expect(cron('monthly_summary')).toBe('cron(0 1/6 1 * ? *)');
    // elsewhere one schedule per aggregation closes each property's periods in its zone: the hourly ones
    // every 15 minutes (hours end at :00, :15, :30 or :45 UTC somewhere), the others every hour
    expect(getEnvironment('prod').aggregation.jobs.map((j) => j.schedule.cron)).toEqual([
      'cron(0/15 * * * ? *)',
      'cron(5/15 * * * ? *)',
      ...Array(5).fill('cron(0 * * * ? *)'),
    ]);
  });

  it('has the watchdog count an aggregation stale after its cadence’s limit', () => {
    const expected: Record<string, number> = {
      hourly_message_counts: 6 * 60 + 90, // dev: every 6 hours
      hourly_response_times: 6 * 60 + 90,
      daily_conversation_metrics: 6 * 60 + 90,
      daily_staff_performance: 6 * 60 + 90,
      daily_intent_distribution: 6 * 60 + 90,
      weekly_satisfaction_trends: 8 * 24 * 60,
      monthly_summary: 32 * 24 * 60,
    };
    const watchdog = Object.values(t.findResources('AWS::Lambda::Function')).find((f) => f.Properties.FunctionName === 'dlc-dev-watchdog');
    const watched = Object.fromEntries(
      String(watchdog?.Properties.Environment.Variables.WATCHED_JOBS)
        .split(',')
        .map((e) => e.split('=')),
    );
    for (const [job, minutes] of Object.entries(expected))
      expect({ job, minutes: watched[job] }).toEqual({ job, minutes: String(minutes) });
    expect(watched.ingest).toBeUndefined();
    // prod runs the hourly jobs every 15 minutes and the others every hour
    expect(getEnvironment('prod').analytics.staleAfterMinutes).toEqual({ hourly: 90, daily: 180, weekly: 180, monthly: 180 });
  });

  it('pages on dead letters, rejected events and a queue backlog', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'dlc-dev-analytics-IngestDlqNotEmpty',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 1,
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'dlc-dev-analytics-EventsRejected',
      MetricName: 'EventsRejected',
      Namespace: 'ConversationDataLifecycle',
      Dimensions: [{ Name: 'service', Value: 'ingest' }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'dlc-dev-analytics-IngestBacklog',
      MetricName: 'ApproximateAgeOfOldestMessage',
    });
  });

  it('shows ingest and aggregation widgets on the dashboard', () => {
    const dash = Object.values(t.findResources('AWS::CloudWatch::Dashboard'))[0];
    const body = JSON.stringify(dash?.Properties.DashboardBody);
    for (const title of [
      'Analytics ingest: events per 5 min',
      'Analytics queue: backlog and dead letters',
      'Aggregations: minutes since last success',
    ])
      expect(body).toContain(title);
  });

  const functionActions = (idPart: string): string[] =>
    Object.entries(t.findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.includes(idPart))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement.flatMap((s: { Action: string | string[] }) => [s.Action].flat()));

  it('grants each function at least the actions its code calls (permissions.ts), and the aggregations no queue access', () => {
    const aggregate = functionActions('AggregatemonthlysummaryFunctionServiceRole');
    expect(aggregate).toEqual(expect.arrayContaining([...AGGREGATE_ACTIONS]));
    expect(aggregate.filter((a) => a.startsWith('sqs:'))).toEqual([]);
    const ingest = functionActions('IngestFunctionServiceRole');
    expect(ingest).toEqual(expect.arrayContaining([...INGEST_ACTIONS, 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'kms:Decrypt']));
    expect(ingest.filter((a) => a.startsWith('dynamodb:'))).not.toContain('dynamodb:PutItem');
  });
});
