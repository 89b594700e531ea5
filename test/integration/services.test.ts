import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, statSync, symlinkSync, WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Client } from 'pg';
import { s3Client } from '../../lambdas/retention/cold-store';
import { BINARIES_PACKAGE, binariesPackage, cacheDir } from '../../local/pg-server';
import { MissingRedisError, startPostgres, startRedis, startS3 } from '../../local/services';

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

  it('the S3 server acknowledges a write only once its bytes are on disk, as S3 does (s3rver alone answered before: a GET after the 200 read a shorter object)', async () => {
    // Prepare: every file write takes 20 ms a chunk (a loaded machine), so an early answer would show
    const proto = WriteStream.prototype as unknown as Record<'_write' | '_writev', unknown>;
    const saved = { _write: proto._write, _writev: proto._writev };
    const write = proto._write as (this: WriteStream, c: Buffer, e: BufferEncoding, cb: (err?: Error | null) => void) => void;
    proto._write = function (this: WriteStream, c: Buffer, e: BufferEncoding, cb: (err?: Error | null) => void) {
      setTimeout(() => write.call(this, c, e, cb), 20);
    };
    proto._writev = undefined;
    const s3 = await startS3(['b']);
    const client = s3Client(s3.url, { credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, region: 'us-east-1' });
    try {
      // Act: a single PUT and a multipart upload (two parts), each read at once after its answer
      const small = Buffer.alloc(300_000, 7);
      small.write('the end', small.length - 7);
      await client.send(new PutObjectCommand({ Bucket: 'b', Key: 'small', Body: small }));
      const smallHead = await client.send(new HeadObjectCommand({ Bucket: 'b', Key: 'small' }));
      expect(smallHead.ContentLength).toBe(small.length);
      const tail = await client.send(
        new GetObjectCommand({ Bucket: 'b', Key: 'small', Range: `bytes=${small.length - 7}-${small.length - 1}` }),
      );
      const big = Buffer.alloc(6 * 1024 * 1024, 9);
      await new Upload({ client, params: { Bucket: 'b', Key: 'big', Body: big }, partSize: 5 * 1024 * 1024 }).done();
      const bigHead = await client.send(new HeadObjectCommand({ Bucket: 'b', Key: 'big' }));
      // Assess
      expect(Buffer.from(await (tail.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()).toString()).toBe(
        'the end',
      );
      expect(bigHead.ContentLength).toBe(big.length);
    } finally {
      Object.assign(proto, saved);
      client.destroy();
      await s3.stop();
    }
  });
});
