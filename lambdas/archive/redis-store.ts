/**
 * Checkpoint access in Redis / ElastiCache (Valkey): SCAN (never KEYS) over every master,
 * reads batched by ioredis auto-pipelining (grouped per node in cluster mode), and single-key
 * compare-and-delete in Lua (no multi-key command, so no cross-slot error in cluster mode).
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

export interface RawEntry {
  readonly key: string;
  /** The value as read (GET, or JSON.GET for RedisJSON documents); null when the key is gone. */
  readonly value: string | null;
  readonly kind: 'string' | 'json' | 'missing' | 'other';
  /** Milliseconds to live; -1 without expiry, -2 missing. */
  readonly pttlMs: number;
}

const COMPARE_AND_DELETE = `
local v
if ARGV[2] == 'json' then v = redis.call('JSON.GET', KEYS[1]) else v = redis.call('GET', KEYS[1]) end
if v == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

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

  /** Values and PTTLs of `keys`, pipelined; RedisJSON documents are read with JSON.GET. */
  async read(keys: readonly string[]): Promise<RawEntry[]> {
    const c = this.client;
    const results = await Promise.all(
      keys.map(async (key): Promise<RawEntry> => {
        const [value, pttl] = await Promise.all([c.get(key).catch((e: Error) => e), c.pttl(key)]);
        if (!(value instanceof Error)) return { key, value, kind: value === null ? 'missing' : 'string', pttlMs: pttl };
        if (!/WRONGTYPE/.test(value.message)) throw value;
        const json = (await c.call('JSON.GET', key).catch(() => null)) as string | null;
        return json === null ? { key, value: null, kind: 'other', pttlMs: pttl } : { key, value: json, kind: 'json', pttlMs: pttl };
      }),
    );
    return results;
  }

  /** Deletes `key` only if it still holds `expected` (it was not rewritten since it was read). */
  async compareAndDelete(key: string, expected: string, kind: 'string' | 'json'): Promise<boolean> {
    const c = this.client as RedisClient & { compareAndDelete(key: string, expected: string, kind: string): Promise<number> };
    return (await c.compareAndDelete(key, expected, kind)) === 1;
  }

  /** Deletes keys one at a time (they may live in different slots). Returns how many existed. */
  async deleteEach(keys: readonly string[]): Promise<number> {
    const counts = await Promise.all(keys.map((k) => this.client.del(k)));
    return counts.reduce((a, b) => a + b, 0);
  }

  async quit(): Promise<void> {
    await this.client.quit();
  }
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
    return new Cluster([options.clusterEndpoint], {
      enableAutoPipelining: true,
      dnsLookup: (address, callback) => callback(null, address),
      slotsRefreshTimeout: 5_000,
      redisOptions: { ...common, tls: options.clusterTls === false ? undefined : {} },
    });
  }
  if (!options.url) throw new Error('Redis: give a url or a clusterEndpoint');
  const url = new URL(options.url);
  return new Redis(options.url, { ...common, tls: url.protocol === 'rediss:' ? {} : undefined });
}
