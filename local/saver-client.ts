/**
 * node-redis's surface as the real LangGraph JS savers use it, over ioredis: a `json.set` document
 * stored as its JSON string (a Redis without RedisJSON), TTLs kept. Used by the tests' real savers
 * (test/support/real-savers.ts) and by the soak's saver process (local/soak/saver-child.ts).
 */
import type { Redis } from 'ioredis';

export function saverClient(redis: Redis) {
  return {
    json: {
      get: async (key: string) => {
        const v = await redis.get(key);
        return v === null ? null : JSON.parse(v);
      },
      set: async (key: string, _path: string, doc: unknown, opts?: { NX?: boolean }) => {
        const args: string[] = ['KEEPTTL'];
        if (opts?.NX) args.push('NX');
        return redis.set(key, JSON.stringify(doc), ...(args as ['KEEPTTL']));
      },
    },
    keys: (pattern: string) => redis.keys(pattern),
    exists: (key: string) => redis.exists(key),
    del: (keys: string | string[]) => redis.del(...(Array.isArray(keys) ? keys : [keys])),
    expire: (key: string, seconds: number) => redis.expire(key, seconds),
    zAdd: (key: string, members: { score: number; value: string }[]) => redis.zadd(key, ...members.flatMap((m) => [m.score, m.value])),
    zRange: (key: string, start: number, stop: number) => redis.zrange(key, start, stop),
    ft: {
      create: async () => {
        throw new Error('Index already exists');
      },
      search: async () => {
        throw new Error('RediSearch is not available in this Redis');
      },
    },
    quit: async () => undefined,
  };
}
