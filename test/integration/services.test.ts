import { MissingRedisError, startRedis } from '../../local/services';

describe('local services', () => {
  it('a missing redis-server fails with a clear message and the install command, never a skip', async () => {
    const err = await startRedis({ forceLocal: true, env: { ...process.env, PATH: '/nonexistent' } }).catch((e) => e);
    expect(err).toBeInstanceOf(MissingRedisError);
    expect(err.message).toMatch(/redis-server was not found on PATH.*apt-get install -y redis-server.*REDIS_URL/);
  });

  it('starts a private redis-server on a free port and stops it', async () => {
    const redis = await startRedis({ forceLocal: true });
    expect(redis.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(redis.port).not.toBe(6379);
    await redis.stop();
  });
});
