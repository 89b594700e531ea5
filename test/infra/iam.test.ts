/**
 * Least privilege, function by function: every function of the jobs stack (`dlc-<env>-<job>`) has
 * exactly the IAM actions its code calls, both ways:
 *   policy  = IAM_ACTIONS of its `lambdas/<folder>/permissions.ts`            (a grant without a call fails)
 *   IAM_ACTIONS = the AWS calls in its bundle (+ what those calls imply)       (a call without a grant fails)
 * "Its bundle" is the handler bundled by esbuild with tree shaking (project code only; packages
 * external), and its calls are the AWS SDK commands it constructs (`new XxxCommand(…)`), plus two
 * signed requests made without an SDK client: ElastiCache IAM auth (`elasticache:Connect`) and
 * Secrets Manager `GetSecretValue`. Granularity is the module: a class bundled whole counts whole.
 *
 * Not the function's own calls, and excluded precisely: the AWS-managed AWSLambdaBasicExecutionRole
 * (its log stream) on every function, and AWSLambdaVPCAccessExecutionRole (its network
 * interfaces) only on functions in a VPC; X-Ray's two actions only when tracing is active.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildSync } from 'esbuild';
import { DB_ROLES, roleForJob } from '../../lambdas/shared/db-roles';
import { buildApp } from '../../lib/app';
import { PROJECT_ROOT, ScheduledJob } from '../../lib/constructs/scheduled-job';

const ENV = 'dev';
const built = buildApp(new App(), { envName: ENV, nag: false });
const template = Template.fromStack(built.jobs).toJSON() as { Resources: Record<string, Resource> };
interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}
const resources = template.Resources;

/** Function name → the ScheduledJob that built it (its entry file). */
const jobsByFunction = new Map(
  built.jobs.node
    .findAll()
    .filter((c): c is ScheduledJob => c instanceof ScheduledJob)
    .map((j) => [j.functionName, j]),
);
const functions = Object.entries(resources)
  .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
  .map(([id, r]) => ({ id, name: String(r.Properties.FunctionName ?? ''), props: r.Properties }))
  .filter((f) => f.name.startsWith(`dlc-${ENV}-`))
  .sort((a, b) => a.name.localeCompare(b.name));

/**
 * The grants the CDK adds for an SQS event source mapping: Lambda's poller, not the function's
 * code, calls these with the function's role. Only a function with such a mapping may hold them,
 * and only on the mapped queue (and its KMS key).
 */
const SQS_POLLER_ACTIONS = [
  'sqs:ReceiveMessage',
  'sqs:ChangeMessageVisibility',
  'sqs:GetQueueUrl',
  'sqs:DeleteMessage',
  'sqs:GetQueueAttributes',
  'kms:Decrypt',
];
const sqsSourcesOf = (fnId: string): string[] =>
  Object.values(resources)
    .filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping' && JSON.stringify(r.Properties.FunctionName).includes(`"${fnId}"`))
    .map((r) => JSON.stringify(r.Properties.EventSourceArn));

const roleIdOf = (props: Record<string, unknown>): string => {
  const role = props.Role as { 'Fn::GetAtt'?: [string, string] };
  const id = role['Fn::GetAtt']?.[0];
  if (!id) throw new Error(`unexpected Role ${JSON.stringify(props.Role)}`);
  return id;
};
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}
const statementsOf = (roleId: string): Statement[] => {
  const out: Statement[] = [];
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    const roles = (r.Properties.Roles as { Ref?: string }[]) ?? [];
    if (roles.some((x) => x.Ref === roleId)) out.push(...((r.Properties.PolicyDocument as { Statement: Statement[] }).Statement ?? []));
  }
  const inline = (resources[roleId]?.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[] | undefined) ?? [];
  for (const p of inline) out.push(...p.PolicyDocument.Statement);
  return out;
};
const managedPolicyNames = (roleId: string): string[] =>
  ((resources[roleId]?.Properties.ManagedPolicyArns as unknown[]) ?? []).map((arn) => {
    const m = /policy\/service-role\/([A-Za-z]+)/.exec(JSON.stringify(arn));
    return m?.[1] ?? JSON.stringify(arn);
  });

// ------------------------------------------------------------------ the calls in a bundle
/** esbuild's import alias (`import_client_rds_data`) → IAM service prefix. */
const SDK_SERVICES: Record<string, string> = {
  client_rds_data: 'rds-data',
  client_dynamodb: 'dynamodb',
  lib_dynamodb: 'dynamodb',
  client_s3: 's3',
  // esbuild's `import_client_s3` is read as `client_s` + a de-duplication digit by the pattern below
  client_s: 's3',
  client_sqs: 'sqs',
  client_cloudwatch: 'cloudwatch',
  client_lambda: 'lambda',
  client_secrets_manager: 'secretsmanager',
};
/** Commands whose IAM action is not their own name. */
const ACTION_OF: Record<string, string[]> = {
  'dynamodb:Get': ['dynamodb:GetItem'],
  'dynamodb:Put': ['dynamodb:PutItem'],
  'dynamodb:Delete': ['dynamodb:DeleteItem'],
  'dynamodb:Update': ['dynamodb:UpdateItem'],
  'dynamodb:BatchGet': ['dynamodb:BatchGetItem'],
  'dynamodb:BatchWrite': ['dynamodb:BatchWriteItem'],
  'dynamodb:TransactGet': ['dynamodb:TransactGetItems'],
  'dynamodb:TransactWrite': ['dynamodb:TransactWriteItems'],
  's3:HeadObject': ['s3:GetObject'],
  's3:ListObjectsV2': ['s3:ListBucket'],
  's3:ListObjects': ['s3:ListBucket'],
  's3:HeadBucket': ['s3:ListBucket'],
  's3:ListObjectVersions': ['s3:ListBucketVersions'],
  's3:DeleteObjects': ['s3:DeleteObject'],
  // DeleteObject with a VersionId (removing a version of a versioned object) is authorised as DeleteObjectVersion.
  's3:DeleteObject': ['s3:DeleteObject', 's3:DeleteObjectVersion'],
  's3:CopyObject': ['s3:GetObject', 's3:PutObject'],
  's3:CreateMultipartUpload': ['s3:PutObject'],
  's3:UploadPart': ['s3:PutObject'],
  's3:CompleteMultipartUpload': ['s3:PutObject'],
  'sqs:SendMessageBatch': ['sqs:SendMessage'],
  'sqs:DeleteMessageBatch': ['sqs:DeleteMessage'],
  'sqs:ChangeMessageVisibilityBatch': ['sqs:ChangeMessageVisibility'],
};

/** The AWS actions the bundled code of `entry` calls, and the actions those calls imply. */
function callsOf(entry: string): { calls: Set<string>; required: Set<string>; allowed: Set<string> } {
  const out = buildSync({
    entryPoints: [join(PROJECT_ROOT, entry)],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'cjs',
    packages: 'external',
    treeShaking: true,
    outfile: 'bundle.js',
    logLevel: 'silent',
  });
  const text = out.outputFiles[0]?.text ?? '';
  const calls = new Set<string>();
  for (const m of text.matchAll(/new import_([a-z0-9_]+)\.(\w+)Command\(/g)) {
    // esbuild numbers repeated imports (import_client_rds_data2): strip digits until a client name matches (client_s3 keeps its 3)
    let id = m[1] as string;
    while (!SDK_SERVICES[id] && /\d$/.test(id)) id = id.slice(0, -1);
    const service = SDK_SERVICES[id];
    if (!service) throw new Error(`${entry}: AWS SDK client "${m[1]}" is not mapped to an IAM service in iam.test.ts`);
    const key = `${service}:${m[2]}`;
    for (const a of ACTION_OF[key] ?? [key]) calls.add(a);
  }
  if (/new import_lib_storage\d*\.Upload\(/.test(text)) for (const a of ['s3:PutObject', 's3:AbortMultipartUpload']) calls.add(a);
  for (const m of text.matchAll(/"secretsmanager\.(\w+)"/g)) calls.add(`secretsmanager:${m[1]}`);
  if (/service: "elasticache"/.test(text)) calls.add('elasticache:Connect');
  const required = new Set(calls);
  const allowed = new Set(calls);
  // The Data API reads the database secret with the caller's credentials.
  if ([...calls].some((a) => a.startsWith('rds-data:'))) required.add('secretsmanager:GetSecretValue');
  // SSE-KMS objects: writing needs a data key, reading decrypts it (S3 calls KMS as the caller).
  if ([...calls].some((a) => a === 's3:PutObject')) allowed.add('kms:GenerateDataKey');
  if ([...calls].some((a) => a === 's3:GetObject' || a === 's3:PutObject')) allowed.add('kms:Decrypt');
  for (const a of required) allowed.add(a);
  return { calls, required, allowed };
}

function declaredActions(fnName: string): { folder: string; actions: string[] } {
  const job = jobsByFunction.get(fnName);
  if (!job) throw new Error(`${fnName} is not built by ScheduledJob, so this test cannot find its code: build it with ScheduledJob`);
  const folder = dirname(job.entry);
  const file = join(PROJECT_ROOT, folder, 'permissions.ts');
  if (!existsSync(file)) {
    throw new Error(
      `${fnName} has no ${folder}/permissions.ts: add one exporting IAM_ACTIONS, the AWS API actions its code calls (one list, or one per function of the folder)`,
    );
  }
  const { IAM_ACTIONS } = require(file) as { IAM_ACTIONS?: readonly string[] | Record<string, readonly string[]> };
  if (!IAM_ACTIONS) throw new Error(`${folder}/permissions.ts does not export IAM_ACTIONS`);
  const list = Array.isArray(IAM_ACTIONS) ? IAM_ACTIONS : (IAM_ACTIONS as Record<string, readonly string[]>)[job.name];
  if (!list) throw new Error(`${folder}/permissions.ts has no IAM_ACTIONS entry for ${job.name}`);
  return { folder, actions: [...list].sort() };
}

describe('IAM: every function may do exactly what its code calls', () => {
  it('finds the functions of the jobs stack', () => {
    expect(functions.map((f) => f.name)).toEqual(
      expect.arrayContaining(['dlc-dev-archive', 'dlc-dev-backfill', 'dlc-dev-database-size', 'dlc-dev-migrate', 'dlc-dev-watchdog']),
    );
  });

  describe.each(functions.map((f) => [f.name, f] as const))('%s', (name, fn) => {
    const roleId = roleIdOf(fn.props);
    const statements = statementsOf(roleId);

    it('its policy grants exactly the IAM_ACTIONS of its permissions.ts, with no wildcard and no Deny', () => {
      const { actions } = declaredActions(name);
      const granted = new Set<string>();
      for (const s of statements) {
        expect(s.Effect).toBe('Allow');
        for (const a of Array.isArray(s.Action) ? s.Action : [s.Action]) granted.add(a);
        expect(JSON.stringify(s.Resource)).not.toMatch(/"\*"/);
      }
      const tracing = (fn.props.TracingConfig as { Mode?: string } | undefined)?.Mode === 'Active';
      if (tracing) for (const a of ['xray:PutTraceSegments', 'xray:PutTelemetryRecords']) granted.delete(a);
      const queues = sqsSourcesOf(fn.id);
      if (queues.length > 0) {
        for (const s of statements) {
          const acts = Array.isArray(s.Action) ? s.Action : [s.Action];
          if (!acts.some((a) => a.startsWith('sqs:'))) continue;
          // the poller's SQS actions apply to the mapped queue only
          expect(queues).toContain(JSON.stringify(Array.isArray(s.Resource) && s.Resource.length === 1 ? s.Resource[0] : s.Resource));
        }
        for (const a of SQS_POLLER_ACTIONS) if (!actions.includes(a)) granted.delete(a);
      }
      expect([...granted].sort()).toEqual(actions);
    });

    it('its permissions.ts lists exactly the calls its code makes (and what they imply)', () => {
      const { folder, actions } = declaredActions(name);
      const entry = jobsByFunction.get(name)?.entry as string;
      const { calls, required, allowed } = callsOf(entry);
      const missing = [...required].filter((a) => !actions.includes(a)).sort();
      const unused = actions.filter((a) => !allowed.has(a));
      expect({ [`called but not in ${folder}/permissions.ts`]: missing }).toEqual({ [`called but not in ${folder}/permissions.ts`]: [] });
      expect({ [`in ${folder}/permissions.ts but never called`]: unused }).toEqual({
        [`in ${folder}/permissions.ts but never called`]: [],
      });
      expect(calls.size).toBeGreaterThan(0);
    });

    it('only the AWS-managed logging role (plus VPC networking in a VPC) besides its own policy', () => {
      const expected = fn.props.VpcConfig
        ? ['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole']
        : ['AWSLambdaBasicExecutionRole'];
      expect(managedPolicyNames(roleId).sort()).toEqual(expected);
    });

    it('reads only its own database role’s secret (the migration function: the master’s and every role’s)', () => {
      const job = name.slice(`dlc-${ENV}-`.length);
      const secretResources = statements
        .filter((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]).some((a) => a.startsWith('secretsmanager:')))
        .flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]))
        .map((r) => JSON.stringify(r));
      const secretId = (role: string) => `DbRoleSecret${role.replace(/_/g, '')}`;
      if (job === 'migrate') {
        expect(secretResources).toHaveLength(DB_ROLES.length + 1);
        for (const r of DB_ROLES) expect(secretResources.filter((s) => s.includes(secretId(r.name)))).toHaveLength(1);
        expect(secretResources.filter((s) => s.includes('DatabaseSecretAttachment'))).toHaveLength(1);
        return;
      }
      const role = roleForJob(job);
      if (!role) {
        expect(secretResources).toEqual([]);
        return;
      }
      expect(secretResources).toHaveLength(1);
      expect(secretResources[0]).toContain(secretId(role.name));
      const env = (fn.props.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(JSON.stringify(env.DB_SECRET_ARN)).toContain(secretId(role.name));
    });
  });

  it('the 15-minute watchdog holds no database access at all; the database size has no ledger access', () => {
    const watchdog = functions.find((f) => f.name === 'dlc-dev-watchdog');
    const size = functions.find((f) => f.name === 'dlc-dev-database-size');
    const actionsOf = (f: typeof watchdog) =>
      statementsOf(roleIdOf(f?.props ?? {})).flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(actionsOf(watchdog).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
    expect(JSON.stringify(watchdog?.props.Environment)).not.toMatch(/DB_SECRET_ARN|DB_CLUSTER_ARN/);
    expect(actionsOf(size).filter((a) => !a.startsWith('rds-data:'))).toEqual(['secretsmanager:GetSecretValue']);
  });
});
