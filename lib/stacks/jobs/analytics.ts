/**
 * Issue 14's infrastructure: the ingest queue (KMS, TLS-only, DLQ with redrive), the ingest function
 * (partial batch responses), one aggregation function per registry entry with its schedule in the
 * configured zone (the watchdog counts each stale after its cadence's limit), DLQ, backlog and
 * rejected-events alarms, and dashboard widgets. Called once from JobsStack.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { IAM_ACTIONS as AGGREGATE_IAM_ACTIONS } from '../../../lambdas/aggregate/permissions';
import { AGGREGATIONS } from '../../../lambdas/aggregate/registry';
import { IAM_ACTIONS as INGEST_IAM_ACTIONS } from '../../../lambdas/ingest/permissions';
import type { EnvironmentConfig } from '../../config';
import { jobHealthWidget } from '../../constructs/job-health-widget';
import { runbookLink } from '../../constructs/runbook';
import { type FunctionAlarm, ScheduledJob } from '../../constructs/scheduled-job';
import type { JobDefaults } from '../jobs-stack';

export interface AnalyticsProps {
  readonly config: EnvironmentConfig;
  /** What every job shares; its removal policy also applies to the queues (events not yet ingested) and their key. */
  readonly jobDefaults: JobDefaults;
  /** The per-function alarms asked for, where the environment has them. */
  readonly functionAlarms: (...kinds: FunctionAlarm[]) => FunctionAlarm[];
  /** Data API settings of a job: its database role's secret (lambdas/shared/db-roles.ts). */
  readonly dbEnv: (job: string) => Record<string, string>;
  readonly ledgerEnv: Record<string, string>;
  /** Grants exactly a function's permissions.ts actions on its resources and registers it with the stack. */
  readonly add: (job: ScheduledJob, permissions: readonly string[]) => ScheduledJob;
}

export class Analytics extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly ingest: ScheduledJob;
  readonly aggregations: ScheduledJob[];
  readonly alarms: cloudwatch.Alarm[] = [];
  private readonly envName: string;

  constructor(scope: Construct, id: string, props: AnalyticsProps) {
    super(scope, id);
    this.envName = props.config.name;
    const { config } = props;
    const an = config.analytics;
    const common = props.jobDefaults;
    const removalPolicy = common.removalPolicy;
    const action = new actions.SnsAction(common.alarmTopic);
    const alarm = (alarmId: string, a: cloudwatch.AlarmProps & { alarmDescription: string }) => {
      const alarmName = `dlc-${config.name}-analytics-${alarmId}`;
      const created = new cloudwatch.Alarm(this, alarmId, {
        ...a,
        alarmName,
        alarmDescription: `${a.alarmDescription} ${runbookLink(config.name, alarmName)}`,
      });
      created.addAlarmAction(action);
      created.addOkAction(action);
      this.alarms.push(created);
      return created;
    };

    // ------------------------------------------------------------ queue → ingest
    const key = new kms.Key(this, 'QueueKey', {
      description: 'Analytics events queue and its dead-letter queue',
      enableKeyRotation: true,
      removalPolicy,
    });
    this.deadLetterQueue = new sqs.Queue(this, 'EventsDlq', {
      queueName: `dlc-${config.name}-analytics-events-dlq`,
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy,
    });
    const ingestTimeout = Duration.seconds(an.ingestTimeoutSeconds);
    this.queue = new sqs.Queue(this, 'Events', {
      queueName: `dlc-${config.name}-analytics-events`,
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: key,
      dataKeyReuse: Duration.hours(1),
      enforceSSL: true,
      // AWS: at least 6 × the function timeout plus the batching window.
      visibilityTimeout: Duration.seconds(6 * an.ingestTimeoutSeconds + an.ingestBatchingWindowSeconds),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: an.maxReceiveCount },
      removalPolicy,
    });
    this.ingest = props.add(
      new ScheduledJob(this, 'Ingest', {
        ...common,
        environment: props.dbEnv('ingest'),
        name: 'ingest',
        entry: 'lambdas/ingest/handler.ts',
        timeout: ingestTimeout,
        memorySize: 1024,
        alarms: props.functionAlarms('LambdaErrors', 'DurationNearTimeout', 'Throttles'),
      }),
      INGEST_IAM_ACTIONS,
    );
    this.ingest.fn.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: an.ingestBatchSize,
        maxBatchingWindow: an.ingestBatchingWindowSeconds > 0 ? Duration.seconds(an.ingestBatchingWindowSeconds) : undefined,
        reportBatchItemFailures: true,
      }),
    );
    alarm('IngestDlqNotEmpty', {
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `Analytics events could not be written after every retry: they wait in dlc-${config.name}-analytics-events-dlq.`,
    });
    alarm('EventsRejected', {
      metric: this.ingest.jobMetric('EventsRejected', Duration.hours(1)),
      threshold: an.rejectedEventsAlarmPerHour,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: 'The app sent events that fail validation (kept in analytics_events_rejected).',
    });
    alarm('IngestBacklog', {
      metric: this.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 15 * 60,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `Analytics events wait more than 15 min in dlc-${config.name}-analytics-events.`,
    });

    // ------------------------------------------------------------ one function + schedule per registry entry
    this.aggregations = AGGREGATIONS.map((def) => {
      const schedule = config.aggregation.jobs.find((j) => j.name === def.name);
      if (!schedule) throw new Error(`lib/config.ts has no schedule for the aggregation "${def.name}"`);
      if (schedule.granularity !== def.granularity)
        throw new Error(`${def.name}: config says ${schedule.granularity}, the registry ${def.granularity}`);
      const job = props.add(
        new ScheduledJob(this, `Aggregate-${def.name}`, {
          ...common,
          environment: { ...props.dbEnv(def.name), ...props.ledgerEnv },
          name: def.name,
          entry: 'lambdas/aggregate/handler.ts',
          timeout: Duration.minutes(an.aggregationTimeoutMinutes),
          memorySize: 512,
          schedule: { cron: schedule.schedule.cron, timeZone: schedule.schedule.timeZone, input: { job: def.name } },
          staleAfter: Duration.minutes(an.staleAfterMinutes[def.granularity]),
          alarms: props.functionAlarms('LambdaErrors'),
        }),
        AGGREGATE_IAM_ACTIONS,
      );
      return job;
    });
  }

  /** The analytics widgets of the operations dashboard. */
  widgets(): cloudwatch.IWidget[] {
    const ingest = this.ingest;
    return [
      new cloudwatch.GraphWidget({
        title: 'Analytics ingest: events per 5 min',
        left: ['EventsAccepted', 'EventsDuplicate', 'EventsRejected', 'LateDataInvalidations', 'RecordsFailed'].map((m) =>
          ingest.jobMetric(m, Duration.minutes(5)),
        ),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Analytics queue: backlog and dead letters',
        left: [
          this.queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
          this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
        ],
        right: [this.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: 'Maximum' })],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Aggregations: rows written and late buckets per run',
        left: this.aggregations.map((j) => j.jobMetric('RowsWritten', Duration.hours(1))),
        right: this.aggregations.map((j) => j.jobMetric('LateBucketsRecomputed', Duration.hours(1))),
        width: 12,
      }),
      jobHealthWidget(
        this.envName,
        'Aggregations: minutes since last success',
        this.aggregations.map((j) => j.name),
      ),
    ];
  }
}
