/**
 * The analytics read side (issue 10): the API Lambda behind a Function URL with AWS_IAM auth (no
 * public endpoint), and the scheduled reports (daily, weekly, monthly; 30 min after the
 * aggregations they read) writing to the cold-storage bucket under reports/. Each function is
 * granted exactly its permissions.ts IAM_ACTIONS and uses the read-only `dlc_analytics_api` role.
 */
import { CfnOutput, Duration, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { IAM_ACTIONS as API_ACTIONS } from '../../../lambdas/analytics-api/permissions';
import { IAM_ACTIONS as REPORT_ACTIONS } from '../../../lambdas/reports/permissions';
import type { EnvironmentConfig } from '../../config';
import { grantExactly } from '../../constructs/grants';
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
  return { api, reports };
}
