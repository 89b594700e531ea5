/**
 * The analytics commands' two back ends: locally, the API's own handler against DATABASE_URL; with
 * `--env <env>`, the deployed Function URL (found by function name) with a SigV4-signed GET.
 */
import { createHash, createHmac } from 'node:crypto';
import { GetFunctionUrlConfigCommand } from '@aws-sdk/client-lambda';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { type ApiResponse, handleRequest } from '../lambdas/analytics-api/api';
import { DashboardCache } from '../lambdas/analytics-api/dashboard';
import { memoryLog } from '../lambdas/shared/observability';
import { systemClock } from '../lambdas/shared/runtime';
import { getEnvironment } from '../lib/config';
import { lambdaClient, withDatabase } from './commands/common';

const toBytes = (d: string | ArrayBuffer | ArrayBufferView): string | Uint8Array =>
  typeof d === 'string' ? d : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

/** node:crypto as the Hash SigV4 expects (HMAC when given a secret). */
class Sha256 {
  private h;
  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = this.fresh();
  }
  private fresh() {
    return this.secret ? createHmac('sha256', toBytes(this.secret)) : createHash('sha256');
  }
  update(data: string | ArrayBuffer | ArrayBufferView) {
    this.h.update(toBytes(data));
  }
  reset() {
    this.h = this.fresh();
  }
  async digest() {
    return new Uint8Array(this.h.digest());
  }
}

export async function callAnalytics(
  options: { env?: string; region?: string },
  path: string,
  query: Record<string, string | undefined>,
): Promise<ApiResponse> {
  const qs = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined)).toString();
  if (!options.env) {
    // the environment `aggregate` honours too (ENV_NAME, default dev): its zone is that of unregistered properties
    const env = getEnvironment(process.env.ENV_NAME ?? 'dev');
    const s = env.analyticsServing;
    const timeZone = env.aggregation.timeZone;
    return withDatabase((sql) =>
      handleRequest(
        {
          sql,
          clock: systemClock,
          log: memoryLog(),
          limits: { timeZone, maxPoints: s.maxPoints, maxRangeDays: s.maxRangeDays },
          cache: new DashboardCache({ sql, clock: systemClock, settings: { timeZone, ...s } }, { ttlMs: 0, max: 1 }),
        },
        { method: 'GET', path, query: qs, requestId: 'cli' },
      ),
    );
  }
  const lambda = await lambdaClient(options);
  const { FunctionUrl } = await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: `dlc-${options.env}-analytics-api` }));
  if (!FunctionUrl) throw new Error(`dlc-${options.env}-analytics-api has no Function URL`);
  const url = new URL(`${path}${qs ? `?${qs}` : ''}`, FunctionUrl);
  const region = options.region ?? (await lambda.config.region());
  const signer = new SignatureV4({ service: 'lambda', region, credentials: defaultProvider(), sha256: Sha256 });
  const signed = await signer.sign({
    method: 'GET',
    protocol: url.protocol,
    hostname: url.hostname,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: { host: url.hostname },
  });
  const res = await fetch(url, { headers: signed.headers as Record<string, string> });
  const buf = Buffer.from(await res.arrayBuffer());
  const type = res.headers.get('content-type') ?? '';
  const binary = type.includes('zip');
  return {
    statusCode: res.status,
    headers: Object.fromEntries(res.headers),
    body: binary ? buf.toString('base64') : buf.toString('utf8'),
    isBase64Encoded: binary,
  };
}

/**
 * The API's message with its query parameters named as the CLI's flags (`from` → `--from`): a 400
 * about a parameter starts with its name, and names another after "after" (`to "…" must be after
 * from "…"`). The CLI's flags are the API's parameter names, so the operator reads what they typed.
 */
export function asFlags(message: string, params: readonly string[]): string {
  if (params.length === 0) return message;
  return message.replace(new RegExp(`(^|after )(${params.join('|')})(?= )`, 'g'), '$1--$2');
}

/**
 * A non-200 answer: its message on stderr, exit 2 for a 400 (bad usage), 1 otherwise. `flags`: the
 * parameters the message may name, said as the command's options (asFlags).
 */
export function failed(r: ApiResponse, flags: readonly string[] = []): boolean {
  if (r.statusCode === 200) return false;
  let msg = r.body;
  try {
    msg = JSON.parse(r.body).error ?? msg;
  } catch {}
  if (r.statusCode === 400) msg = asFlags(msg, flags);
  console.error(`${r.statusCode}: ${msg}`);
  process.exitCode = r.statusCode === 400 ? 2 : 1;
  return true;
}
