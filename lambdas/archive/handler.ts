/**
 * Archive Lambda: run hourly by EventBridge Scheduler (Europe/Madrid). Thin: wiring only.
 * Settings are read and validated once, at cold start.
 */
import type { Context } from 'aws-lambda';
import { ConfigError } from '../../lib/config';
import { createLedger, createSql, loadRuntimeConfig, type RedisConfig } from '../shared/deps';
import { powertools } from '../shared/observability';
import { deadline } from '../shared/runtime';
import { type ArchiveSettings, healthRecord, runArchive } from './archive';
import { elastiCacheIamToken } from './elasticache-iam';
import { CheckpointStore, connectRedis } from './redis-store';

const config = loadRuntimeConfig();
if (!config.redis) throw new ConfigError('The archive function needs VALKEY_ENDPOINT (or REDIS_URL)');
const redisConfig: RedisConfig = config.redis;
const { log, metrics } = powertools('archive');
const sql = createSql(config.sql);
const ledger = createLedger(config.ledger);
const settings: ArchiveSettings = { ...config.env.archive, timeZone: config.env.archive.schedule.timeZone };

/** A fresh connection per invocation: the IAM token lives 15 minutes and runs are hourly. */
async function openStore(): Promise<CheckpointStore> {
  if (redisConfig.kind === 'url') return new CheckpointStore(await connectRedis({ url: redisConfig.url }), settings.scanCount);
  const { host, port, cacheName, user, region } = redisConfig;
  const client = await connectRedis({
    clusterEndpoint: { host, port },
    username: user,
    password: () => elastiCacheIamToken({ cacheName, userId: user, region, serverless: true }),
  });
  return new CheckpointStore(client, settings.scanCount);
}

export async function handler(_event: unknown, context: Context) {
  const store = await openStore();
  try {
    const result = await runArchive(
      {
        sql,
        store,
        log,
        metrics,
        ledger,
        leaseMs: (config.env.archive.timeoutMinutes + 5) * 60_000,
        deadline: deadline(context, 30_000),
        runId: context.awsRequestId,
      },
      settings,
    );
    if (result.status === 'skipped') return { skipped: true, reason: result.reason };
    return { ...healthRecord(result.run), counters: result.run.counters };
  } finally {
    await store.quit().catch(() => undefined);
  }
}
