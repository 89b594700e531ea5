/**
 * The privacy function (issue 25): invoked by an operator (`npm run invoke -- privacy --env prod
 * --payload '{"action": "find", "identifiers": [...]}'`), never scheduled. In the VPC, as its own
 * Valkey user, for the subject's live checkpoints; its own database role (dlc_privacy); S3 on the
 * tables' prefixes (rewrite a cold object, remove every version of the old one) and on its own
 * `_erasures/` (receipts) and `_exports/` (what the person receives).
 */
import { Duration, Fn, Validations } from 'aws-cdk-lib';
import { IAM_ACTIONS } from '../../../lambdas/privacy/permissions';
import type { EnvironmentConfig } from '../../config';
import { grantExactly } from '../../constructs/grants';
import { ScheduledJob, type ScheduledJobProps } from '../../constructs/scheduled-job';
import type { JobsStack } from '../jobs-stack';
import type { StatefulStack } from '../stateful-stack';

const BUCKET_ACTIONS = new Set(['s3:ListBucket', 's3:ListBucketVersions']);
/** Where the privacy function writes besides the tables' prefixes. */
const OWN_PREFIXES = ['_erasures', '_exports'];

export interface PrivacyJobProps {
  readonly config: EnvironmentConfig;
  readonly stateful: StatefulStack;
  readonly common: Pick<
    ScheduledJobProps,
    'envName' | 'alarmTopic' | 'logRetention' | 'removalPolicy' | 'scheduleDeadLetterQueue' | 'environment'
  >;
}

export function privacyJob(scope: JobsStack, props: PrivacyJobProps): ScheduledJob {
  const { config, stateful, common } = props;
  const bucket = stateful.coldBucket;
  const job = new ScheduledJob(scope, 'Privacy', {
    ...common,
    name: 'privacy',
    entry: 'lambdas/privacy/handler.ts',
    timeout: Duration.minutes(15),
    memorySize: 1024,
    vpc: { vpc: stateful.vpc, securityGroups: [stateful.archiveSecurityGroup] },
    alarms: scope.functionAlarms('LambdaErrors'),
    environment: {
      ...common.environment,
      COLD_BUCKET: bucket.bucketName,
      VALKEY_ENDPOINT: `${stateful.cache.attrEndpointAddress}:${stateful.cache.attrEndpointPort}`,
      VALKEY_CACHE_NAME: stateful.cache.serverlessCacheName,
      VALKEY_USER: stateful.privacyCacheUser.userId,
    },
  });
  const prefixes = [...config.retention.policies.map((p) => p.table), ...OWN_PREFIXES];
  const exportName = `dlc-${config.name}-cold-bucket-arn`;
  // The export retention's job made (retention.ts), imported: one export per bucket.
  const bucketArn = Fn.importValue(exportName);
  grantExactly(
    job.fn,
    IAM_ACTIONS,
    {
      ...scope.serviceResources('privacy'),
      elasticache: [stateful.cache.attrArn, stateful.privacyCacheUser.attrArn],
      s3: (action) => (BUCKET_ACTIONS.has(action) ? [bucketArn] : prefixes.map((p) => `${bucketArn}/${p}/*`)),
      kms: [stateful.coldKey.keyArn],
    },
    Object.fromEntries([...BUCKET_ACTIONS].map((a) => [a, { StringLike: { 's3:prefix': prefixes.map((p) => `${p}/*`) } }])),
  );
  scope.jobs.privacy = job;
  for (const p of prefixes)
    Validations.of(job.fn).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${exportName}/${p}/*]`,
      reason: `Objects under the ${p}/ prefix of cold storage only: an erasure rewrites the objects that hold the subject (keys made at run time), and writes its receipts and exports under its own prefixes.`,
    });
  return job;
}
