import type { Cluster } from 'ioredis';
import { CheckpointStore, connectRedis } from '../../lambdas/archive/redis-store';
import { HOUR_MS, lc, saverDoc, seedValue } from '../../local/fixtures';
import { type Running, startRedisCluster } from '../../local/services';
import { archiveOnce } from '../support/archive-harness';
import { type TestDb, testDb } from '../support/db';

/** ElastiCache Serverless is cluster mode: keys live on different masters and slots. */
describe('archive job against a Redis Cluster (3 masters)', () => {
  let cluster: Running & { nodes: { host: string; port: number }[] };
  let client: Cluster;
  let db: TestDb;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    client = (await connectRedis({ clusterEndpoint: cluster.nodes[0] as { host: string; port: number }, clusterTls: false })) as Cluster;
    db = await testDb('data-api');
  });
  afterAll(async () => {
    await client.quit();
    await cluster.stop();
    await db.close();
  });

  it('scans every master, reads across slots, and deletes key by key', async () => {
    // Prepare: 60 seed conversations and 10 saver threads (with companions) spread over the slots
    const old = Date.now() - 23.5 * HOUR_MS;
    for (let i = 0; i < 60; i++) {
      const value = seedValue({
        conversationId: `c-${i}`,
        ts: Math.floor(old / 1000),
        messages: [
          { role: 'user', content: `hola ${i}` },
          { role: 'assistant', content: `buenas ${i}` },
        ],
      });
      await client.set(`langgraph:checkpoint:c-${i}:1`, value, 'PX', HOUR_MS);
    }
    for (let i = 0; i < 10; i++) {
      await client.set(
        `checkpoint:t-${i}::cp`,
        saverDoc({ thread: `t-${i}`, id: 'cp', tsMs: old, messages: [lc('HumanMessage', { content: `q${i}`, id: `h${i}` })] }),
        'PX',
        HOUR_MS,
      );
      await client.set(`checkpoint_latest:t-${i}:`, 'cp');
      await client.set(`checkpoint_write:t-${i}::cp:task:0`, 'w');
    }
    await client.set(
      'langgraph:checkpoint:fresh:1',
      seedValue({ conversationId: 'fresh', ts: Math.floor(Date.now() / 1000), messages: [] }),
      'PX',
      HOUR_MS,
    );
    const perMaster = await Promise.all(client.nodes('master').map((n) => n.dbsize()));
    expect(perMaster.filter((n) => n > 0).length).toBe(3); // the keys really are spread
    // Act
    const out = await archiveOnce(db.sql, client as never, { batchSize: 7 }, new CheckpointStore(client));
    // Assess
    expect(out.counters).toMatchObject({ checkpoints_archived: 70, checkpoints_fresh: 1, messages_archived: 130, conversations_failed: 0 });
    const left = (await Promise.all(client.nodes('master').map((n) => n.keys('*')))).flat();
    expect(left).toEqual(['langgraph:checkpoint:fresh:1']);
    const [n] = await db.direct.query<{ c: number }>('SELECT count(DISTINCT conversation_id)::int AS c FROM conversation_history');
    expect(n?.c).toBe(70);
  });
});
