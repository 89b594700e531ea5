/**
 * The analytics API behind one Function URL (AWS_IAM auth): GET /dashboard, /timeseries, /reports.
 * Every parameter is validated (types, ranges, lengths); a bad request is a 400 whose message says
 * what is wrong; any other failure is a 500 that says only "internal error" and the request id (the
 * log has the rest): never SQL, never a stack trace.
 */
import type { Log } from '../shared/observability';
import type { Clock } from '../shared/runtime';
import type { Sql } from '../shared/sql/types';
import type { DashboardCache } from './dashboard';
import { BadRequestError, quote } from './errors';
import { reportCsvZip } from './report-csv';
import { reportHtml } from './report-html';
import { generateReport } from './reports';
import { queryTimeSeries, type TimeSeriesLimits } from './timeseries';

export interface ApiRequest {
  readonly method: string;
  readonly path: string;
  /** The raw query string (Function URL `rawQueryString`). */
  readonly query: string;
  readonly requestId: string;
}

export interface ApiResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly isBase64Encoded: boolean;
}

export interface ApiDeps {
  readonly sql: Sql;
  readonly cache: DashboardCache;
  readonly clock: Clock;
  readonly limits: TimeSeriesLimits;
  readonly log: Log;
}

const MAX_QUERY_CHARS = 2_048;
const ROUTES: Record<string, readonly string[]> = {
  '/dashboard': ['property'],
  '/timeseries': ['metric', 'granularity', 'from', 'to', 'property', 'dimensions', 'dimension'],
  '/reports': ['type', 'property', 'from', 'to', 'format', 'sections'],
};
const FORMATS = ['json', 'csv', 'html'];

const json = (statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResponse => ({
  statusCode,
  headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
  body: JSON.stringify(body),
  isBase64Encoded: false,
});

/** Parses the query string: each parameter at most once (a repeat is refused), known names only. */
export function parseQuery(raw: string, allowed: readonly string[]): Record<string, string> {
  if (raw.length > MAX_QUERY_CHARS) throw new BadRequestError(`the query string is ${raw.length} characters; at most ${MAX_QUERY_CHARS}`);
  const out: Record<string, string> = {};
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(raw);
  } catch {
    throw new BadRequestError('the query string is not valid');
  }
  for (const [k, v] of params) {
    if (!allowed.includes(k)) throw new BadRequestError(`unknown parameter ${quote(k)}; allowed: ${allowed.join(', ')}`);
    if (k in out) throw new BadRequestError(`parameter ${quote(k)} is given more than once`);
    out[k] = v;
  }
  return out;
}

const list = (v: string | undefined): string[] | undefined => (v === undefined || v === '' ? undefined : v.split(','));

export async function handleRequest(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  try {
    if (req.method !== 'GET') return json(405, { error: `method ${req.method} not allowed: GET only` }, { allow: 'GET' });
    const allowed = ROUTES[req.path];
    if (!allowed) return json(404, { error: `no route ${quote(req.path)}; routes: ${Object.keys(ROUTES).join(', ')}` });
    const q = parseQuery(req.query, allowed);
    if (req.path === '/dashboard') {
      const { metrics, cached } = await deps.cache.lookup(q.property as string);
      return json(200, metrics, { 'x-cache': cached ? 'hit' : 'miss' });
    }
    if (req.path === '/timeseries') {
      if (q.dimension !== undefined && q.dimensions !== undefined) throw new BadRequestError('give dimensions or dimension, not both');
      const result = await queryTimeSeries(
        { sql: deps.sql, limits: deps.limits },
        {
          metric: q.metric,
          granularity: q.granularity,
          startDate: q.from,
          endDate: q.to,
          propertyId: q.property,
          dimensions: list(q.dimensions ?? q.dimension),
        },
      );
      return json(200, result);
    }
    const format = q.format ?? 'json';
    if (!FORMATS.includes(format)) throw new BadRequestError(`unknown format ${quote(format)}; allowed: ${FORMATS.join(', ')}`);
    const report = await generateReport(
      { sql: deps.sql, timeZone: deps.limits.timeZone, now: deps.clock.now() },
      { type: q.type, propertyId: q.property, dateRange: { start: q.from as string, end: q.to }, sections: list(q.sections) },
    );
    const name = `${report.propertyId}-${report.type}-${report.period.start}`;
    if (format === 'csv')
      return {
        statusCode: 200,
        headers: {
          'content-type': 'application/zip',
          'content-disposition': `attachment; filename="${name}.zip"`,
          'cache-control': 'no-store',
        },
        body: Buffer.from(reportCsvZip(report)).toString('base64'),
        isBase64Encoded: true,
      };
    if (format === 'html')
      return {
        statusCode: 200,
        headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
        body: reportHtml(report),
        isBase64Encoded: false,
      };
    return json(200, report);
  } catch (err) {
    if (err instanceof BadRequestError) return json(400, { error: err.message });
    deps.log.error('analytics request failed', { path: req.path, requestId: req.requestId, error: (err as Error)?.message });
    return json(500, { error: 'internal error', requestId: req.requestId });
  }
}
