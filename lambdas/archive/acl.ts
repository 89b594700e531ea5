/** The archive's Valkey ACL, in one place: read by the store's tests and by the CDK (no I/O here). */

/**
 * Every command the archive sends, and the ones ioredis sends for it (connection, ready check,
 * cluster topology: ioredis 5 asks `CLUSTER SLOTS`, and `CLUSTER INFO` as its cluster ready
 * check; a single node gets `INFO`). The Valkey user's ACL is built from this one list
 * (`archiveAccessString`), and the ACL test runs the archive's suites under exactly that ACL.
 */
export const ARCHIVE_REDIS_COMMANDS = [
  'scan',
  'get',
  'pttl',
  'type',
  'zrange',
  'json.get',
  'del',
  'evalsha',
  'eval',
  'script|load',
  'ping',
  'info',
  'quit',
  'auth',
  'hello',
  'client|setname',
  'cluster|slots',
  'cluster|info',
] as const;

/** Key patterns of every family the archive reads and deletes: seed 000 and the savers' prefixes. */
export const ARCHIVE_KEY_PATTERNS = ['langgraph:checkpoint:*', 'checkpoint:*', 'checkpoint_*', 'write_keys_zset:*'] as const;

/** The archive user's ACL rules: exactly its key families and its commands, nothing else. */
export function archiveAccessString(): string {
  return ['on', ...ARCHIVE_KEY_PATTERNS.map((p) => `~${p}`), 'resetchannels', '-@all', ...ARCHIVE_REDIS_COMMANDS.map((c) => `+${c}`)].join(
    ' ',
  );
}
