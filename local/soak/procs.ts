/**
 * The soak's three servers, each one a process the nemesis can kill and start again on the same
 * data: PostgreSQL 17 (initialised by local/services.ts startPostgres, then run as our own
 * postmaster so that `kill -9` and a restart on the same data directory are possible), Redis
 * (AOF with fsync always: a restart keeps what was acknowledged) and s3rver (same directory, same port).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort, S3RVER_SCRIPT, startPostgres } from '../services';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A server the nemesis can take down and bring back. */
export interface Restartable {
  readonly name: string;
  /** The server's current process id (undefined while down). */
  pid(): number | undefined;
  /** kill -9 (`hard`) or a clean stop. */
  down(hard: boolean): Promise<void>;
  up(): Promise<void>;
  /** Stops it and removes its data. */
  stop(keepRunning?: boolean): Promise<void>;
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

/**
 * Spawns `cmd` in its own process group with its output appended to `log`, and resolves once `ready`
 * appears in that output (rejects if the process exits first). Detached with file output: the
 * server can outlive this process (`--keep-services`).
 */
async function spawnUntil(
  cmd: string,
  args: string[],
  ready: RegExp,
  log: string,
  opts: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {},
  timeoutMs = 30_000,
): Promise<ChildProcess> {
  const from = existsSync(log) ? statSync(log).size : 0;
  const fd = openSync(log, 'a');
  const child = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = String(code ?? signal);
  });
  child.once('error', (e) => {
    exited = e.message;
  });
  const until = Date.now() + timeoutMs;
  for (;;) {
    const out = readFileSync(log, 'utf8').slice(from);
    if (ready.test(out)) return child;
    if (exited !== undefined) throw new Error(`${cmd} exited (${exited}) before it was ready: ${out.slice(-500)}`);
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`${cmd} did not become ready in ${timeoutMs} ms: ${out.slice(-500)}`);
    }
    await sleep(50);
  }
}

// ------------------------------------------------------------------ PostgreSQL

export interface SoakPostgres extends Restartable {
  readonly adminUrl: string;
}

/** PostgreSQL 17 initialised by startPostgres, then run as our own postmaster (same argv, same user). */
export async function startSoakPostgres(): Promise<SoakPostgres> {
  const pg = await startPostgres({ forceLocal: true });
  const admin = new Client({ connectionString: pg.url });
  await admin.connect();
  const [{ pid }] = (await admin.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  await admin.end();
  const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
  const argv = readFileSync(`/proc/${ppid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  const pstatus = readFileSync(`/proc/${ppid}/status`, 'utf8');
  const uid = Number(/^Uid:\s+(\d+)/m.exec(pstatus)?.[1]);
  const gid = Number(/^Gid:\s+(\d+)/m.exec(pstatus)?.[1]);
  const [bin, ...given] = argv as [string, ...string[]];
  // Commits must survive a kill -9, as on Aurora: synchronous_commit back on. (fsync stays off: the
  // postmaster dies, not the machine, so the page cache keeps what was written.)
  const args = given.map((a) => (a === 'synchronous_commit=off' ? 'synchronous_commit=on' : a));
  const log = join(tmpdir(), `dlc-soak-pg-${ppid}.log`);
  await pg.restart?.halt();
  let child: ChildProcess | undefined;
  const up = async () => {
    if (child) return;
    // After a kill -9 the old backends need a moment to notice and release the shared memory.
    for (let attempt = 0; ; attempt++) {
      try {
        child = await spawnUntil(bin, args, /ready to accept connections/, log, {
          ...(process.getuid?.() === 0 ? { uid, gid } : {}),
          env: { ...process.env, LC_MESSAGES: 'C' },
        });
        return;
      } catch (e) {
        if (attempt >= 40) throw e;
        await sleep(250);
      }
    }
  };
  const down = async (hard: boolean) => {
    const c = child;
    if (!c) return;
    child = undefined;
    c.kill(hard ? 'SIGKILL' : 'SIGINT');
    await waitExit(c);
  };
  await up();
  return {
    name: 'postgres',
    adminUrl: pg.url,
    pid: () => child?.pid,
    up,
    down,
    stop: async (keepRunning = false) => {
      if (keepRunning) {
        child?.unref();
        return;
      }
      await down(false);
      await pg.stop();
      rmSync(log, { force: true });
    },
  };
}

// ------------------------------------------------------------------ Redis

export interface SoakRedis extends Restartable {
  readonly url: string;
}

/** redis-server with an append-only file fsynced at every write: a kill -9 loses nothing acknowledged. */
export async function startSoakRedis(): Promise<SoakRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'dlc-soak-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--dir',
    dir,
  ];
  let child: ChildProcess | undefined;
  const up = async () => {
    if (child) return;
    for (let attempt = 0; ; attempt++) {
      try {
        child = await spawnUntil('redis-server', args, /Ready to accept connections/, join(dir, 'redis.log'));
        return;
      } catch (e) {
        if (attempt >= 20) throw e;
        await sleep(250);
      }
    }
  };
  const down = async (hard: boolean) => {
    const c = child;
    if (!c) return;
    child = undefined;
    c.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await waitExit(c);
  };
  await up();
  return {
    name: 'redis',
    url: `redis://127.0.0.1:${port}`,
    pid: () => child?.pid,
    up,
    down,
    stop: async (keepRunning = false) => {
      if (keepRunning) {
        child?.unref();
        return;
      }
      await down(false);
      rmSync(dir, { recursive: true, force: true });
      rmSync(`${dir}.log`, { force: true });
    },
  };
}

// ------------------------------------------------------------------ S3 (s3rver)

export interface SoakS3 extends Restartable {
  readonly endpoint: string;
  readonly bucket: string;
}

/** s3rver in a child process on a fixed port and directory: stopped and started, its objects stay. */
export async function startSoakS3(bucket = 'cold'): Promise<SoakS3> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'dlc-soak-s3-'));
  mkdirSync(dir, { recursive: true });
  // s3rver's continuation tokens (a listing past 1,000 keys) use DES, which Node 20's OpenSSL 3 keeps in
  // its legacy provider: without it every truncated listing is an InternalError (the first 30-min soak)
  const args = ['--openssl-legacy-provider', S3RVER_SCRIPT, dir, JSON.stringify([bucket]), String(port)];
  let child: ChildProcess | undefined;
  const up = async () => {
    if (child) return;
    for (let attempt = 0; ; attempt++) {
      try {
        child = await spawnUntil(process.execPath, args, /LISTENING/, `${dir}.log`);
        return;
      } catch (e) {
        if (attempt >= 20) throw e;
        await sleep(250);
      }
    }
  };
  const down = async (hard: boolean) => {
    const c = child;
    if (!c) return;
    child = undefined;
    c.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await waitExit(c);
  };
  await up();
  return {
    name: 's3',
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    pid: () => child?.pid,
    up,
    down,
    stop: async (keepRunning = false) => {
      if (keepRunning) {
        child?.unref();
        return;
      }
      await down(false);
      rmSync(dir, { recursive: true, force: true });
      rmSync(`${dir}.log`, { force: true });
    },
  };
}
