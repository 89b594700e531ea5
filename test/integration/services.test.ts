import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client } from 'pg';
import { BINARIES_PACKAGE, binariesPackage, cacheDir } from '../../local/pg-server';
import { MissingRedisError, startPostgres, startRedis } from '../../local/services';

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

  it('PostgreSQL starts with its package reached only through a private folder (mode 700, as a clone under /root): run from a cache its user can read', async () => {
    // Prepare: the binaries package seen through a mode-700 folder, and an empty cache root
    const real = binariesPackage();
    const home = mkdtempSync(join(tmpdir(), 'dlc-private-'));
    const cacheRoot = mkdtempSync(join(tmpdir(), 'dlc-pg-cache-'));
    chmodSync(cacheRoot, 0o755);
    const packageDir = join(home, 'node_modules', BINARIES_PACKAGE);
    mkdirSync(dirname(packageDir), { recursive: true });
    symlinkSync(real.dir, packageDir);
    expect(statSync(home).mode & 0o777).toBe(0o700);
    const root = process.getuid?.() === 0;
    if (root) {
      // the failure this avoids: PostgreSQL's user cannot run the binaries where the checkout has them
      const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }));
      const direct = spawnSync(join(packageDir, 'native', 'bin', 'postgres'), ['--version'], { uid: id('-u'), gid: id('-g') });
      expect((direct.error as NodeJS.ErrnoException | undefined)?.code).toBe('EACCES');
    }
    let pg: Awaited<ReturnType<typeof startPostgres>> | undefined;
    try {
      // Act
      pg = await startPostgres({ forceLocal: true, packageDir, cacheRoot });
      // Assess: it answers, and (as root) runs from the cache, a folder of mode 755 named after the version
      const client = new Client({ connectionString: pg.url });
      await client.connect();
      const [{ version, pid }] = (await client.query('SELECT version(), pg_backend_pid() AS pid')).rows;
      const exe = root ? readlinkSync(`/proc/${pid}/exe`) : undefined;
      await client.end();
      expect(version).toMatch(/^PostgreSQL 17\./);
      if (root) {
        const cache = cacheDir(real.version, cacheRoot);
        expect(cache).toBe(join(cacheRoot, `dlc-postgres-${real.version}-${process.platform}-${process.arch}`));
        expect(statSync(cache).mode & 0o777).toBe(0o755);
        expect(exe).toBe(join(cache, 'bin', 'postgres'));
      }
    } finally {
      await pg?.stop();
      rmSync(home, { recursive: true, force: true });
      rmSync(cacheRoot, { recursive: true, force: true });
    }
  });
});
