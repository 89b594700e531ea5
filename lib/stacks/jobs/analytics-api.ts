/**
 * The analytics read side (issue 10): the API Lambda behind a Function URL with AWS_IAM auth (no
 * public endpoint; also the property registry, GET/PUT /properties), and the scheduled reports
 * (daily, weekly, monthly; every hour, each property's period once it has closed in its zone and been
 * aggregated) writing to the cold-storage bucket under reports/, with an alarm on properties whose
 * report failed. Each function is
 * granted exactly its permissions.ts IAM_ACTIONS and uses the read-only `dlc_analytics_api` role.
 */
import { CfnOutput, Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { IAM_ACTIONS as API_ACTIONS } from '../../../lambdas/analytics-api/permissions';
import { IAM_ACTIONS as REPORT_ACTIONS } from '../../../lambdas/reports/permissions';
import type { EnvironmentConfig } from '../../config';
import { grantExactly } from '../../constructs/grants';
import { runbookLink } from '../../constructs/runbook';
import { ScheduledJob } from '../../constructs/scheduled-job';
import type { JobsStack } from '../jobs-stack';
import type { StatefulStack } from '../stateful-stack';

export interface AnalyticsServingProps {
  readonly config: EnvironmentConfig;
  readonly stateful: StatefulStack;
}

export function addAnalyticsServing(stack: JobsStack, props: AnalyticsServingProps): { api: ScheduledJob; reports: ScheduledJob[] } {
  const { config, stateful } = props;
  const s = config.analyticsServing;
  const common = stack.jobDefaults;

  const api = new ScheduledJob(stack, 'AnalyticsApi', {
    ...common,
    name: 'analytics-api',
    entry: 'lambdas/analytics-api/handler.ts',
    timeout: Duration.seconds(s.apiTimeoutSeconds),
    memorySize: 1024,
    environment: stack.databaseEnvironment('analytics-api'),
    alarms: stack.functionAlarms('LambdaErrors', 'DurationNearTimeout', 'Throttles'),
  });
  grantExactly(api.fn, API_ACTIONS, stack.serviceResources('analytics-api'));
  const url = api.fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
  new CfnOutput(stack, 'AnalyticsApiUrl', {
    value: url.url,
    description: 'Analytics API (SigV4-signed requests only): npm run metrics -- --env <env>',
  });

  const reports = s.reportSchedules.map((r) => {
    const name = `reports-${r.type}`;
    const job = new ScheduledJob(stack, `Reports${r.type[0]?.toUpperCase()}${r.type.slice(1)}`, {
      ...common,
      name,
      entry: 'lambdas/reports/handler.ts',
      timeout: Duration.minutes(s.reportsTimeoutMinutes),
      memorySize: 1024,
      schedule: { cron: r.schedule.cron, timeZone: r.schedule.timeZone, input: { type: r.type } },
      // Late like an aggregation of the same cadence: the watchdog counts it stale after that.
      staleAfter: Duration.minutes(config.analytics.staleAfterMinutes[r.type]),
      alarms: stack.functionAlarms('LambdaErrors'),
      environment: {
        ...stack.databaseEnvironment(name),
        LEDGER_TABLE: stateful.ledger.tableName,
        REPORTS_BUCKET: stateful.coldBucket.bucketName,
      },
    });
    grantExactly(job.fn, REPORT_ACTIONS, {
      ...stack.serviceResources(name),
      s3: [stateful.coldBucket.arnForObjects('reports/*')],
      kms: [stateful.coldKey.keyArn],
    });
    Validations.of(job.fn).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${stateful.stackName}:ExportsOutputFnGetAttColdStorageDFD8B101ArnCFA3076B/reports/*]`,
      reason: 'Reports are written under reports/{property}/{type}/{period}: the keys are not known in advance.',
    });
    return job;
  });
  // A property whose report failed (the run goes on with the others: lambdas/reports/reports-job.ts):
  // one alarm over the three report functions' PropertiesFailed, in every environment.
  const alarmName = `dlc-${config.name}-reports-PropertiesFailed`;
  const propertiesFailed = new cloudwatch.Alarm(stack, 'ReportsPropertiesFailed', {
    alarmName,
    metric: new cloudwatch.MathExpression({
      expression: reports.map((_, i) => `FILL(f${i}, 0)`).join(' + '),
      usingMetrics: Object.fromEntries(reports.map((r, i) => [`f${i}`, r.jobMetric('PropertiesFailed', Duration.hours(1))])),
      period: Duration.hours(1),
      label: 'Properties whose scheduled report failed',
    }),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    alarmDescription:
      'A scheduled report (daily, weekly or monthly) failed for at least one property; the other properties were reported. ' +
      runbookLink(config.name, alarmName),
  });
  const action = new actions.SnsAction(common.alarmTopic);
  propertiesFailed.addAlarmAction(action);
  propertiesFailed.addOkAction(action);
  return { api, reports };
}
