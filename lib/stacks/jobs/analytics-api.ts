/**
 * The analytics read side (issue 10): the API Lambda behind a Function URL with AWS_IAM auth (no
 * public endpoint), and the scheduled reports (daily, weekly, monthly; 30 min after the
 * aggregations they read) writing to the cold-storage bucket under reports/. Each function is
 * granted exactly its permissions.ts IAM_ACTIONS, on its own resources.
 */
import { CfnOutput, Duration, type Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { IAM_ACTIONS as API_ACTIONS } from '../../../lambdas/analytics-api/permissions';
import { IAM_ACTIONS as REPORT_ACTIONS } from '../../../lambdas/reports/permissions';
import type { EnvironmentConfig } from '../../config';
import { ScheduledJob } from '../../constructs/scheduled-job';
import type { StatefulStack } from '../stateful-stack';

export interface AnalyticsServingProps {
  readonly config: EnvironmentConfig;
  readonly stateful: StatefulStack;
  readonly logRetention: logs.RetentionDays;
  readonly dbEnv: Record<string, string>;
}

/** Grants `actions` (one function's IAM_ACTIONS) on the resources each service needs. */
function grantExactly(fn: lambda.IFunction, actions: readonly string[], stateful: StatefulStack): void {
  const byService = (prefix: string) => actions.filter((a) => a.startsWith(`${prefix}:`));
  const add = (acts: string[], resources: string[]) => {
    if (acts.length > 0) fn.addToRolePolicy(new iam.PolicyStatement({ actions: acts, resources }));
  };
  add(byService('rds-data'), [stateful.cluster.clusterArn]);
  add(byService('secretsmanager'), [stateful.cluster.secret?.secretArn ?? '']);
  add(byService('dynamodb'), [stateful.ledger.tableArn]);
  add(byService('s3'), [stateful.coldBucket.arnForObjects('reports/*')]);
  add(byService('kms'), [stateful.coldKey.keyArn]);
}

export function addAnalyticsServing(stack: Stack, props: AnalyticsServingProps): { api: ScheduledJob; reports: ScheduledJob[] } {
  const { config, stateful, logRetention, dbEnv } = props;
  const s = config.analyticsServing;
  const common = { envName: config.name, alarmTopic: stateful.alarmTopic, logRetention };

  const api = new ScheduledJob(stack, 'AnalyticsApi', {
    ...common,
    name: 'analytics-api',
    entry: 'lambdas/analytics-api/handler.ts',
    timeout: Duration.seconds(s.apiTimeoutSeconds),
    memorySize: 1024,
    environment: dbEnv,
  });
  grantExactly(api.fn, API_ACTIONS, stateful);
  const url = api.fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
  new CfnOutput(stack, 'AnalyticsApiUrl', {
    value: url.url,
    description: 'Analytics API (SigV4-signed requests only): npm run metrics -- --env <env>',
  });

  const reports = s.reportSchedules.map(
    (r) =>
      new ScheduledJob(stack, `Reports${r.type[0]?.toUpperCase()}${r.type.slice(1)}`, {
        ...common,
        name: `reports-${r.type}`,
        entry: 'lambdas/reports/handler.ts',
        timeout: Duration.minutes(s.reportsTimeoutMinutes),
        memorySize: 1024,
        schedule: { cron: r.schedule.cron, timeZone: r.schedule.timeZone, input: { type: r.type } },
        environment: { ...dbEnv, REPORTS_BUCKET: stateful.coldBucket.bucketName },
      }),
  );
  for (const job of reports) {
    grantExactly(job.fn, REPORT_ACTIONS, stateful);
    Validations.of(job.fn).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${stateful.stackName}:ExportsOutputFnGetAttColdStorageDFD8B101ArnCFA3076B/reports/*]`,
      reason: 'Reports are written under reports/{property}/{type}/{period}: the keys are not known in advance.',
    });
  }
  return { api, reports };
}
