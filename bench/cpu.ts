/**
 * CPU time spent by each process of a benchmark (this Node process, the PostgreSQL server and its
 * backends, redis-server): CPU seconds do not stretch when other work shares the machine the way
 * wall-clock seconds do, so "µs of CPU per row" compares runs made under different loads.
 * Linux only (/proc); elsewhere the figures are undefined.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Sql } from '../lambdas/shared/sql/types';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export interface CpuSnapshot {
  readonly node: number;
  readonly postgres?: number;
  readonly redis?: number;
}

/**
 * utime + stime (seconds) and parent pid of a process, from /proc/<pid>/stat; with `reaped`, plus the
 * time of the children it has waited for (cutime + cstime: an exited backend's CPU moves there).
 */
function stat(pid: number, reaped = false): { seconds: number; ppid: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: fields start after the last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]) + (reaped ? Number(f[13]) + Number(f[14]) : 0);
    return { ppid: Number(f[1]), seconds: ticks / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

/** The pids of a process's children now (the kernel's list, or a scan of /proc without it). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name) && stat(Number(name))?.ppid === pid)
      .map(Number);
  }
}

/**
 * A reader of the CPU seconds the PostgreSQL server behind `sql` has used so far: the postmaster, its
 * children now (backends, writers) and those it has reaped. One query finds the server; reading is
 * synchronous (no query), so it can be taken inside a measured phase. Undefined without /proc.
 */
export async function postgresCpuReader(sql: Sql): Promise<(() => number) | undefined> {
  const [row] = await sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const postmaster = row ? stat(Number(row.pid))?.ppid : undefined;
  if (!postmaster || !stat(postmaster)) return undefined;
  return () => {
    let total = stat(postmaster, true)?.seconds ?? 0;
    for (const child of childrenOf(postmaster)) total += stat(child)?.seconds ?? 0; // exited meanwhile: counted as reaped next time
    return total;
  };
}

/** A reader of one process's CPU seconds so far (e.g. a server in a child process); undefined without /proc. */
export function processCpuReader(pid: number): (() => number) | undefined {
  if (!stat(pid)) return undefined;
  let last = 0;
  return () => {
    last = stat(pid)?.seconds ?? last; // gone: its last reading
    return last;
  };
}

async function postgresSeconds(sql: Sql): Promise<number | undefined> {
  return (await postgresCpuReader(sql))?.();
}

async function redisSeconds(redis: Redis): Promise<number | undefined> {
  const info = await redis.info('cpu');
  const user = /used_cpu_user:([\d.]+)/.exec(info)?.[1];
  const sys = /used_cpu_sys:([\d.]+)/.exec(info)?.[1];
  return user && sys ? Number(user) + Number(sys) : undefined;
}

export async function cpuSnapshot(sql: Sql, redis?: Redis): Promise<CpuSnapshot> {
  const u = process.cpuUsage();
  return {
    node: (u.user + u.system) / 1e6,
    postgres: await postgresSeconds(sql).catch(() => undefined),
    redis: redis ? await redisSeconds(redis).catch(() => undefined) : undefined,
  };
}

/** µs of CPU per item between two snapshots, per process and in all. */
export function cpuPerItem(a: CpuSnapshot, b: CpuSnapshot, items: number) {
  const us = (x?: number, y?: number) => (x === undefined || y === undefined ? undefined : ((y - x) * 1e6) / items);
  const node = us(a.node, b.node) as number;
  const postgres = us(a.postgres, b.postgres);
  const redis = us(a.redis, b.redis);
  return { node, postgres, redis, total: node + (postgres ?? 0) + (redis ?? 0) };
}
