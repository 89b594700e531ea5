/**
 * IAM authentication to ElastiCache (Valkey/Redis OSS): the password is a SigV4-presigned
 * `connect` request, valid 15 minutes, for the user id. See
 * https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth-iam.html
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../shared/sha256';

export interface IamTokenOptions {
  /** The serverless cache (or replication group) name, lower case. */
  readonly cacheName: string;
  readonly userId: string;
  readonly region: string;
  readonly serverless: boolean;
  readonly credentials?: ConstructorParameters<typeof SignatureV4>[0]['credentials'];
  readonly now?: Date;
}

export async function elastiCacheIamToken(o: IamTokenOptions): Promise<string> {
  const signer = new SignatureV4({
    service: 'elasticache',
    region: o.region,
    credentials: o.credentials ?? defaultProvider(),
    sha256: NodeSha256,
  });
  const query: Record<string, string> = { Action: 'connect', User: o.userId };
  if (o.serverless) query.ResourceType = 'ServerlessCache';
  const signed = await signer.presign(
    { method: 'GET', protocol: 'http:', hostname: o.cacheName, path: '/', query, headers: { host: o.cacheName } },
    { expiresIn: 900, signingDate: o.now },
  );
  const qs = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return `${o.cacheName}/?${qs}`;
}
