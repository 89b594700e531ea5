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

/** utime + stime (seconds) and parent pid of a process, from /proc/<pid>/stat. */
function stat(pid: number): { seconds: number; ppid: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: fields start after the last ')'.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), seconds: (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

/** The PostgreSQL server's CPU: the postmaster and every child it has now (backends, writers). */
async function postgresSeconds(sql: Sql): Promise<number | undefined> {
  const [row] = await sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const postmaster = row ? stat(Number(row.pid))?.ppid : undefined;
  if (!postmaster) return undefined;
  let total = stat(postmaster)?.seconds ?? 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(Number(name));
    if (s?.ppid === postmaster) total += s.seconds;
  }
  return total;
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
