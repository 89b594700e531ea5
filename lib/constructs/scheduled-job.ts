import { join } from 'node:path';
import { Duration, Lazy, RemovalPolicy, Stack, TimeZone, Validations } from 'aws-cdk-lib';
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
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { NAMESPACE, PUBLISHED_METRICS_VARIABLE } from '../../lambdas/shared/observability';
import { runbookLink } from './runbook';

export const PROJECT_ROOT = join(__dirname, '..', '..');

export interface JobSchedule {
  /** EventBridge Scheduler cron expression, `cron(...)`. */
  readonly cron: string;
  readonly timeZone: string;
  /** The JSON payload the schedule sends. @default {} */
  readonly input?: Record<string, unknown>;
}

/**
 * The function's own alarms. Every environment watches its jobs through the watchdog (stale,
 * failing) and the schedules' dead-letter queue; these add, per function, where they serve:
 * - `LambdaErrors`: the function threw (a run failed, or it could not start) — at once, by name;
 * - `DurationNearTimeout`: a run used more than 80 % of its timeout;
 * - `Throttles`: invocations refused for concurrency (request-driven functions: nothing retries them).
 */
export type FunctionAlarm = 'LambdaErrors' | 'DurationNearTimeout' | 'Throttles';

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
  /** Where the schedule puts an invocation it could not deliver after its retries (one queue for every schedule). */
  readonly scheduleDeadLetterQueue?: sqs.IQueue;
  /** Only the archive function runs in the VPC (it needs Valkey). */
  readonly vpc?: { readonly vpc: ec2.IVpc; readonly securityGroups: ec2.ISecurityGroup[] };
  readonly alarmTopic: sns.ITopic;
  readonly logRetention: logs.RetentionDays;
  /** What becomes of its log group (the audit trail of its runs) when the stack is deleted. @default RemovalPolicy.DESTROY */
  readonly removalPolicy?: RemovalPolicy;
  /** The watchdog counts the job stale when no run succeeded for this long (`StaleJobs`). */
  readonly staleAfter?: Duration;
  /**
   * Also page from the job's own `RunsSucceeded` metric when no run succeeded within `staleAfter`,
   * independently of the watchdog (the archive: checkpoints expire from Redis 24 h after their last
   * write). CloudWatch evaluates at most one day back. @default false
   */
  readonly staleAlarm?: boolean;
  /** @default none */
  readonly alarms?: readonly FunctionAlarm[];
  /** Files to ship next to the bundle (e.g. `sql` for the migration function). */
  readonly copyDirs?: readonly string[];
}

/**
 * One job: a NodejsFunction (local esbuild, ARM64, Node 24, source maps, its own log group),
 * an EventBridge Scheduler schedule (cron with time zone, JSON payload, retries, the shared
 * dead-letter queue) and the alarms asked for, all sent to the alarm topic. The function
 * publishes as metrics only what something reads (`jobMetric`: an alarm, the dashboard), named
 * in its PUBLISHED_METRICS; the rest of its counters stay in the run ledger and its log line.
 */
export class ScheduledJob extends Construct {
  readonly fn: nodejs.NodejsFunction;
  readonly schedule?: scheduler.Schedule;
  readonly staleAfter?: Duration;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly name: string;
  /** The handler file (relative to the project root): its folder holds the function's permissions.ts. */
  readonly entry: string;
  readonly functionName: string;
  /** The metrics something reads (alarms, dashboard): the only ones the function publishes. */
  readonly publishedMetrics = new Set<string>();

  constructor(scope: Construct, id: string, props: ScheduledJobProps) {
    super(scope, id);
    this.name = props.name;
    this.entry = props.entry;
    this.staleAfter = props.staleAfter;
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
        // Read at synth's end: every jobMetric() asked for by then (`-` when none).
        [PUBLISHED_METRICS_VARIABLE]: Lazy.string({ produce: () => [...this.publishedMetrics].sort().join(',') || '-' }),
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
    const alarm = (alarmId: string, a: cloudwatch.AlarmProps & { alarmDescription: string }) => {
      const alarmName = `${functionName}-${alarmId}`;
      const created = new cloudwatch.Alarm(this, alarmId, {
        ...a,
        alarmName,
        alarmDescription: `${a.alarmDescription} ${runbookLink(props.envName, alarmName)}`,
      });
      created.addAlarmAction(action);
      created.addOkAction(action);
      this.alarms.push(created);
      return created;
    };

    if (props.schedule) {
      if (!props.scheduleDeadLetterQueue) throw new Error(`${functionName}: a schedule needs the schedules' dead-letter queue`);
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
          deadLetterQueue: props.scheduleDeadLetterQueue,
        }),
      });
      Validations.of(scheduleRole).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.fn.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
        reason: 'The schedule may invoke any version of this one function (the CDK grant adds `:*`).',
      });
    }

    const kinds = new Set(props.alarms ?? []);
    if (kinds.has('LambdaErrors'))
      alarm('LambdaErrors', {
        metric: this.fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `${functionName} threw: a run failed or the function could not start.`,
      });
    if (kinds.has('Throttles'))
      alarm('Throttles', {
        metric: this.fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `${functionName} was throttled (concurrency exhausted).`,
      });
    if (kinds.has('DurationNearTimeout'))
      alarm('DurationNearTimeout', {
        metric: this.fn.metricDuration({ period: Duration.minutes(5), statistic: 'Maximum' }),
        threshold: Math.round(props.timeout.toMilliseconds() * 0.8),
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `${functionName} used more than 80% of its ${props.timeout.toSeconds()} s timeout.`,
      });
    if (props.staleAlarm) {
      if (!props.staleAfter) throw new Error(`${functionName}: staleAlarm needs staleAfter`);
      alarm('Stale', {
        metric: this.jobMetric('RunsSucceeded', props.staleAfter),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        alarmDescription: `No successful ${props.name} run in ${props.staleAfter.toMinutes()} minutes (seed 000's last_run check), from its own metric.`,
      });
    }
  }

  /**
   * A metric this job emits (EMF, namespace ConversationDataLifecycle, dimension service). Asking
   * for it is what makes the function publish it (PUBLISHED_METRICS).
   */
  jobMetric(name: string, period = Duration.hours(1), statistic = 'Sum'): cloudwatch.Metric {
    this.publishedMetrics.add(name);
    return new cloudwatch.Metric({ namespace: NAMESPACE, metricName: name, dimensionsMap: { service: this.name }, period, statistic });
  }
}
