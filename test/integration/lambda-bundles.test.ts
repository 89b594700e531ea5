/**
 * Every Lambda bundle of the synthesized dev app, run as deployed (issue 22): `cdk synth`'s cloud
 * assembly (real esbuild bundles, the asset folders the asset manifest uploads), each function's
 * handler and environment from the template, the event it gets in AWS — each schedule's own Input,
 * an SQS batch, a Function URL request, the custom resource's event, an operator's dry run — in a
 * fresh Node process (a cold start). Only what must point at this machine is changed: the values
 * CloudFormation would fill (resolved to local names), the SDK's endpoints (AWS_ENDPOINT_URL_*:
 * dynalite, s3rver, and a local stand-in serving the Data API on real PostgreSQL as each function's
 * own database role, and Secrets Manager), and Valkey's IAM-authenticated endpoint (VALKEY_* →
 * REDIS_URL, the runtime's local switch: an ElastiCache IAM token cannot be checked here).
 *
 * A function in the template with no case here fails the first test: adding a function means
 * saying how it is invoked and what success is. Bundling is most of the time: see `synthMs`.
 */
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { DB_ROLES } from '../../lambdas/shared/db-roles';
import { getEnvironment } from '../../lib/config';
import { HOUR_MS, putWithAge, seedValue } from '../../local/fixtures';
import { type Running, startDynamo, startRedis, startS3 } from '../../local/services';
import { type AwsStub, startAwsStub } from '../support/aws-stub';
import {
  ACCOUNT,
  type CfnResource,
  type CloudAssembly,
  cfnResolver,
  type DeployedFunction,
  type Invocation,
  invokeBundle,
  lambdaFunctions,
  type PhysicalValue,
  referencing,
  synthesize,
} from '../support/cdk-bundles';
import { DataApiDouble } from '../support/data-api-double';
import { MIGRATIONS_DIR, type TestDb, testDb } from '../support/db';
import { ensureRoles, testPassword } from '../support/roles';

const ENV = 'dev';
const PROPERTY = 'hotel-bundles';
const CUSTOMER = 'cust-bundles';

/** The functions the CDK adds (its code, not ours), with why they are not run here. Matched by logical-id prefix. */
const NOT_OURS: Record<string, string> = {
  MigrationsProviderframeworkonEvent:
    "the CDK Provider framework's onEvent (aws-cdk-lib's code): it only forwards the custom resource's event to dlc-<env>-migrate, which is run here with that event",
  CustomS3AutoDeleteObjectsCustomResourceProvider:
    "aws-cdk-lib's autoDeleteObjects handler (CloudFormation calls it when a bucket is deleted with its stack)",
};

type Trigger = 'schedule' | 'sqs' | 'function-url' | 'custom-resource' | 'manual';
interface World {
  readonly db: TestDb;
  readonly assembly: CloudAssembly;
  readonly fn: DeployedFunction;
  readonly resolve: (stack: string, value: unknown) => unknown;
}
interface Case {
  readonly trigger: Trigger;
  /** For a schedule: none (each schedule's Input is the event). Otherwise the events it is invoked with, in order. */
  readonly events?: (w: World) => unknown[];
  /** Done before the first invocation (seed what the run should find). */
  readonly before?: (w: World) => Promise<void>;
  /** What success is, for each result. */
  readonly check: (result: unknown, w: World, event: unknown) => void | Promise<void>;
}

const ranJobs = new Set<string>();
/** The hour (since the epoch) the events were made in. */
let ingestHour = 0;
const ledgered = (job: string) => () => void ranJobs.add(job);

const healthyRun = (job: string) => (r: unknown) => {
  expect(r).toMatchObject({ status: 'healthy' });
  ranJobs.add(job);
};
const aggregation = (job: string): Case => ({
  trigger: 'schedule',
  check: (r, _w, event) => {
    expect(event).toEqual({ job });
    expect(r).not.toHaveProperty('skipped');
    ranJobs.add(job);
  },
});
const report = (type: string): Case => ({
  trigger: 'schedule',
  // the daily report has a property to report: one aggregate row of the last closed day (the configured zone)
  before:
    type === 'daily'
      ? async ({ db }) => {
          await db.direct.execute(
            `INSERT INTO agg_conversation_metrics_daily (period_date, property_id, channel, conversations_started)
             VALUES ((now() AT TIME ZONE $1::text)::date - 1, $2::text, 'whatsapp', 3)`,
            [getEnvironment(ENV).aggregation.timeZone, PROPERTY],
          );
        }
      : undefined,
  check: async (r, w, event) => {
    expect(event).toEqual({ type });
    expect(r).toMatchObject({ failed: [] });
    expect(r).not.toHaveProperty('skipped');
    if (type === 'daily') {
      const { keys } = r as { keys: string[] };
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) await expectObject(w, 'REPORTS_BUCKET', key);
    }
    ranJobs.add(`reports-${type}`);
  },
});

/** The object is in the bucket the function's environment names (s3rver). */
async function expectObject({ fn, resolve }: World, variable: string, key: string, bytes?: number) {
  const bucket = String((resolve(fn.stack, fn.environment) as Record<string, unknown>)[variable]);
  const s3 = new S3Client({
    endpoint: services.s3.url,
    forcePathStyle: true,
    region: assembly.region,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    if (bytes !== undefined) expect(head.ContentLength).toBe(bytes);
  } finally {
    s3.destroy();
  }
}

/** One case per function (by job name, `dlc-<env>-<job>`), run in this order on one database. */
const CASES: Record<string, Case> = {
  migrate: {
    trigger: 'custom-resource',
    events: ({ assembly, fn, resolve }) => {
      const [cr] = Object.entries(assembly.templates[fn.stack]?.Resources ?? {}).filter(([, r]) => r.Type === 'Custom::SchemaMigrations');
      if (!cr) throw new Error('no Custom::SchemaMigrations resource');
      const [logicalId, resource] = cr;
      const props = resolve(fn.stack, resource.Properties) as Record<string, unknown>;
      return [
        {
          RequestType: 'Create',
          ServiceToken: props.ServiceToken,
          ResponseURL: 'https://cloudformation-custom-resource-response.local/',
          StackId: `arn:aws:cloudformation:local:${ACCOUNT}:stack/${fn.stack}/1`,
          RequestId: randomUUID(),
          LogicalResourceId: logicalId,
          ResourceType: resource.Type,
          ResourceProperties: props,
        },
      ];
    },
    check: async (r, { db }) => {
      const sqlFiles = (await import('node:fs')).readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql'));
      expect(r).toEqual({
        PhysicalResourceId: 'schema-migrations',
        Data: { applied: String(sqlFiles.length), latest: sqlFiles.sort().at(-1) },
      });
      const roles = await db.direct.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname LIKE $1', ['dlc\\_%']);
      expect(roles.map((x) => x.rolname)).toEqual(expect.arrayContaining(DB_ROLES.map((x) => x.name)));
    },
  },
  ingest: {
    trigger: 'sqs',
    events: ({ assembly, fn, resolve }) => {
      const [mapping] = referencing(assembly, fn, 'AWS::Lambda::EventSourceMapping', (p) => p.FunctionName);
      const queueArn = String(resolve(fn.stack, mapping?.properties.EventSourceArn));
      // the messages in the hour before this one: the first scheduled run of the hourly aggregation closes that hour
      ingestHour = Math.floor(Date.now() / HOUR_MS);
      const inLastHour = (min: number) => new Date(ingestHour * HOUR_MS - min * 60_000).toISOString();
      const bodies = [
        {
          events: [
            { id: 'bundle-e1', eventType: 'conversation.started', timestamp: inLastHour(40), propertyId: PROPERTY, channel: 'whatsapp' },
          ],
        },
        [
          { id: 'bundle-e2', eventType: 'message.received', timestamp: inLastHour(40), propertyId: PROPERTY, channel: 'whatsapp' },
          { id: 'bundle-e3', eventType: 'message.sent', timestamp: inLastHour(30), propertyId: PROPERTY, channel: 'whatsapp' },
        ],
      ];
      return [
        {
          Records: bodies.map((b, i) => ({
            messageId: randomUUID(),
            receiptHandle: `handle-${i}`,
            body: JSON.stringify(b),
            attributes: {
              ApproximateReceiveCount: '1',
              SentTimestamp: String(Date.now()),
              SenderId: ACCOUNT,
              ApproximateFirstReceiveTimestamp: String(Date.now()),
            },
            messageAttributes: {},
            md5OfBody: '',
            eventSource: 'aws:sqs',
            eventSourceARN: queueArn,
            awsRegion: queueArn.split(':')[3],
          })),
        },
      ];
    },
    check: async (r, { db }) => {
      expect(r).toEqual({ batchItemFailures: [] });
      const [row] = await db.direct.query<{ n: number }>('SELECT count(*)::int AS n FROM analytics_events WHERE property_id = $1', [
        PROPERTY,
      ]);
      expect(row?.n).toBe(3);
    },
  },
  archive: {
    trigger: 'schedule',
    before: async () => {
      const redis = new Redis(services.redis.url);
      const messages = [
        { role: 'human', content: 'hola, quiero reservar', timestamp: new Date(Date.now() - 25 * HOUR_MS).toISOString() },
        { role: 'ai', content: 'claro, ¿para cuándo?', timestamp: new Date(Date.now() - 25 * HOUR_MS + 5000).toISOString() },
      ];
      const ts = Math.floor((Date.now() - 23.5 * HOUR_MS) / 1000);
      await putWithAge(
        redis,
        'langgraph:checkpoint:wa-bundles:1',
        seedValue({ conversationId: 'wa-bundles', customerId: CUSTOMER, messages, ts }),
        23.5 * HOUR_MS,
      );
      await redis.quit();
    },
    check: async (r, { db }, event) => {
      expect(event).toEqual({ source: 'schedule' });
      expect(r).toMatchObject({ status: 'healthy', checkpoints_archived: 1, messages_archived: 2 });
      const [row] = await db.direct.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.customer_id = $1`,
        [CUSTOMER],
      );
      expect(row?.n).toBe(2);
      ranJobs.add('archive');
    },
  },
  hourly_message_counts: {
    ...aggregation('hourly_message_counts'),
    // the job has computed up to the hour the events were made in: this run computes that hour and any
    // closed since (if the clock turned an hour after the ingest), so the series below sums to 2 whenever it runs
    before: async ({ db }) => {
      if (ingestHour === 0) throw new Error('the ingest case runs before hourly_message_counts');
      const through = new Date((ingestHour - 1) * HOUR_MS);
      await db.direct.execute(
        `INSERT INTO agg_watermarks (agg_table, unit, time_zone, event_types, aggregated_through, covers_unregistered, computed_through)
         VALUES ('agg_message_counts_hourly', 'hour', $1::text, '{}', $2::timestamptz, true, $2::timestamptz)
         ON CONFLICT (agg_table, time_zone) DO UPDATE SET aggregated_through = EXCLUDED.aggregated_through, computed_through = EXCLUDED.computed_through`,
        [
          { sqlType: 'text', value: getEnvironment(ENV).aggregation.timeZone },
          { sqlType: 'timestamptz', value: through },
        ],
      );
    },
  },
  hourly_response_times: aggregation('hourly_response_times'),
  daily_conversation_metrics: aggregation('daily_conversation_metrics'),
  daily_staff_performance: aggregation('daily_staff_performance'),
  daily_intent_distribution: aggregation('daily_intent_distribution'),
  weekly_satisfaction_trends: aggregation('weekly_satisfaction_trends'),
  monthly_summary: aggregation('monthly_summary'),
  'analytics-api': {
    trigger: 'function-url',
    events: () =>
      ['/dashboard', '/timeseries'].map((path) => {
        const query =
          path === '/dashboard'
            ? `property=${PROPERTY}`
            : `metric=messages&granularity=hour&from=${day(-1)}&to=${day(1)}&property=${PROPERTY}`;
        return functionUrlEvent(path, query);
      }),
    check: (r, _w, event) => {
      expect(r).toMatchObject({ statusCode: 200 });
      const body = JSON.parse((r as { body: string }).body) as Record<string, unknown>;
      if ((event as { rawPath: string }).rawPath === '/dashboard') expect(body).toMatchObject({ today: expect.any(Object) });
      if ((event as { rawPath: string }).rawPath === '/timeseries') {
        const points = (body as { series: { points: { value: number | null }[] }[] }).series.flatMap((x) => x.points);
        const sum = points.reduce((a, p) => a + (p.value ?? 0), 0);
        // ingest → hourly_message_counts → the API, all through the bundles
        expect(sum).toBe(2);
      }
    },
  },
  'reports-daily': report('daily'),
  'reports-weekly': report('weekly'),
  'reports-monthly': report('monthly'),
  retention: {
    trigger: 'schedule',
    check: (r, _w, event) => {
      expect(event).toEqual({});
      healthyRun('retention')(r);
    },
  },
  backfill: {
    trigger: 'manual',
    // lambdas/backfill/handler.ts: a dry run changes nothing and reports what an apply would do.
    events: () => [{ mode: 'dry-run' }],
    check: (r) => {
      expect(r).toMatchObject({ mode: 'dry-run', done: true });
      ledgered('backfill')();
    },
  },
  privacy: {
    trigger: 'manual',
    // lambdas/privacy/handler.ts: find, export (a zip to the bucket), then an erasure's dry run (shows what would go, changes nothing).
    events: () =>
      (['find', 'export', 'erase'] as const).map((action) => ({
        action,
        identifiers: [{ kind: 'customer', value: CUSTOMER }],
        ...(action === 'erase' ? { dryRun: true } : {}),
      })),
    check: async (r, w, event) => {
      // the archived conversation, read as dlc_privacy
      const found = { postgres: { conversations: 1, messages: 2 }, redis: { searched: true } };
      const { action } = event as { action: string };
      if (action === 'find') expect(r).toMatchObject(found);
      if (action === 'export') {
        const { key, bytes } = r as { key: string; bytes: number };
        expect(key).toMatch(/^_exports\//);
        await expectObject(w, 'COLD_BUCKET', key, bytes);
      }
      if (action === 'erase') {
        expect(r).toMatchObject({ findings: found, receipt: { tombstones: 0 } });
        const [row] = await w.db.direct.query<{ n: number }>('SELECT count(*)::int AS n FROM conversations WHERE customer_id = $1', [
          CUSTOMER,
        ]);
        expect(row?.n).toBe(1); // a dry run erases nothing
      }
    },
  },
  'database-size': {
    trigger: 'schedule',
    check: (r) => expect((r as { databaseBytes: number }).databaseBytes).toBeGreaterThan(0),
  },
  // Last: it reads the ledger every run above wrote to.
  watchdog: {
    trigger: 'schedule',
    check: (r, { fn, resolve }) => {
      const watched = String((resolve(fn.stack, fn.environment) as Record<string, string>).WATCHED_JOBS)
        .split(',')
        .map((x) => x.split('=')[0] as string);
      expect(watched.length).toBeGreaterThan(0);
      const out = r as { stale: string[]; failing: string[]; minutesSinceSuccess: Record<string, number | null> };
      expect(out.stale).toEqual([]);
      expect(out.failing).toEqual([]);
      // every watched job ran above and recorded a success in the ledger table its template names
      for (const job of watched)
        expect({ job, ran: ranJobs.has(job), minutes: out.minutesSinceSuccess[job] }).toEqual({ job, ran: true, minutes: 0 });
    },
  },
};

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

function functionUrlEvent(path: string, query: string) {
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: query,
    headers: { host: 'local.lambda-url.local.on.aws', 'user-agent': 'lambda-bundles-test' },
    queryStringParameters: Object.fromEntries(new URLSearchParams(query)),
    requestContext: {
      accountId: ACCOUNT,
      apiId: 'local',
      domainName: 'local.lambda-url.local.on.aws',
      domainPrefix: 'local',
      http: { method: 'GET', path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'lambda-bundles-test' },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
      authorizer: { iam: { accessKey: 'AKIDLOCAL', accountId: ACCOUNT, callerId: 'local', userArn: `arn:aws:iam::${ACCOUNT}:user/local` } },
    },
    isBase64Encoded: false,
  };
}

/** Local names for what CloudFormation names at deploy time. */
const physical: PhysicalValue = (stack, id, r: CfnResource, attribute) => {
  const p = r.Properties ?? {};
  const region = assembly.region;
  switch (r.Type) {
    case 'AWS::SecretsManager::Secret':
      if (!attribute) return `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:${id}-AbCdEf`;
      break;
    case 'AWS::SecretsManager::SecretTargetAttachment':
      if (!attribute) return String(resolve(stack, p.SecretId));
      break;
    case 'AWS::RDS::DBCluster': {
      const name = typeof p.DBClusterIdentifier === 'string' ? p.DBClusterIdentifier : id.toLowerCase();
      if (!attribute) return name;
      if (attribute === 'DBClusterArn') return `arn:aws:rds:${region}:${ACCOUNT}:cluster:${name}`;
      break;
    }
    case 'AWS::S3::Bucket': {
      const name = typeof p.BucketName === 'string' ? p.BucketName : `local-${id.toLowerCase()}`;
      if (!attribute) return name;
      if (attribute === 'Arn') return `arn:aws:s3:::${name}`;
      break;
    }
    case 'AWS::DynamoDB::GlobalTable':
    case 'AWS::DynamoDB::Table': {
      const name = typeof p.TableName === 'string' ? p.TableName : id;
      if (!attribute) return name;
      if (attribute === 'Arn') return `arn:aws:dynamodb:${region}:${ACCOUNT}:table/${name}`;
      break;
    }
    case 'AWS::SQS::Queue': {
      const name = typeof p.QueueName === 'string' ? p.QueueName : id;
      if (!attribute) return `https://sqs.${region}.amazonaws.com/${ACCOUNT}/${name}`;
      if (attribute === 'Arn') return `arn:aws:sqs:${region}:${ACCOUNT}:${name}`;
      if (attribute === 'QueueName') return name;
      break;
    }
    case 'AWS::Lambda::Function': {
      const name = typeof p.FunctionName === 'string' ? p.FunctionName : id;
      if (!attribute) return name;
      if (attribute === 'Arn') return `arn:aws:lambda:${region}:${ACCOUNT}:function:${name}`;
      break;
    }
  }
  // Anything else (an ElastiCache endpoint, a subnet…): a recognizable stand-in no local service answers to.
  return `unresolved.${id}${attribute ? `.${attribute}` : ''}`;
};

let assembly: CloudAssembly;
let resolve: (stack: string, value: unknown) => unknown;
let functions: DeployedFunction[];
let db: TestDb;
let stub: AwsStub;
const services = {} as { redis: Running; s3: Running; dynamo: Running };
const doubles = new Map<string, DataApiDouble>();
const timings: Record<string, number> = {};

const ours = (f: DeployedFunction) => !Object.keys(NOT_OURS).some((prefix) => f.logicalId.startsWith(prefix));
const jobOf = (f: DeployedFunction) => f.name.replace(`dlc-${ENV}-`, '');

/** The function's environment as deployed, pointed at the local services (and nothing else changed). */
function environmentOf(fn: DeployedFunction): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(resolve(fn.stack, fn.environment) as Record<string, unknown>)) {
    if (typeof v !== 'string' && typeof v !== 'number') throw new Error(`${fn.name}: ${k} resolves to ${JSON.stringify(v)}`);
    env[k] = String(v);
  }
  for (const local of ['DATABASE_URL', 'REDIS_URL', 'S3_ENDPOINT', 'LEDGER_FILE'])
    if (local in env) throw new Error(`${fn.name}: the template sets ${local}, a local-only switch`);
  if (env.VALKEY_ENDPOINT) {
    // ElastiCache Serverless with an IAM token over TLS: the runtime's local switch is REDIS_URL (lambdas/shared/deps.ts).
    delete env.VALKEY_ENDPOINT;
    delete env.VALKEY_CACHE_NAME;
    delete env.VALKEY_USER;
    env.REDIS_URL = services.redis.url;
  }
  const lambdaRuntime = {
    AWS_REGION: assembly.region,
    AWS_DEFAULT_REGION: assembly.region,
    AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: 'local',
    LAMBDA_TASK_ROOT: fn.codeDir,
    _HANDLER: fn.handler,
    TZ: ':UTC',
    // the execution role's credentials (s3rver checks its own fixed pair)
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_SESSION_TOKEN: 'local',
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
  };
  const endpoints = {
    AWS_ENDPOINT_URL: stub.url, // any other service: refused and recorded (stub.unexpected)
    AWS_ENDPOINT_URL_RDS_DATA: stub.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: stub.url,
    AWS_ENDPOINT_URL_DYNAMODB: services.dynamo.url,
    AWS_ENDPOINT_URL_S3: services.s3.url,
  };
  return { ...lambdaRuntime, ...env, ...endpoints };
}

function triggerOf(fn: DeployedFunction): Trigger {
  if (referencing(assembly, fn, 'AWS::Scheduler::Schedule', (p) => (p.Target as { Arn?: unknown })?.Arn).length > 0) return 'schedule';
  if (referencing(assembly, fn, 'AWS::Lambda::EventSourceMapping', (p) => p.FunctionName).length > 0) return 'sqs';
  if (referencing(assembly, fn, 'AWS::Lambda::Url', (p) => p.TargetFunctionArn).length > 0) return 'function-url';
  if (referencing(assembly, fn, 'AWS::Lambda::Function', (p) => p.Environment).length > 0) return 'custom-resource';
  return 'manual';
}

function eventsOf(fn: DeployedFunction, c: Case, w: World): unknown[] {
  if (c.trigger !== 'schedule') return c.events?.(w) ?? [];
  // Each schedule's Input, exactly as EventBridge Scheduler sends it.
  return referencing(assembly, fn, 'AWS::Scheduler::Schedule', (p) => (p.Target as { Arn?: unknown })?.Arn).map(({ properties }) =>
    JSON.parse(String(resolve(fn.stack, (properties.Target as { Input?: unknown }).Input ?? '{}'))),
  );
}

const describeOutput = (fn: DeployedFunction, r: Invocation) =>
  `${fn.name} (${fn.codeDir}) ${r.ok ? 'returned' : 'failed'} in ${r.ms} ms: ${r.error ?? JSON.stringify(r.result)?.slice(0, 2000)}\n--- its output (tail) ---\n${r.output.slice(-6000)}`;

beforeAll(async () => {
  assembly = synthesize(ENV);
  timings.synthMs = assembly.synthMs;
  resolve = cfnResolver(assembly, physical);
  functions = lambdaFunctions(assembly);
  const started = Date.now();
  [services.redis, services.s3, services.dynamo] = await Promise.all([
    startRedis({ forceLocal: true }),
    startS3(
      functions.filter(ours).flatMap((f) => {
        const env = resolve(f.stack, f.environment) as Record<string, string>;
        return [env.COLD_BUCKET, env.REPORTS_BUCKET].filter((b): b is string => typeof b === 'string');
      }),
    ),
    startDynamo(),
  ]);
  // The run ledger: the template's table (its key schema), on dynalite.
  const dynamo = new DynamoDBClient({
    endpoint: services.dynamo.url,
    region: assembly.region,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  for (const [stack, t] of Object.entries(assembly.templates))
    for (const [id, r] of Object.entries(t.Resources))
      if (r.Type === 'AWS::DynamoDB::GlobalTable' || r.Type === 'AWS::DynamoDB::Table') {
        const p = r.Properties as { KeySchema: never; AttributeDefinitions: never };
        await dynamo.send(
          new CreateTableCommand({
            TableName: physical(stack, id, r),
            KeySchema: p.KeySchema,
            AttributeDefinitions: p.AttributeDefinitions,
            BillingMode: 'PAY_PER_REQUEST',
          }),
        );
      }
  dynamo.destroy();
  // An empty database: the migration function's run creates the schema. The roles exist on the server (cluster-wide).
  db = await testDb('pg', { migrate: false });
  await ensureRoles();
  // Every secret of the templates: the master user's logs in as this server's admin, each role's as the role.
  const secrets = new Map<string, string>();
  for (const [stack, t] of Object.entries(assembly.templates))
    for (const [id, r] of Object.entries(t.Resources)) {
      if (r.Type !== 'AWS::SecretsManager::Secret') continue;
      const template = (r.Properties?.GenerateSecretString as { SecretStringTemplate?: string } | undefined)?.SecretStringTemplate;
      const username = (JSON.parse(template ?? '{}') as { username?: string }).username;
      if (!username) continue;
      const arn = physical(stack, id, r);
      const isRole = DB_ROLES.some((x) => x.name === username);
      const url = new URL(db.url);
      if (isRole) {
        url.username = username;
        url.password = testPassword(username);
      }
      secrets.set(arn, JSON.stringify({ username, password: isRole ? testPassword(username) : 'master', engine: 'postgres' }));
      doubles.set(arn, new DataApiDouble(url.toString()));
    }
  const clusters = Object.entries(assembly.templates).flatMap(([stack, t]) =>
    Object.entries(t.Resources)
      .filter(([, r]) => r.Type === 'AWS::RDS::DBCluster')
      .map(([id, r]) => ({ arn: physical(stack, id, r, 'DBClusterArn'), database: String(r.Properties?.DatabaseName) })),
  );
  expect(clusters).toHaveLength(1);
  const cluster = clusters[0] as { arn: string; database: string };
  stub = await startAwsStub({ dataApi: { clusterArn: cluster.arn, database: cluster.database, doubles }, secrets });
  timings.servicesMs = Date.now() - started;
}, 300_000);

afterAll(async () => {
  await stub?.stop();
  for (const d of doubles.values()) await d.close();
  await db?.close();
  await Promise.all([services.redis?.stop(), services.s3?.stop(), services.dynamo?.stop()]);
  assembly?.remove();
  console.log(`lambda bundles: ${JSON.stringify(timings)}`);
});

describe(`the synthesized ${ENV} app's Lambda bundles, run as deployed`, () => {
  it('has a case for every function of the templates (CDK-internal ones named, with a reason) and no case without a function', () => {
    const names = functions.filter(ours).map(jobOf).sort();
    expect(names).toEqual(Object.keys(CASES).sort());
    const others = functions.filter((f) => !ours(f)).map((f) => Object.keys(NOT_OURS).find((p) => f.logicalId.startsWith(p)));
    expect(others.sort()).toEqual(Object.keys(NOT_OURS).sort());
    for (const f of functions.filter(ours))
      expect({ job: jobOf(f), trigger: triggerOf(f) }).toEqual({ job: jobOf(f), trigger: CASES[jobOf(f)]?.trigger });
  });

  for (const [job, c] of Object.entries(CASES)) {
    it(`dlc-${ENV}-${job} (${c.trigger}) returns success`, async () => {
      const fn = functions.find((f) => ours(f) && jobOf(f) === job);
      if (!fn) throw new Error(`no function dlc-${ENV}-${job} in the templates`);
      const w: World = { db, assembly, fn, resolve };
      await c.before?.(w);
      const events = eventsOf(fn, c, w);
      expect(events.length).toBeGreaterThan(0);
      const env = environmentOf(fn);
      for (const event of events) {
        const r = await invokeBundle(fn, env, event, { killAfterMs: 120_000, requestId: randomUUID() });
        timings[job] = (timings[job] ?? 0) + r.ms;
        if (process.env.DEBUG_BUNDLES) console.log(job, JSON.stringify(r.result).slice(0, 1500));
        if (!r.ok) throw new Error(describeOutput(fn, r));
        try {
          await c.check(r.result, w, event);
        } catch (err) {
          (err as Error).message += `\n${describeOutput(fn, r)}`;
          throw err;
        }
      }
    }, 180_000);
  }

  it('called no AWS service that has no local stand-in', () => {
    expect(stub.unexpected).toEqual([]);
    expect(stub.calls.filter((x) => x.service === 'rds-data').length).toBeGreaterThan(0);
    expect(stub.calls.filter((x) => x.service === 'secretsmanager').length).toBe(DB_ROLES.length);
  });
});
