/**
 * Analytics API Lambda behind a Function URL (AWS_IAM auth). Built once per container: the SQL
 * client and the dashboard cache (seed 001's per-process LRUCache, 60 s).
 */
import type { Context, LambdaFunctionURLEvent } from 'aws-lambda';
import { createSql, loadRuntimeConfig } from '../shared/deps';
import { powertools } from '../shared/observability';
import { systemClock } from '../shared/runtime';
import { handleRequest } from './api';
import { DashboardCache } from './dashboard';

const config = loadRuntimeConfig();
const { log } = powertools('analytics-api');
const sql = createSql(config.sql);
const s = config.env.analyticsServing;
const timeZone = config.env.aggregation.timeZone;
const cache = new DashboardCache(
  { sql, clock: systemClock, settings: { timeZone, ...s } },
  { ttlMs: s.cacheTtlMs, max: s.cacheMaxEntries },
);

export async function handler(event: LambdaFunctionURLEvent, context: Context) {
  return handleRequest(
    { sql, cache, clock: systemClock, limits: { timeZone, maxPoints: s.maxPoints, maxRangeDays: s.maxRangeDays }, log },
    {
      method: event.requestContext.http.method,
      path: event.rawPath,
      query: event.rawQueryString ?? '',
      requestId: context.awsRequestId,
      body: event.body === undefined ? undefined : event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body,
    },
  );
}
