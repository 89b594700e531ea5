/**
 * Checkpoint access in Redis / ElastiCache (Valkey): SCAN (never KEYS) over every master,
 * reads batched by ioredis auto-pipelining (grouped per node in cluster mode), and single-key
 * compare-and-delete in Lua (no multi-key command, so no cross-slot error in cluster mode).
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

export { ARCHIVE_KEY_PATTERNS, ARCHIVE_REDIS_COMMANDS, archiveAccessString } from './acl';

export type EntryKind = 'string' | 'json' | 'zset' | 'missing' | 'other';

export interface RawEntry {
  readonly key: string;
  /** The value's bytes as read (GET, JSON.GET, or a zset's members and scores); null when absent or unreadable. */
  readonly raw: Buffer | null;
  /** The value as text (UTF-8). */
  readonly value: string | null;
  readonly kind: EntryKind;
  /** For `other`: the Redis type, or the error that kept it from being read. */
  readonly detail?: string;
  /** Milliseconds to live; -1 without expiry, -2 missing. */
  readonly pttlMs: number;
}

const COMPARE_AND_DELETE = `
local t = redis.call('TYPE', KEYS[1])['ok']
local v
if ARGV[2] == 'json' then
  if t ~= 'ReJSON-RL' then return 0 end
  v = redis.call('JSON.GET', KEYS[1])
elseif ARGV[2] == 'zset' then
  if t ~= 'zset' then return 0 end
  v = table.concat(redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES'), '\\n')
else
  if t ~= 'string' then return 0 end
  v = redis.call('GET', KEYS[1])
end
if v == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

type CasClient = RedisClient & { compareAndDelete(key: string, expected: Buffer | string, kind: string): Promise<number> };

export class CheckpointStore {
  constructor(
    readonly client: RedisClient,
    private readonly scanCount = 1_000,
  ) {
    client.defineCommand('compareAndDelete', { numberOfKeys: 1, lua: COMPARE_AND_DELETE });
  }

  /** Every key matching `pattern`, page by page, over every master node. */
  async *scan(pattern: string): AsyncGenerator<string[]> {
    const nodes = this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', this.scanCount);
        cursor = next;
        if (keys.length > 0) yield keys;
      } while (cursor !== '0');
    }
  }

  /**
   * Values (as bytes) and PTTLs of `keys`, pipelined: strings with GET, RedisJSON documents with
   * JSON.GET, sorted sets as members and scores; any other type, or a value that cannot be read
   * (a key that changed type between two of these calls), comes back as `other` with the reason —
   * never as missing, never as an error of the run.
   */
  async read(keys: readonly string[]): Promise<RawEntry[]> {
    const c = this.client;
    return Promise.all(
      keys.map(async (key): Promise<RawEntry> => {
        const [value, pttl] = await Promise.all([c.getBuffer(key).catch((e: Error) => e), c.pttl(key)]);
        if (!(value instanceof Error)) return entry(key, value, value === null ? 'missing' : 'string', pttl);
        if (!/WRONGTYPE/.test(value.message)) throw value;
        const type = await c.type(key);
        if (type === 'zset') {
          // the app may change the key again between TYPE and ZRANGE: that key is unreadable this run (kept,
          // counted), never a failed run (issue 24's WRONGTYPE)
          const members = await c.zrange(key, 0, -1, 'WITHSCORES').catch((e: Error) => e);
          if (members instanceof Error)
            return {
              key,
              raw: null,
              value: null,
              kind: 'other',
              detail: `the key changed type while it was read (${members.message})`,
              pttlMs: pttl,
            };
          return entry(key, Buffer.from(members.join('\n')), 'zset', pttl);
        }
        if (type === 'ReJSON-RL') {
          const json = await (c.callBuffer('JSON.GET', key) as Promise<Buffer | null>).catch((e: Error) => e);
          if (json instanceof Error)
            return { key, raw: null, value: null, kind: 'other', detail: `JSON.GET failed: ${json.message}`, pttlMs: pttl };
          return entry(key, json, json === null ? 'missing' : 'json', pttl);
        }
        if (type === 'none') return entry(key, null, 'missing', pttl);
        return { key, raw: null, value: null, kind: 'other', detail: `a key of type ${type}`, pttlMs: pttl };
      }),
    );
  }

  /** Deletes `key` only if it still holds `expected` (it was not rewritten since it was read). */
  async compareAndDelete(key: string, expected: Buffer | string, kind: 'string' | 'json' | 'zset'): Promise<boolean> {
    return (await (this.client as CasClient).compareAndDelete(key, expected, kind)) === 1;
  }

  async quit(): Promise<void> {
    await this.client.quit();
  }
}

function entry(key: string, raw: Buffer | null, kind: EntryKind, pttlMs: number): RawEntry {
  return { key, raw, value: raw === null ? null : raw.toString('utf8'), kind, pttlMs };
}

export interface ConnectOptions {
  /** `redis://` or `rediss://` (TLS) URL, for a single node. */
  readonly url?: string;
  /** ElastiCache Serverless / cluster mode: configuration endpoint host and port. */
  readonly clusterEndpoint?: { host: string; port: number };
  /** TLS to the cluster (always on for ElastiCache Serverless). @default true */
  readonly clusterTls?: boolean;
  readonly username?: string;
  /** Static password, or a provider of short-lived tokens (IAM auth), called on each (re)connect. */
  readonly password?: string | (() => Promise<string>);
  /**
   * A command with no reply by then fails, so a hung or partitioned Valkey fails the run (recorded,
   * lock released) instead of holding the Lambda until its timeout. @default 30000
   */
  readonly commandTimeoutMs?: number;
}

/** A client with auto-pipelining (reads are batched per node without cross-slot pipelines). */
export async function connectRedis(options: ConnectOptions): Promise<RedisClient> {
  const password = typeof options.password === 'function' ? await options.password() : options.password;
  const common: RedisOptions = {
    enableAutoPipelining: true,
    maxRetriesPerRequest: 2,
    connectTimeout: 10_000,
    commandTimeout: options.commandTimeoutMs ?? 30_000,
    lazyConnect: false,
    username: options.username,
    password,
  };
  if (options.clusterEndpoint) {
    const cluster = new Cluster([options.clusterEndpoint], {
      enableAutoPipelining: true,
      dnsLookup: (address, callback) => callback(null, address),
      slotsRefreshTimeout: 5_000,
      redisOptions: { ...common, tls: options.clusterTls === false ? undefined : {} },
    });
    // Until the slot map is in, `nodes('master')` knows only the seed node: a SCAN then would see
    // one master's keys. Wait for it.
    if (cluster.status !== 'ready')
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('Redis cluster: not ready after 10 s')), 10_000);
        cluster.once('ready', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    return cluster;
  }
  if (!options.url) throw new Error('Redis: give a url or a clusterEndpoint');
  const url = new URL(options.url);
  return new Redis(options.url, { ...common, tls: url.protocol === 'rediss:' ? {} : undefined });
}
