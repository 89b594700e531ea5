/**
 * Reads a Secrets Manager secret (`GetSecretValue`) with a SigV4-signed HTTPS request: the
 * migration function reads the database roles' secrets to set their passwords. (No Secrets
 * Manager SDK client is installed; the signer and credential chain are the SDK's own.)
 * Like the SDK's clients, it honours `AWS_ENDPOINT_URL_SECRETS_MANAGER` (then `AWS_ENDPOINT_URL`):
 * unset in Lambda, set by the test that runs the synthesized bundles against local stand-ins.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from './sha256';

export class SecretError extends Error {
  override readonly name = 'SecretError';
}

/** The one Secrets Manager action this code calls (the IAM test reads this constant's use). */
const GET_SECRET_VALUE = 'secretsmanager.GetSecretValue';

export interface SecretReaderOptions {
  readonly region: string;
  readonly credentials?: ConstructorParameters<typeof SignatureV4>[0]['credentials'];
  readonly fetch?: typeof fetch;
  /** @default AWS_ENDPOINT_URL_SECRETS_MANAGER, then AWS_ENDPOINT_URL, then https://secretsmanager.<region>.amazonaws.com */
  readonly endpoint?: string;
}

/** The endpoint the SDK's clients would use: the service's variable, the global one, or none (the regional endpoint). */
function configuredEndpoint(vars: NodeJS.ProcessEnv = process.env): string | undefined {
  return vars.AWS_ENDPOINT_URL_SECRETS_MANAGER || vars.AWS_ENDPOINT_URL || undefined;
}

/** `{ username, password }` of a database secret (as RDS and `rds.DatabaseSecret` write them). */
export async function readDatabaseSecret(arn: string, o: SecretReaderOptions): Promise<{ username: string; password: string }> {
  const url = new URL(o.endpoint ?? configuredEndpoint() ?? `https://secretsmanager.${o.region}.amazonaws.com/`);
  const body = JSON.stringify({ SecretId: arn });
  const signer = new SignatureV4({
    service: 'secretsmanager',
    region: o.region,
    credentials: o.credentials ?? defaultProvider(),
    sha256: NodeSha256,
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': GET_SECRET_VALUE },
    body,
  });
  const res = await (o.fetch ?? fetch)(url.href, { method: 'POST', headers: signed.headers as Record<string, string>, body });
  const text = await res.text();
  if (!res.ok) throw new SecretError(`GetSecretValue ${arn} failed: HTTP ${res.status} ${text.slice(0, 300)}`);
  const secret = (JSON.parse(text) as { SecretString?: string }).SecretString;
  const parsed = secret ? (JSON.parse(secret) as { username?: unknown; password?: unknown }) : {};
  if (typeof parsed.username !== 'string' || typeof parsed.password !== 'string')
    throw new SecretError(`Secret ${arn} has no string username and password`);
  return { username: parsed.username, password: parsed.password };
}
