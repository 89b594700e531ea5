import { readDatabaseSecret, SecretError } from '../../lambdas/shared/secrets';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:dlc-dev/db/dlc_archive-AbCdEf';

function fakeFetch(status: number, body: unknown) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fn = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return new Response(JSON.stringify(body), { status });
  }) as unknown as typeof fetch;
  return { fn, calls };
}

describe('readDatabaseSecret', () => {
  it('sends one SigV4-signed GetSecretValue request and returns the username and password', async () => {
    // Prepare
    const f = fakeFetch(200, { ARN: arn, SecretString: JSON.stringify({ username: 'dlc_archive', password: 'p@ss', engine: 'postgres' }) });
    // Act
    const secret = await readDatabaseSecret(arn, { region: 'eu-west-1', credentials, fetch: f.fn });
    // Assess
    expect(secret).toEqual({ username: 'dlc_archive', password: 'p@ss' });
    expect(f.calls).toHaveLength(1);
    const { url, init } = f.calls[0] as { url: string; init: RequestInit };
    expect(url).toBe('https://secretsmanager.eu-west-1.amazonaws.com/');
    expect(JSON.parse(String(init.body))).toEqual({ SecretId: arn });
    const headers = init.headers as Record<string, string>;
    expect(headers['x-amz-target']).toBe('secretsmanager.GetSecretValue');
    expect(headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/secretsmanager\/aws4_request, SignedHeaders=.*x-amz-target.*, Signature=[0-9a-f]{64}$/,
    );
  });

  it('fails with the status on an error, and on a secret without username and password', async () => {
    const denied = fakeFetch(400, { __type: 'AccessDeniedException', message: 'not allowed' });
    await expect(readDatabaseSecret(arn, { region: 'eu-west-1', credentials, fetch: denied.fn })).rejects.toThrow(
      /GetSecretValue .* failed: HTTP 400 .*AccessDeniedException/,
    );
    const odd = fakeFetch(200, { SecretString: JSON.stringify({ user: 'x' }) });
    await expect(readDatabaseSecret(arn, { region: 'eu-west-1', credentials, fetch: odd.fn })).rejects.toThrow(SecretError);
  });

  it('sends to AWS_ENDPOINT_URL_SECRETS_MANAGER when set, as the SDK clients do (local runs of the bundles)', async () => {
    const f = fakeFetch(200, { SecretString: JSON.stringify({ username: 'dlc_archive', password: 'p' }) });
    const saved = process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = 'http://127.0.0.1:4599';
    try {
      await readDatabaseSecret(arn, { region: 'eu-west-1', credentials, fetch: f.fn });
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
      else process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = saved;
    }
    const { url, init } = f.calls[0] as { url: string; init: RequestInit };
    expect(url).toBe('http://127.0.0.1:4599/');
    expect((init.headers as Record<string, string>).host).toBe('127.0.0.1:4599');
  });
});
