/**
 * Issue 12 (a, b), the archive's part: the archive runs under exactly the ACL built from its one
 * command list (lambdas/archive/acl.ts) — single node and cluster — and that ACL refuses what
 * the archive never needs (FLUSHALL, also through EVAL; KEYS; CONFIG). (Every other archive suite
 * runs the job as that user too: test/support/archive-harness.ts.) No log line and no
 * quarantine `error` of a malformed checkpoint carries its content.
 */
import { type Cluster, Redis } from 'ioredis';
import { CheckpointStore, connectRedis } from '../../lambdas/archive/redis-store';
import { HOUR_MS, lc, putWithAge, saverDoc, seedValue } from '../../local/fixtures';
import { startRedisCluster } from '../../local/services';
import { archiveAclRules, archiveOnce, usePrivateRedis } from '../support/archive-harness';
import { type TestDb, testDb } from '../support/db';

const rules = () => archiveAclRules('archive-secret');

async function refusals(c: Redis) {
  const refused = async (p: Promise<unknown>) =>
    p.then(
      () => 'allowed',
      (e: Error) => (/NOPERM|no permissions|can't run this command/i.test(e.message) ? 'refused' : e.message),
    );
  return {
    flushall: await refused(c.flushall()),
    keys: await refused(c.keys('*')),
    config: await refused(c.config('GET', 'maxmemory')),
    evalFlushall: await refused(c.eval("return redis.call('FLUSHALL')", 0)),
  };
}

describe('the archive under its generated Valkey ACL', () => {
  const client = usePrivateRedis();
  let db: TestDb;
  beforeEach(async () => {
    db = await testDb('pg');
  });
  afterEach(() => db.close());

  it('single node: the archive works and FLUSHALL, KEYS, CONFIG, FLUSHALL through EVAL are refused', async () => {
    const admin = client();
    await admin.call('ACL', 'SETUSER', 'archive', 'reset', ...rules());
    const old = Date.now() - 23.5 * HOUR_MS;
    await putWithAge(
      admin,
      'langgraph:checkpoint:acl-1:1',
      seedValue({ conversationId: 'acl-1', messages: [{ role: 'user', content: 'hola' }], ts: Math.floor(old / 1000) }),
      23.5 * HOUR_MS,
    );
    await putWithAge(
      admin,
      'checkpoint:acl-t::cp',
      saverDoc({ thread: 'acl-t', id: 'cp', tsMs: old, messages: [lc('HumanMessage', { content: 'q', id: 'h' })] }),
      23.5 * HOUR_MS,
    );
    await admin.set('checkpoint_latest:acl-t:', 'cp');
    await admin.zadd('write_keys_zset:acl-t::cp', 1, 'checkpoint_write:acl-t::cp:task:0');
    await admin.set('other:key', 'not the archive’s');
    const archive = (await connectRedis({
      url: `redis://127.0.0.1:${admin.options.port}`,
      username: 'archive',
      password: 'archive-secret',
    })) as Redis;
    try {
      const out = await archiveOnce(db.sql, archive, {}, new CheckpointStore(archive));
      expect(out.counters).toMatchObject({ checkpoints_archived: 2, messages_archived: 2, checkpoints_malformed: 0 });
      expect(await admin.keys('*')).toEqual(['other:key']);
      expect(await refusals(archive)).toEqual({ flushall: 'refused', keys: 'refused', config: 'refused', evalFlushall: 'refused' });
      await expect(archive.get('other:key')).rejects.toThrow(/NOPERM/);
    } finally {
      archive.disconnect();
    }
  });

  it('no log line and no quarantine error of a malformed checkpoint contains its content', async () => {
    const admin = client();
    const secret = 'kZOkaGVsbG8=SECRETO-del-cliente';
    await putWithAge(admin, 'langgraph:checkpoint:leak-1:1', secret, 23.5 * HOUR_MS);
    await putWithAge(
      admin,
      'langgraph:checkpoint:leak-2:1',
      `{"v":1,"data":{"messages":[{"role":"${secret}","content":"x"}]}}`,
      23.5 * HOUR_MS,
    );
    await putWithAge(admin, 'checkpoint:leak-t::cp', `{"thread_id":"leak-t","checkpoint":"${secret}`, 23.5 * HOUR_MS);
    const out = await archiveOnce(db.sql, admin);
    expect(out.counters.checkpoints_malformed).toBe(2);
    const logged = JSON.stringify(out.log.lines);
    expect(logged).toContain('langgraph:checkpoint:leak-1:1');
    expect(logged).not.toContain('SECRETO');
    const q = await db.direct.query<{ error: string }>('SELECT error FROM checkpoint_quarantine');
    expect(q).toHaveLength(3);
    for (const r of q) expect(r.error).not.toContain('SECRETO');
    expect(q.map((r) => r.error).join('\n')).toMatch(/bytes, fault at character \d+/);
  });
});

describe('the archive under its generated Valkey ACL, cluster mode', () => {
  let cluster: Awaited<ReturnType<typeof startRedisCluster>>;
  let db: TestDb;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    db = await testDb('data-api');
  });
  afterAll(async () => {
    await cluster.stop();
    await db.close();
  });

  it('scans, reads and deletes across masters as the archive user; refuses FLUSHALL, KEYS, CONFIG', async () => {
    for (const n of cluster.nodes) {
      const c = new Redis(n.port, n.host);
      await c.call('ACL', 'SETUSER', 'archive', 'reset', ...rules());
      c.disconnect();
    }
    const admin = (await connectRedis({
      clusterEndpoint: cluster.nodes[0] as { host: string; port: number },
      clusterTls: false,
    })) as Cluster;
    const old = Date.now() - 23.5 * HOUR_MS;
    for (let i = 0; i < 20; i++)
      await admin.set(
        `langgraph:checkpoint:cl-${i}:1`,
        seedValue({ conversationId: `cl-${i}`, messages: [{ role: 'user', content: `m${i}` }], ts: Math.floor(old / 1000) }),
        'PX',
        HOUR_MS,
      );
    const archive = (await connectRedis({
      clusterEndpoint: cluster.nodes[0] as { host: string; port: number },
      clusterTls: false,
      username: 'archive',
      password: 'archive-secret',
    })) as Cluster;
    try {
      const out = await archiveOnce(db.sql, archive as never, { batchSize: 7 }, new CheckpointStore(archive));
      expect(out.counters).toMatchObject({ checkpoints_archived: 20, messages_archived: 20 });
      const node = archive.nodes('master')[0] as Redis;
      expect(await refusals(node)).toEqual({ flushall: 'refused', keys: 'refused', config: 'refused', evalFlushall: 'refused' });
    } finally {
      archive.disconnect();
      admin.disconnect();
    }
  });
});
