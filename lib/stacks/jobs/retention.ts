/**
 * The retention job's infrastructure: its function (daily schedule from the config, 15-minute
 * timeout, S3 access only under its tables' prefixes, the cold-storage KMS key), stale after 26 h
 * for the watchdog, an alarm on verification failures, and the Glue database with one table per
 * policy (Parquet, partition projection on `day`) so Athena can query the cold data.
 */
import { join } from 'node:path';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as glue from 'aws-cdk-lib/aws-glue';
import { IAM_ACTIONS } from '../../../lambdas/retention/permissions';
import type { EnvironmentConfig } from '../../config';
import { grantExactly } from '../../constructs/grants';
import { runbookLink } from '../../constructs/runbook';
import { PROJECT_ROOT, ScheduledJob, type ScheduledJobProps } from '../../constructs/scheduled-job';
import type { JobsStack } from '../jobs-stack';
import type { StatefulStack } from '../stateful-stack';
import { tableColumns } from './sql-columns';

/** Bucket-level S3 actions (listing), narrowed to the tables' prefixes; every other S3 action is on objects under them. */
const BUCKET_ACTIONS = new Set(['s3:ListBucket', 's3:ListBucketVersions']);
export interface RetentionJobProps {
  readonly config: EnvironmentConfig;
  readonly stateful: StatefulStack;
  /** What every job shares (env name, alarm topic, log retention, the schedules' dead-letter queue, database environment). */
  readonly common: Pick<
    ScheduledJobProps,
    'envName' | 'alarmTopic' | 'logRetention' | 'removalPolicy' | 'scheduleDeadLetterQueue' | 'environment'
  >;
}

export const glueDatabaseName = (envName: string) => `dlc_${envName}_cold`;

export function retentionJob(scope: JobsStack, props: RetentionJobProps): ScheduledJob {
  const { config, stateful, common } = props;
  const r = config.retention;
  const bucket = stateful.coldBucket;
  const job = new ScheduledJob(scope, 'Retention', {
    ...common,
    name: 'retention',
    entry: 'lambdas/retention/handler.ts',
    timeout: Duration.minutes(r.timeoutMinutes),
    memorySize: 1024,
    schedule: { cron: r.schedule.cron, timeZone: r.schedule.timeZone, input: {} },
    environment: { ...common.environment, COLD_BUCKET: bucket.bucketName },
    // A daily job: the watchdog's count (alarms cannot look back more than a day).
    staleAfter: Duration.hours(r.staleAfterHours),
    alarms: scope.functionAlarms('LambdaErrors', 'DurationNearTimeout'),
  });
  // Objects only under the tables' own prefixes (every policy, enabled or not: restore reads them all).
  // The bucket ARN comes through an export with a fixed name, so each prefix's acknowledgement names it.
  const exportName = `dlc-${config.name}-cold-bucket-arn`;
  const bucketArn = stateful.exportValue(bucket.bucketArn, { name: exportName });
  // Exactly the actions its code calls (permissions.ts), each on its own resources.
  // Listing is on the bucket itself, narrowed to the same prefixes.
  grantExactly(
    job.fn,
    IAM_ACTIONS,
    {
      ...scope.serviceResources('retention'),
      s3: (action) => (BUCKET_ACTIONS.has(action) ? [bucketArn] : r.policies.map((p) => `${bucketArn}/${p.table}/*`)),
      kms: [stateful.coldKey.keyArn],
    },
    Object.fromEntries([...BUCKET_ACTIONS].map((a) => [a, { StringLike: { 's3:prefix': r.policies.map((p) => `${p.table}/*`) } }])),
  );
  scope.jobs.retention = job;
  for (const p of r.policies)
    Validations.of(job.fn).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${exportName}/${p.table}/*]`,
      reason: `Objects under the ${p.table}/ prefix of cold storage only: their keys (day, a hash of each object's first row) are made at run time.`,
    });

  const action = new actions.SnsAction(common.alarmTopic);
  const verificationName = `dlc-${config.name}-retention-VerificationFailed`;
  const verification = new cloudwatch.Alarm(scope, 'RetentionVerificationFailed', {
    alarmName: verificationName,
    metric: job.jobMetric('VerificationFailures', Duration.hours(1)),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    alarmDescription: `An object read back from cold storage did not match what was exported; nothing was deleted. ${runbookLink(config.name, verificationName)}`,
  });
  verification.addAlarmAction(action);
  verification.addOkAction(action);

  // Glue: one table per policy, every column a string (PostgreSQL's text form), partitioned by day.
  const account = Stack.of(scope).account;
  const databaseName = glueDatabaseName(config.name);
  const database = new glue.CfnDatabase(scope, 'ColdDatabase', {
    catalogId: account,
    databaseInput: { name: databaseName, description: 'Cold storage written by the retention job (Parquet, one table per policy)' },
  });
  const columns = tableColumns(join(PROJECT_ROOT, 'sql'));
  for (const p of r.policies) {
    const cols = columns.get(p.table);
    if (!cols) throw new Error(`Retention policy for ${p.table}: no CREATE TABLE for it in sql/`);
    const location = `s3://${bucket.bucketName}/${p.table}/`;
    const table = new glue.CfnTable(scope, `ColdTable_${p.table}`, {
      catalogId: account,
      databaseName,
      tableInput: {
        name: p.table,
        tableType: 'EXTERNAL_TABLE',
        description: `${p.table} rows past ${p.days} days (${p.enabled ? 'enabled' : 'disabled'}); every value in PostgreSQL's text form`,
        parameters: {
          classification: 'parquet',
          'projection.enabled': 'true',
          'projection.day.type': 'date',
          'projection.day.format': 'yyyy-MM-dd',
          'projection.day.range': '1900-01-01,NOW',
          'projection.day.interval': '1',
          'projection.day.interval.unit': 'DAYS',
          'storage.location.template': `${location}day=\${day}/`,
        },
        partitionKeys: [{ name: 'day', type: 'string' }],
        storageDescriptor: {
          location,
          columns: cols.map((name) => ({ name, type: 'string' })),
          inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
          serdeInfo: { serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
        },
      },
    });
    table.node.addDependency(database);
  }
  return job;
}
