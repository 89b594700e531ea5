import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { IAM_ACTIONS } from '../../lambdas/retention/permissions';
import { buildApp } from '../../lib/app';
import { getEnvironment } from '../../lib/config';
import { tableColumns } from '../../lib/stacks/jobs/sql-columns';
import { ALARM_SUBSCRIBERS } from '../support/alarm-subscribers';
import { MIGRATIONS_DIR } from '../support/db';

const app = new App({ context: ALARM_SUBSCRIBERS });
const built = buildApp(app, { envName: 'prod' });
const t = Template.fromStack(built.jobs);
const config = getEnvironment('prod');

describe('retention infrastructure', () => {
  it('synthesizes with cdk-nag and no unacknowledged finding', () => {
    expect(() => app.synth()).not.toThrow();
    for (const stack of app.node.children.filter(Stack.isStack))
      expect(Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions'))).toEqual([]);
  });

  it('runs daily on the configured schedule and zone, 15-minute timeout, with the bucket name', () => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'dlc-prod-retention',
      Timeout: 900,
      Environment: { Variables: Match.objectLike({ COLD_BUCKET: Match.anyValue(), DB_DRIVER: 'data-api' }) },
    });
    t.hasResourceProperties('AWS::Scheduler::Schedule', {
      Name: 'dlc-prod-retention',
      ScheduleExpression: config.retention.schedule.cron,
      ScheduleExpressionTimezone: config.retention.schedule.timeZone,
    });
  });

  it('may touch S3 objects only under its tables’ prefixes, list only those prefixes, and use the cold-storage key', () => {
    const policies = t.findResources('AWS::IAM::Policy', {
      Properties: { Roles: Match.arrayWith([Match.objectLike({ Ref: Match.stringLikeRegexp('Retention') })]) },
    });
    type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };
    const statements = Object.values(policies).flatMap(
      (p) => (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement,
    );
    const s3 = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('s3:')));
    const bucketLevel = ['s3:ListBucket', 's3:ListBucketVersions'];
    expect(s3).toHaveLength(3);
    const objects = s3.find((s) => !bucketLevel.includes(String(s.Action)));
    expect([objects?.Action].flat().sort()).toEqual(IAM_ACTIONS.filter((a) => a.startsWith('s3:') && !bucketLevel.includes(a)).sort());
    const resources = JSON.stringify(objects?.Resource);
    for (const p of config.retention.policies) expect(resources).toContain(`/${p.table}/*`);
    expect(resources).not.toMatch(/"\/\*"/);
    // Listing (objects, and their versions to retire one): the bucket itself, narrowed to exactly the tables' prefixes.
    for (const action of bucketLevel) {
      const listing = s3.find((s) => s.Action === action);
      expect(JSON.stringify(listing?.Resource)).not.toContain('/*');
      expect(listing?.Condition).toEqual({ StringLike: { 's3:prefix': config.retention.policies.map((p) => `${p.table}/*`) } });
    }
    const granted = new Set(statements.flatMap((s) => [s.Action].flat()));
    for (const a of IAM_ACTIONS) expect(granted).toContain(a);
  });

  it('is stale for the watchdog after 26 h, and pages on any verification failure', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'dlc-prod-retention-VerificationFailed',
      MetricName: 'VerificationFailures',
      Threshold: 1,
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'dlc-prod-watchdog',
      Environment: { Variables: Match.objectLike({ WATCHED_JOBS: Match.stringLikeRegexp(`retention=${26 * 60}`) }) },
    });
  });

  it('has one Glue table per policy, Parquet, with partition projection on day and the migrations’ columns', () => {
    t.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'dlc_prod_cold' } });
    t.resourceCountIs('AWS::Glue::Table', config.retention.policies.length);
    const cols = tableColumns(MIGRATIONS_DIR);
    t.hasResourceProperties('AWS::Glue::Table', {
      DatabaseName: 'dlc_prod_cold',
      TableInput: Match.objectLike({
        Name: 'messages',
        PartitionKeys: [{ Name: 'day', Type: 'string' }],
        Parameters: Match.objectLike({
          'projection.enabled': 'true',
          'projection.day.type': 'date',
          'projection.day.format': 'yyyy-MM-dd',
        }),
        StorageDescriptor: Match.objectLike({
          Columns: (cols.get('messages') ?? []).map((name) => ({ Name: name, Type: 'string' })),
          SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
        }),
      }),
    });
    expect(cols.get('messages')).toContain('id');
    expect(cols.get('messages')).not.toContain('search_vector');
    expect(cols.get('analytics_events')).not.toContain('date_partition');
  });
});
