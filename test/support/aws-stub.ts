/**
 * One local HTTP endpoint standing in for the AWS services that cannot run on this machine, for
 * code that reaches them over the wire (a synthesized Lambda bundle, its SDK bundled in: a client
 * mock in the test process cannot reach it). Point `AWS_ENDPOINT_URL_<SERVICE>` at it; the service
 * is read from the request's SigV4 credential scope.
 *
 * - `rds-data`: the Data API's REST protocol (POST /Execute, /BatchExecute, /BeginTransaction,
 *   /CommitTransaction, /RollbackTransaction) served by a DataApiDouble per secret (logged in as the
 *   secret's user), after checking the cluster ARN and database name the caller sends;
 * - `secretsmanager`: GetSecretValue of the secrets it is given;
 * - anything else: recorded in `unexpected` and refused (HTTP 400), so a test can assert that a
 *   function called no service it was not expected to.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import {
  BatchExecuteStatementCommand,
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RollbackTransactionCommand,
} from '@aws-sdk/client-rds-data';
import type { DataApiDouble } from './data-api-double';

export interface AwsCall {
  readonly service: string;
  readonly operation: string;
  readonly body: unknown;
}

export interface AwsStubOptions {
  /** The Data API: the cluster and database every call must name, and the double serving each secret ARN. */
  readonly dataApi?: { readonly clusterArn: string; readonly database: string; readonly doubles: ReadonlyMap<string, DataApiDouble> };
  /** Secrets Manager: secret ARN → its SecretString (JSON text). */
  readonly secrets?: ReadonlyMap<string, string>;
}

export interface AwsStub {
  readonly url: string;
  readonly calls: AwsCall[];
  readonly unexpected: AwsCall[];
  stop(): Promise<void>;
}

const DATA_API_COMMANDS: Record<string, new (input: never) => unknown> = {
  '/Execute': ExecuteStatementCommand,
  '/BatchExecute': BatchExecuteStatementCommand,
  '/BeginTransaction': BeginTransactionCommand,
  '/CommitTransaction': CommitTransactionCommand,
  '/RollbackTransaction': RollbackTransactionCommand,
};

interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly errorType?: string;
}

const fault = (status: number, errorType: string, message: string): Reply => ({ status, errorType, body: { message } });

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startAwsStub(options: AwsStubOptions): Promise<AwsStub> {
  const calls: AwsCall[] = [];
  const unexpected: AwsCall[] = [];

  async function dataApi(path: string, body: Record<string, unknown>): Promise<Reply> {
    const d = options.dataApi;
    const Command = DATA_API_COMMANDS[path];
    if (!d || !Command) return fault(400, 'BadRequestException', `unsupported Data API call ${path}`);
    if (body.resourceArn !== d.clusterArn)
      return fault(400, 'BadRequestException', `resourceArn ${String(body.resourceArn)} is not the cluster ${d.clusterArn}`);
    const double = d.doubles.get(String(body.secretArn));
    if (!double) return fault(403, 'ForbiddenException', `no access with secret ${String(body.secretArn)}`);
    if ((path === '/Execute' || path === '/BatchExecute' || path === '/BeginTransaction') && body.database !== d.database)
      return fault(400, 'BadRequestException', `database ${String(body.database)} is not ${d.database}`);
    try {
      const { $metadata: _, ...out } = (await double.send(new Command(body as never))) as Record<string, unknown>;
      return { status: 200, body: out };
    } catch (err) {
      const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      const status = e.name === 'NotFoundException' ? 404 : e.name === 'ForbiddenException' ? 403 : 400;
      return fault(status, e.name ?? 'BadRequestException', e.message ?? String(err));
    }
  }

  function secretsManager(target: string, body: Record<string, unknown>): Reply {
    if (target !== 'secretsmanager.GetSecretValue') return fault(400, 'InvalidRequestException', `unsupported ${target}`);
    const arn = String(body.SecretId);
    const secret = options.secrets?.get(arn);
    if (secret === undefined) return fault(400, 'ResourceNotFoundException', `Secrets Manager can't find the specified secret ${arn}`);
    return { status: 200, body: { ARN: arn, Name: arn.split(':').at(-1), SecretString: secret, VersionId: 'v1' } };
  }

  const server: Server = createServer((req, res) => {
    void (async () => {
      const text = await readBody(req);
      const scope = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(String(req.headers.authorization ?? ''));
      const service = scope?.[1] ?? 'unsigned';
      const target = String(req.headers['x-amz-target'] ?? '');
      const path = (req.url ?? '/').split('?')[0] as string;
      let body: Record<string, unknown> = {};
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        body = { raw: text.slice(0, 500) };
      }
      const call: AwsCall = { service, operation: target || `${req.method} ${path}`, body };
      calls.push(call);
      let reply: Reply;
      if (service === 'rds-data') reply = await dataApi(path, body);
      else if (service === 'secretsmanager') reply = secretsManager(target, body);
      else {
        unexpected.push(call);
        reply = fault(400, 'UnrecognizedClientException', `the local stand-in does not serve ${service} ${call.operation}`);
      }
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-amzn-requestid': `stub-${calls.length}` };
      if (reply.errorType) headers['x-amzn-errortype'] = reply.errorType;
      res.writeHead(reply.status, headers);
      res.end(JSON.stringify(reply.errorType ? { __type: reply.errorType, ...(reply.body as object) } : reply.body));
    })().catch((err) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: (err as Error).message }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    unexpected,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
