/** The privacy Lambda's handler as deployed (its environment, local endpoints): find, export, erase, verify; bad events refused. */
import { Redis } from 'ioredis';
import { type Running, startRedis } from '../../local/services';
import { type TestDb, testDb } from '../support/db';
import { BUCKET, run, s3 } from '../support/retention-harness';

describe('privacy Lambda handler', () => {
  let db: TestDb;
  let store: Awaited<ReturnType<typeof s3>>;
  let redisServer: Running;
  const saved = { ...process.env };
  beforeAll(async () => {
    redisServer = await startRedis({ forceLocal: true });
    db = await testDb('pg');
    store = await s3();
    Object.assign(process.env, {
      ENV_NAME: 'dev',
      DB_DRIVER: 'pg',
      DATABASE_URL: db.url,
      REDIS_URL: redisServer.url,
      COLD_BUCKET: BUCKET,
      S3_ENDPOINT: store.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    });
  });
  afterAll(async () => {
    process.env = { ...saved };
    await store.stop();
    await db.close();
    await redisServer.stop();
  });

  it('finds, exports to its own prefix, erases and verifies one subject; refuses a malformed event', async () => {
    await db.direct.execute(`INSERT INTO conversations (id, conversation_key, source, external_id, started_at, last_message_at)
      VALUES ('00000000-0000-0000-0000-0000000000d1', 'wa:dana', 'live', '+34600000009', '2025-01-03', '2025-01-03 12:00+00')`);
    await db.direct.execute(`INSERT INTO messages (conversation_id, message_key, role, content, created_at, source)
      VALUES ('00000000-0000-0000-0000-0000000000d1', 'k1', 'user', 'hola', '2025-01-03 10:00+00', 'live')`);
    await run(db.sql, store.store, { tables: ['messages', 'conversations'] });
    const redis = new Redis(redisServer.url);
    await redis.set(
      'langgraph:checkpoint:wa:dana:1',
      JSON.stringify({ v: 1, data: { conversation_id: 'wa:dana', messages: [] } }),
      'PX',
      3_600_000,
    );
    await redis.quit();
    const { handler } = jest.requireActual<typeof import('../../lambdas/privacy/handler')>('../../lambdas/privacy/handler');
    const who = [{ kind: 'contact' as const, value: '+34 600 000 009' }];
    const found = await handler({ action: 'find', identifiers: who });
    expect(found).toMatchObject({
      redis: { keys: ['langgraph:checkpoint:wa:dana:1'] },
      cold: [expect.objectContaining({ table: 'messages' }), expect.objectContaining({ table: 'conversations' })],
    });
    const exported = (await handler({ action: 'export', identifiers: who })) as { key: string; bytes: number };
    expect(exported.key).toMatch(/^_exports\/subject-[0-9a-f]{24}-\d+\.zip$/);
    expect(await store.store.head(exported.key)).toMatchObject({ size: exported.bytes });
    const erased = (await handler({ action: 'erase', identifiers: who })) as { receipt: { requestId: string; cold: unknown[] } };
    expect(erased.receipt.cold).toHaveLength(2);
    expect(await handler({ action: 'verify', requestId: erased.receipt.requestId })).toMatchObject({ ok: true });
    await expect(handler({ action: 'find', identifiers: [] })).rejects.toThrow(/identifiers: name the subject/);
    await expect(handler({ action: 'find', identifiers: [{ kind: 'email', value: 'x' } as never] })).rejects.toThrow(
      /is not \{"kind": one of/,
    );
    await expect(handler({ action: 'nuke' as never, identifiers: who })).rejects.toThrow(/action must be find, export, erase or verify/);
  });
});
