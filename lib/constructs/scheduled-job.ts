import { join } from 'node:path';
import { Duration, RemovalPolicy, Stack, TimeZone, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { NAMESPACE } from '../../lambdas/shared/observability';

export const PROJECT_ROOT = join(__dirname, '..', '..');

export interface JobSchedule {
  /** EventBridge Scheduler cron expression, `cron(...)`. */
  readonly cron: string;
  readonly timeZone: string;
  /** The JSON payload the schedule sends. @default {} */
  readonly input?: Record<string, unknown>;
}

export interface ScheduledJobProps {
  /** Job name: the function is `dlc-<env>-<name>`, its metrics carry `service=<name>`. */
  readonly name: string;
  readonly envName: string;
  /** Handler file, relative to the project root (e.g. `lambdas/archive/handler.ts`). */
  readonly entry: string;
  readonly timeout: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  readonly environment?: Record<string, string>;
  /** No schedule: invoked by hand (the backfill) or by CloudFormation (migrations). */
  readonly schedule?: JobSchedule;
  /** Only the archive function runs in the VPC (it needs Valkey). */
  readonly vpc?: { readonly vpc: ec2.IVpc; readonly securityGroups: ec2.ISecurityGroup[] };
  readonly alarmTopic: sns.ITopic;
  readonly logRetention: logs.RetentionDays;
  /** What becomes of its log group (the audit trail of its runs) when the stack is deleted. @default RemovalPolicy.DESTROY */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Page when no run succeeded for this long, from the job's own RunsSucceeded metric.
   * CloudWatch evaluates at most one day back: longer cadences use the watchdog's metric.
   */
  readonly staleAfter?: Duration;
  /** Files to ship next to the bundle (e.g. `sql` for the migration function). */
  readonly copyDirs?: readonly string[];
}

/**
 * One job: a NodejsFunction (local esbuild, ARM64, Node 24, source maps, its own log group),
 * an EventBridge Scheduler schedule (cron with time zone, JSON payload, retries, dead-letter
 * queue) and its alarms (errors, throttles, duration near the timeout, DLQ not empty, job
 * errors on consecutive runs, stale), all sent to the alarm topic.
 */
export class ScheduledJob extends Construct {
  readonly fn: nodejs.NodejsFunction;
  readonly deadLetterQueue?: sqs.Queue;
  readonly schedule?: scheduler.Schedule;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly name: string;
  /** The handler file (relative to the project root): its folder holds the function's permissions.ts. */
  readonly entry: string;
  readonly functionName: string;

  constructor(scope: Construct, id: string, props: ScheduledJobProps) {
    super(scope, id);
    this.name = props.name;
    this.entry = props.entry;
    const functionName = `dlc-${props.envName}-${props.name}`;
    this.functionName = functionName;
    const logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/lambda/${functionName}`,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    const copy = props.copyDirs ?? [];
    this.fn = new nodejs.NodejsFunction(this, 'Function', {
      functionName,
      entry: join(PROJECT_ROOT, props.entry),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.DISABLED,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: props.name,
        POWERTOOLS_METRICS_NAMESPACE: NAMESPACE,
        ENV_NAME: props.envName,
        ...props.environment,
      },
      bundling: {
        forceDockerBundling: false,
        sourceMap: true,
        minify: true,
        target: 'node24',
        format: nodejs.OutputFormat.CJS,
        // Bundle the AWS SDK too: the versions tested are the versions deployed.
        externalModules: [],
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir: string, outputDir: string) => copy.map((d) => `cp -r "${inputDir}/${d}" "${outputDir}/${d}"`),
        },
      },
      ...(props.vpc
        ? { vpc: props.vpc.vpc, securityGroups: props.vpc.securityGroups, vpcSubnets: { subnets: props.vpc.vpc.isolatedSubnets } }
        : {}),
    });
    Validations.of(this.fn).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'The AWS-managed basic execution role only lets the function write its own logs.',
    });
    if (props.vpc) {
      Validations.of(this.fn).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        reason: 'The AWS-managed VPC access role only manages the function’s network interfaces.',
      });
    }

    const action = new actions.SnsAction(props.alarmTopic);
    const alarm = (alarmId: string, a: cloudwatch.AlarmProps) => {
      const created = new cloudwatch.Alarm(this, alarmId, { ...a, alarmName: `${functionName}-${alarmId}` });
      created.addAlarmAction(action);
      created.addOkAction(action);
      this.alarms.push(created);
      return created;
    };

    if (props.schedule) {
      this.deadLetterQueue = new sqs.Queue(this, 'ScheduleDlq', {
        enforceSSL: true,
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        retentionPeriod: Duration.days(14),
      });
      Validations.of(this.deadLetterQueue).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason: 'This queue is the dead-letter queue of the schedule; its own contents page through the DlqNotEmpty alarm.',
      });
      const scheduleRole = new iam.Role(this, 'ScheduleRole', {
        assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com'),
        description: `EventBridge Scheduler invoking ${functionName}`,
      });
      this.schedule = new scheduler.Schedule(this, 'Schedule', {
        scheduleName: functionName,
        description: `${props.name} (${props.schedule.cron} ${props.schedule.timeZone})`,
        schedule: scheduler.ScheduleExpression.expression(props.schedule.cron, TimeZone.of(props.schedule.timeZone)),
        target: new targets.LambdaInvoke(this.fn, {
          role: scheduleRole,
          input: scheduler.ScheduleTargetInput.fromObject(props.schedule.input ?? {}),
          retryAttempts: 2,
          maxEventAge: Duration.hours(1),
          deadLetterQueue: this.deadLetterQueue,
        }),
      });
      Validations.of(scheduleRole).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.fn.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
        reason: 'The schedule may invoke any version of this one function (the CDK grant adds `:*`).',
      });
      alarm('DlqNotEmpty', {
        metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `A scheduled ${props.name} invocation could not be delivered after retries. Runbook: README "DlqNotEmpty".`,
      });
    }

    alarm('LambdaErrors', {
      metric: this.fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `${props.name} threw (a failed run). Runbook: README "LambdaErrors".`,
    });
    alarm('Throttles', {
      metric: this.fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `${props.name} was throttled. Runbook: README "Throttles".`,
    });
    alarm('DurationNearTimeout', {
      metric: this.fn.metricDuration({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: Math.round(props.timeout.toMilliseconds() * 0.8),
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `${props.name} used more than 80% of its timeout. Runbook: README "DurationNearTimeout".`,
    });
    if (props.schedule) {
      alarm('JobErrors', {
        metric: this.jobMetric('Errors', Duration.hours(1)),
        threshold: 1,
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `${props.name} reported errors on consecutive runs (seed 000: errors > 0 consistently). Runbook: README "JobErrors".`,
      });
    }
    if (props.staleAfter) {
      alarm('Stale', {
        metric: this.jobMetric('RunsSucceeded', props.staleAfter),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        alarmDescription: `No successful ${props.name} run in ${props.staleAfter.toMinutes()} minutes (seed 000: last_run > 90 min). Runbook: README "Stale".`,
      });
    }
  }

  /** A metric this job emits (EMF, namespace ConversationDataLifecycle, dimension service). */
  jobMetric(name: string, period = Duration.hours(1), statistic = 'Sum'): cloudwatch.Metric {
    return new cloudwatch.Metric({ namespace: NAMESPACE, metricName: name, dimensionsMap: { service: this.name }, period, statistic });
  }
}
