/**
 * The analytics API behind one Function URL (AWS_IAM auth): GET /dashboard, /timeseries, /reports;
 * the property registry: GET /properties, PUT /properties/{id} (body `{"timeZone", "name"?}`), with
 * the CLI's rules (lambdas/shared/properties.ts).
 * Every parameter is validated (types, ranges, lengths); a bad request is a 400 whose message says
 * what is wrong; any other failure is a 500 that says only "internal error" and the request id (the
 * log has the rest): never SQL, never a stack trace.
 */
import { AGGREGATIONS } from '../aggregate/registry';
import type { Log } from '../shared/observability';
import { listProperties, PropertyInputError, setProperty } from '../shared/properties';
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
  /** The request body (PUT), decoded. */
  readonly body?: string;
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
const MAX_BODY_CHARS = 4_096;
const PROPERTY_PATH = /^\/properties\/([^/]+)$/;

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
    const one = PROPERTY_PATH.exec(req.path);
    if (one) {
      if (req.method !== 'PUT') return json(405, { error: `method ${req.method} not allowed: PUT only` }, { allow: 'PUT' });
      parseQuery(req.query, []);
      return await putProperty(deps, one[1] as string, req.body);
    }
    if (req.method !== 'GET') return json(405, { error: `method ${req.method} not allowed: GET only` }, { allow: 'GET' });
    if (req.path === '/properties') {
      parseQuery(req.query, []);
      return json(200, { defaultTimeZone: deps.limits.timeZone, properties: await listProperties(deps.sql) });
    }
    const allowed = ROUTES[req.path];
    if (!allowed)
      return json(404, {
        error: `no route ${quote(req.path)}; routes: ${[...Object.keys(ROUTES), '/properties', '/properties/{id} (PUT)'].join(', ')}`,
      });
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
    if (err instanceof BadRequestError || err instanceof PropertyInputError) return json(400, { error: err.message });
    deps.log.error('analytics request failed', { path: req.path, requestId: req.requestId, error: (err as Error)?.message });
    return json(500, { error: 'internal error', requestId: req.requestId });
  }
}

/**
 * PUT /properties/{id}, body `{"timeZone": "America/Cancun", "name"?: "Hotel Sol Cancún"}`: registers
 * the property or changes its zone and/or name (a name left out is kept), with the CLI's rules (one
 * place: `setProperty`). 201 when registered, 200 when updated. A zone change records one
 * re-derivation per aggregate table in the same transaction; the aggregations carry them out at their
 * next scheduled run (docs/decisions.md): the response names them.
 */
async function putProperty(deps: ApiDeps, rawId: string, body: string | undefined): Promise<ApiResponse> {
  let propertyId: string;
  try {
    propertyId = decodeURIComponent(rawId);
  } catch {
    throw new BadRequestError(`the property id in the path is not valid percent-encoding: ${quote(rawId)}`);
  }
  if (body === undefined || body.length === 0)
    throw new BadRequestError('a JSON body is required: {"timeZone": "Europe/Madrid", "name": "…"} (name optional)');
  if (body.length > MAX_BODY_CHARS) throw new BadRequestError(`the body is ${body.length} characters; at most ${MAX_BODY_CHARS}`);
  let input: unknown;
  try {
    input = JSON.parse(body);
  } catch {
    throw new BadRequestError('the body is not JSON: {"timeZone": "Europe/Madrid", "name": "…"} (name optional)');
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new BadRequestError('the body must be a JSON object: {"timeZone": "Europe/Madrid", "name": "…"}');
  const o = input as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => k !== 'timeZone' && k !== 'name');
  if (unknown.length > 0) throw new BadRequestError(`unknown field ${quote(unknown[0])}; allowed: timeZone, name`);
  const result = await setProperty(deps.sql, { propertyId, timeZone: o.timeZone, displayName: o.name, defaultZone: deps.limits.timeZone });
  deps.log.info('property registry changed', {
    property: result.property.propertyId,
    timeZone: result.property.timeZone,
    created: result.created,
    previousTimeZone: result.previousTimeZone,
  });
  return json(result.created ? 201 : 200, {
    ...result,
    ...(result.previousTimeZone
      ? {
          rederivation: {
            tables: AGGREGATIONS.map((a) => a.table),
            when: "each aggregation's next scheduled run (the hourly ones within 15 minutes, the others within the hour)",
          },
        }
      : {}),
  });
}
