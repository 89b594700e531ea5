import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustomResource, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as cr from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import { IAM_ACTIONS as archivePermissions } from '../../lambdas/archive/permissions';
import { IAM_ACTIONS as backfillPermissions } from '../../lambdas/backfill/permissions';
import { IAM_ACTIONS as migratePermissions } from '../../lambdas/migrate/permissions';
import { DB_ROLES, roleForJob } from '../../lambdas/shared/db-roles';
import { IAM_ACTIONS as watchdogPermissions } from '../../lambdas/watchdog/permissions';
import type { EnvironmentConfig } from '../config';
import { actionsFor, grantExactly, type ServiceResources } from '../constructs/grants';
import { jobHealthWidget } from '../constructs/job-health-widget';
import { runbookLink } from '../constructs/runbook';
import { type FunctionAlarm, PROJECT_ROOT, ScheduledJob, type ScheduledJobProps } from '../constructs/scheduled-job';
import { Analytics } from './jobs/analytics';
import { addAnalyticsServing } from './jobs/analytics-api';
import { privacyJob } from './jobs/privacy';
import { retentionJob } from './jobs/retention';
import type { StatefulStack } from './stateful-stack';

type Permissions = readonly string[] | Readonly<Record<string, readonly string[]>>;

export interface JobsStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  readonly stateful: StatefulStack;
}

/** A digest of `sql/`: the migration custom resource updates (and runs) only when it changes. */
export function sqlDigest(dir = join(PROJECT_ROOT, 'sql')): string {
  const hash = createHash('sha256');
  for (const f of readdirSync(dir).sort()) hash.update(f).update(readFileSync(join(dir, f)));
  return hash.digest('hex');
}

/** A digest of the role registry: the migration custom resource re-runs (and reconciles the roles) when it changes. */
export function rolesDigest(): string {
  return createHash('sha256').update(JSON.stringify(DB_ROLES)).digest('hex');
}

const RETENTION: Record<number, logs.RetentionDays> = {
  14: logs.RetentionDays.TWO_WEEKS,
  30: logs.RetentionDays.ONE_MONTH,
  90: logs.RetentionDays.THREE_MONTHS,
};

/** What every job of the stack shares. */
export type JobDefaults = Pick<ScheduledJobProps, 'envName' | 'alarmTopic' | 'logRetention' | 'removalPolicy' | 'scheduleDeadLetterQueue'>;

/** The jobs: functions, schedules, alarms, the migration custom resource, the dashboard. */
export class JobsStack extends Stack {
  readonly jobs: Record<string, ScheduledJob> = {};
  /** Env name, alarm topic, log retention, removal policy, the schedules' dead-letter queue. */
  readonly jobDefaults: JobDefaults;
  /** Where a schedule puts an invocation it could not deliver: one queue, `dlc-<env>-schedules-dlq`. */
  readonly scheduleDeadLetterQueue: sqs.Queue;
  /** The per-function alarms asked for, in environments that have them (`alarms.perFunction`), else none. */
  readonly functionAlarms: (...kinds: FunctionAlarm[]) => FunctionAlarm[];
  /** Data API settings for a job's function: its own database role's secret (lambdas/shared/db-roles.ts). */
  readonly databaseEnvironment: (job: string) => Record<string, string>;
  /** What each service's actions apply to, for a job: pass to `grantExactly` with its permissions.ts. */
  readonly serviceResources: (job: string) => ServiceResources;

  constructor(scope: Construct, id: string, props: JobsStackProps) {
    super(scope, id, props);
    const { config, stateful } = props;
    const logRetention = RETENTION[config.logRetentionDays] ?? logs.RetentionDays.ONE_MONTH;
    const cluster = stateful.cluster;
    const masterSecret = cluster.secret;
    if (!masterSecret) throw new Error('The Aurora cluster has no master secret');
    // In prod (retainData) the log groups outlive the stack: they are the jobs' audit trail.
    const removalPolicy = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    // One dead-letter queue for every schedule: a dead-letter event names its schedule and target.
    this.scheduleDeadLetterQueue = new sqs.Queue(this, 'ScheduleDlq', {
      queueName: `dlc-${config.name}-schedules-dlq`,
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.scheduleDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the dead-letter queue of the schedules; its contents page through the schedules-DlqNotEmpty alarm.',
    });
    const common: JobDefaults = {
      envName: config.name,
      alarmTopic: stateful.alarmTopic,
      logRetention,
      removalPolicy,
      scheduleDeadLetterQueue: this.scheduleDeadLetterQueue,
    };
    this.jobDefaults = common;
    this.functionAlarms = (...kinds) => (config.alarms.perFunction ? kinds : []);
    const fnAlarms = this.functionAlarms;
    const ledgerEnv = { LEDGER_TABLE: stateful.ledger.tableName };
    /** Data API settings for a job: its own role's secret (the registry), never the master's. */
    const dbEnv = (job: string) => {
      const role = roleForJob(job);
      const secret = role && stateful.roleSecrets[role.name];
      if (!secret) throw new Error(`No database role for job ${job} in lambdas/shared/db-roles.ts`);
      return {
        DB_DRIVER: 'data-api',
        DB_CLUSTER_ARN: cluster.clusterArn,
        DB_SECRET_ARN: secret.secretArn,
        DB_NAME: config.aurora.databaseName,
      };
    };
    /** The resources each service's actions apply to, for a job (its role's secret only). */
    const resources = (job: string, secrets?: readonly string[]): ServiceResources => {
      const role = roleForJob(job);
      const roleSecret = role ? stateful.roleSecrets[role.name]?.secretArn : undefined;
      return {
        'rds-data': [cluster.clusterArn],
        secretsmanager: secrets ?? (roleSecret ? [roleSecret] : []),
        dynamodb: [stateful.ledger.tableArn],
        elasticache: [stateful.cache.attrArn, stateful.archiveCacheUser.attrArn],
      };
    };
    this.databaseEnvironment = dbEnv;
    this.serviceResources = (job) => resources(job);
    const add = (job: ScheduledJob, permissions: Permissions, secrets?: readonly string[]) => {
      grantExactly(job.fn, actionsFor(permissions, job.name), resources(job.name, secrets));
      this.jobs[job.name] = job;
      return job;
    };

    // ---------------------------------------------------------------- archive (every 15 minutes, in the VPC)
    add(
      new ScheduledJob(this, 'Archive', {
        ...common,
        name: 'archive',
        entry: 'lambdas/archive/handler.ts',
        timeout: Duration.minutes(config.archive.timeoutMinutes),
        memorySize: 1024,
        schedule: { cron: config.archive.schedule.cron, timeZone: config.archive.schedule.timeZone, input: { source: 'schedule' } },
        vpc: { vpc: stateful.vpc, securityGroups: [stateful.archiveSecurityGroup] },
        staleAfter: Duration.minutes(config.archive.staleAfterMinutes),
        staleAlarm: true,
        alarms: fnAlarms('LambdaErrors', 'DurationNearTimeout'),
        environment: {
          ...dbEnv('archive'),
          ...ledgerEnv,
          VALKEY_ENDPOINT: `${stateful.cache.attrEndpointAddress}:${stateful.cache.attrEndpointPort}`,
          VALKEY_CACHE_NAME: stateful.cache.serverlessCacheName,
          VALKEY_USER: stateful.archiveCacheUser.userId,
          // Seed 000: every timestamp the job logs in Europe/Madrid. Powertools stamps log lines in
          // TZ (not a reserved variable in Lambda); the job's own times are formatted explicitly.
          TZ: config.archive.schedule.timeZone,
        },
      }),
      archivePermissions,
    );

    // ---------------------------------------------------------------- migrations + database roles (each deploy whose sql/ or roles changed)
    // The only function with the master secret; it also reads every role's secret to set its password.
    const migrate = add(
      new ScheduledJob(this, 'Migrate', {
        ...common,
        name: 'migrate',
        entry: 'lambdas/migrate/handler.ts',
        timeout: Duration.minutes(10),
        copyDirs: ['sql'],
        environment: {
          DB_DRIVER: 'data-api',
          DB_CLUSTER_ARN: cluster.clusterArn,
          DB_SECRET_ARN: masterSecret.secretArn,
          DB_NAME: config.aurora.databaseName,
          DB_ROLE_SECRETS: this.toJsonString(
            Object.fromEntries(Object.entries(stateful.roleSecrets).map(([r, sec]) => [r, sec.secretArn])),
          ),
        },
      }),
      migratePermissions,
      [masterSecret.secretArn, ...Object.values(stateful.roleSecrets).map((sec) => sec.secretArn)],
    );
    const provider = new cr.Provider(this, 'MigrationsProvider', {
      onEventHandler: migrate.fn,
      logGroup: new logs.LogGroup(this, 'MigrationsProviderLogs', { retention: logRetention, removalPolicy }),
    });
    Validations.of(provider).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'The CDK custom-resource Provider framework picks its own runtime.',
    });
    Validations.of(provider).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'The CDK Provider framework function uses the AWS-managed basic execution role (logs only).',
    });
    Validations.of(provider).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(migrate.fn.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
      reason: 'The CDK Provider framework may invoke every version of the migration function (`:*`).',
    });
    const migrations = new CustomResource(this, 'Migrations', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::SchemaMigrations',
      properties: { sqlDigest: sqlDigest(), rolesDigest: rolesDigest() },
    });
    migrations.node.addDependency(cluster);

    // ---------------------------------------------------------------- backfill (manual: npm run backfill -- --env <env>)
    add(
      new ScheduledJob(this, 'Backfill', {
        ...common,
        name: 'backfill',
        entry: 'lambdas/backfill/handler.ts',
        timeout: Duration.minutes(config.backfill.timeoutMinutes),
        memorySize: 1024,
        environment: { ...dbEnv('backfill'), ...ledgerEnv },
      }),
      backfillPermissions,
    );

    // ---------------------------------------------------------------- analytics read side: API (Function URL, IAM) + scheduled reports
    const serving = addAnalyticsServing(this, { config, stateful });
    this.jobs[serving.api.name] = serving.api;
    for (const r of serving.reports) this.jobs[r.name] = r;
    // ---------------------------------------------------------------- retention to S3 cold storage (daily)
    retentionJob(this, { config, stateful, common: { ...common, environment: { ...dbEnv('retention'), ...ledgerEnv } } });
    // ---------------------------------------------------------------- privacy (manual: npm run invoke -- privacy --env <env> --payload '{…}')
    privacyJob(this, { config, stateful, common: { ...common, environment: dbEnv('privacy') } });

    // ---------------------------------------------------------------- analytics: ingest queue + seven aggregations (issue 14)
    const analytics = new Analytics(this, 'Analytics', {
      config,
      jobDefaults: common,
      functionAlarms: fnAlarms,
      dbEnv,
      ledgerEnv,
      add,
    });

    // ---------------------------------------------------------------- watchdog (jobs that run on a cadence): the ledger only
    // Every job with a cadence and a ledger record, with its own limit (ingest is a queue consumer,
    // the API request-driven, migrate and backfill run when someone runs them: nothing to be late for).
    const watched = Object.values(this.jobs).flatMap((j) => (j.staleAfter ? [`${j.name}=${j.staleAfter.toMinutes()}`] : []));
    const watchdog = add(
      new ScheduledJob(this, 'Watchdog', {
        ...common,
        name: 'watchdog',
        entry: 'lambdas/watchdog/handler.ts',
        timeout: Duration.minutes(1),
        schedule: { cron: 'cron(0/15 * * * ? *)', timeZone: 'UTC', input: {} },
        environment: { ...ledgerEnv, WATCHED_JOBS: watched.join(',') },
        alarms: fnAlarms('LambdaErrors'),
      }),
      watchdogPermissions,
    );
    // The database size is measured by its own function (the only watchdog code with a database
    // role): hourly in prod; where Aurora auto-pauses, once a day at 01:10 while the daily
    // aggregations (01:00) keep it awake anyway. Nothing else would notice it failing (the growth
    // alarm treats a missing day as normal): its errors page in every environment.
    const pauses = config.aurora.minCapacityAcu === 0;
    const databaseSize = new ScheduledJob(this, 'DatabaseSize', {
      ...common,
      name: 'database-size',
      entry: 'lambdas/watchdog/database-size.ts',
      timeout: Duration.minutes(2),
      schedule: {
        cron: pauses ? 'cron(10 1 * * ? *)' : 'cron(15 * * * ? *)',
        timeZone: pauses ? config.aggregation.timeZone : 'UTC',
        input: {},
      },
      environment: dbEnv('database-size'),
      alarms: ['LambdaErrors'],
    });
    grantExactly(databaseSize.fn, actionsFor(watchdogPermissions, 'database-size'), resources('database-size'));

    this.jobAlarms(config, watchdog);
    this.platformAlarms(config, stateful, databaseSize);
    this.dashboard(config, watchdog).addWidgets(...analytics.widgets());
  }

  /** An alarm of the stack, its description ending with its runbook link. */
  private alarm(config: EnvironmentConfig, id: string, props: cloudwatch.AlarmProps & { alarmName: string; alarmDescription: string }) {
    return new cloudwatch.Alarm(this, id, {
      ...props,
      alarmDescription: `${props.alarmDescription} ${runbookLink(config.name, props.alarmName)}`,
    });
  }

  /** Every job at once: the watchdog's stale and failing counts, and the schedules' dead letters. */
  private jobAlarms(config: EnvironmentConfig, watchdog: ScheduledJob): void {
    const action = new actions.SnsAction(this.jobDefaults.alarmTopic);
    const add = (a: cloudwatch.Alarm) => {
      a.addAlarmAction(action);
      a.addOkAction(action);
    };
    const every15 = Duration.minutes(15);
    add(
      this.alarm(config, 'JobsStale', {
        alarmName: `dlc-${config.name}-jobs-stale`,
        metric: watchdog.jobMetric('StaleJobs', every15, 'Maximum'),
        threshold: 1,
        // Two quarter-hours: one late watchdog run does not page; two missing ones do.
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // No value means the watchdog itself stopped or fails: that pages too.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        alarmDescription: 'A job has not succeeded within its limit, or the watchdog that checks every 15 minutes has stopped reporting.',
      }),
    );
    add(
      this.alarm(config, 'JobsFailing', {
        alarmName: `dlc-${config.name}-jobs-failing`,
        metric: watchdog.jobMetric('FailingJobs', every15, 'Maximum'),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // A silent watchdog is jobs-stale's to report.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: 'A job failed or reported errors on its last two runs (seed 000: errors > 0 consistently).',
      }),
    );
    add(
      this.alarm(config, 'SchedulesDlqNotEmpty', {
        alarmName: `dlc-${config.name}-schedules-DlqNotEmpty`,
        metric: this.scheduleDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(5),
          statistic: 'Maximum',
        }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `A schedule could not invoke its function after its retries: the event waits in dlc-${config.name}-schedules-dlq.`,
      }),
    );
  }

  private platformAlarms(config: EnvironmentConfig, stateful: StatefulStack, databaseSize: ScheduledJob): void {
    const action = new actions.SnsAction(stateful.alarmTopic);
    const add = (alarm: cloudwatch.AlarmBase) => {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    };
    const cacheDims = { clusterId: stateful.cache.serverlessCacheName };
    add(
      this.alarm(config, 'ValkeyMemoryHigh', {
        alarmName: `dlc-${config.name}-valkey-memory-high`,
        metric: new cloudwatch.Metric({
          namespace: 'AWS/ElastiCache',
          metricName: 'BytesUsedForCache',
          dimensionsMap: cacheDims,
          statistic: 'Maximum',
          period: Duration.minutes(5),
        }),
        threshold: config.valkey.maxDataStorageGb * 1024 ** 3 * 0.8,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: 'Valkey above 80% of its storage limit: checkpoints are piling up.',
      }),
    );
    add(
      this.alarm(config, 'ValkeyEcpuHigh', {
        alarmName: `dlc-${config.name}-valkey-ecpu-high`,
        metric: new cloudwatch.Metric({
          namespace: 'AWS/ElastiCache',
          metricName: 'ElastiCacheProcessingUnits',
          dimensionsMap: cacheDims,
          statistic: 'Sum',
          period: Duration.minutes(1),
        }),
        threshold: config.valkey.maxEcpuPerSecond * 60 * 0.8,
        evaluationPeriods: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: 'Valkey above 80% of its ECPU limit.',
      }),
    );
    add(
      this.alarm(config, 'AuroraAtMaxCapacity', {
        alarmName: `dlc-${config.name}-aurora-at-max-capacity`,
        metric: stateful.cluster.metricServerlessDatabaseCapacity({ statistic: 'Maximum', period: Duration.minutes(5) }),
        threshold: config.aurora.maxCapacityAcu,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: 'Aurora has been at its maximum ACU for 15 minutes.',
      }),
    );
    const growth = `dlc-${config.name}-database-growth-anomaly`;
    add(
      new cloudwatch.AnomalyDetectionAlarm(this, 'DatabaseGrowthAnomaly', {
        alarmName: growth,
        metric: databaseSize.jobMetric('DatabaseSizeBytes', Duration.days(1), 'Maximum'),
        stdDevs: 3,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_UPPER_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `The database grew faster than usual (seed 000: growth rate anomalous). ${runbookLink(config.name, growth)}`,
      }),
    );
  }

  private dashboard(config: EnvironmentConfig, watchdog: ScheduledJob): cloudwatch.Dashboard {
    const dash = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: `dlc-${config.name}` });
    const archive = this.jobs.archive as ScheduledJob;
    // The jobs that record runs (runExclusive: the watched ones and the backfill) emit DurationMs and Errors.
    const recorded = Object.values(this.jobs).filter((j) => j.staleAfter !== undefined || j.name === 'backfill');
    dash.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Archive: checkpoints and messages per run',
        left: ['CheckpointsArchived', 'MessagesArchived', 'CheckpointsMalformed', 'ConversationsFailed'].map((m) => archive.jobMetric(m)),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Job durations (ms)',
        left: recorded.map((j) => j.jobMetric('DurationMs', Duration.hours(1), 'Maximum')),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Jobs stale and failing (the watchdog, every 15 min)',
        left: ['StaleJobs', 'FailingJobs'].map((m) => watchdog.jobMetric(m, Duration.minutes(15), 'Maximum')),
        width: 12,
      }),
      jobHealthWidget(config.name, 'Minutes since last success'),
      new cloudwatch.GraphWidget({
        title: 'Errors per job',
        left: recorded.map((j) => j.jobMetric('Errors')),
        width: 12,
      }),
    );
    return dash;
  }
}
