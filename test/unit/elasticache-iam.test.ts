import { elastiCacheIamToken } from '../../lambdas/archive/elasticache-iam';

describe('ElastiCache IAM auth token', () => {
  it('is a presigned connect request for the user, scoped to a serverless cache, valid 15 minutes', async () => {
    const token = await elastiCacheIamToken({
      cacheName: 'dlc-dev-checkpoints',
      userId: 'archive',
      region: 'eu-west-1',
      serverless: true,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      now: new Date('2025-10-28T13:00:00Z'),
    });
    expect(token.startsWith('dlc-dev-checkpoints/?')).toBe(true);
    const q = new URLSearchParams(token.split('?')[1]);
    expect(q.get('Action')).toBe('connect');
    expect(q.get('User')).toBe('archive');
    expect(q.get('ResourceType')).toBe('ServerlessCache');
    expect(q.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(q.get('X-Amz-Credential')).toBe('AKIDEXAMPLE/20251028/eu-west-1/elasticache/aws4_request');
    expect(q.get('X-Amz-Expires')).toBe('900');
    expect(q.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });
});
