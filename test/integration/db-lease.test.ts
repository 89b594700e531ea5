/** The database lease every entry point shares (lambdas/shared/db-lease.ts), on real PostgreSQL, both drivers. */
import { DatabaseLease, holdFence, LeaseLost } from '../../lambdas/shared/db-lease';
import { DRIVERS, type TestDb, testDb } from '../support/db';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(DRIVERS)('database lease (%s driver)', (driver) => {
  let db: TestDb;
  beforeEach(async () => {
    db = await testDb(driver);
  });
  afterEach(() => db.close());

  it('a run that died holding it (no release: the database was down, the process killed) frees it when it runs out', async () => {
    const dead = new DatabaseLease(db.sql, 'retention', 'lambda that died', 1_000);
    expect(await dead.acquire('run-a')).toEqual({ ok: true });
    (dead as unknown as { stopRenewing(): void }).stopRenewing(); // it never renews again
    const next = new DatabaseLease(db.sql, 'retention', 'cli', 1_000);
    expect(await next.acquire('run-b')).toMatchObject({ ok: false, reason: expect.stringContaining('(lambda that died, run run-a)') });
    await sleep(1_200);
    expect(await next.acquire('run-b')).toEqual({ ok: true });
    // The dead run's fence is over: an object of it would be refused, and so would a renewal.
    await expect(db.sql.transaction((tx) => holdFence(tx, dead.fence as never))).rejects.toBeInstanceOf(LeaseLost);
    await expect(dead.renew()).rejects.toBeInstanceOf(LeaseLost);
    await next.release();
  });

  it('one that ran out while nobody took it is renewed by its holder (its fence is still the last one)', async () => {
    const slow = new DatabaseLease(db.sql, 'retention', 'cli', 1_000);
    expect(await slow.acquire('run-a')).toEqual({ ok: true });
    (slow as unknown as { stopRenewing(): void }).stopRenewing();
    await sleep(1_200);
    await slow.renew();
    await db.sql.transaction((tx) => holdFence(tx, slow.fence as never));
    await slow.release();
  });

  it('a release whose connection breaks is tried again, so the next run need not wait out the lease (soak finding G)', async () => {
    let broken = 2;
    const flaky = new Proxy(db.sql, {
      get(target, prop, receiver) {
        if (prop === 'execute')
          return async (text: string, params?: never) => {
            if (text.includes('SET expires_at = now()') && broken-- > 0)
              throw new Error('terminating connection due to administrator command');
            return target.execute(text, params);
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const lease = new DatabaseLease(flaky, 'retention', 'lambda', 60_000);
    expect(await lease.acquire('run-a')).toEqual({ ok: true });
    await lease.release();
    expect(broken).toBe(-1); // failed twice, then released
    expect(await new DatabaseLease(db.sql, 'retention', 'cli', 60_000).acquire('run-b')).toEqual({ ok: true });
  });

  it('the default length is two minutes: a dead run blocks retention and restore for at most that', () => {
    const lease = new DatabaseLease(db.sql, 'retention', 'x') as unknown as { leaseMs: number };
    expect(lease.leaseMs).toBe(120_000);
  });
});
