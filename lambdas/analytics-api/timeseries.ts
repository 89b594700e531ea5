/**
 * Time series over the metric registry (seed 001 "Historical Data Queries", without its injection):
 * identifiers come only from `METRICS`/`TABLES`; every request value is a cast parameter.
 * Series are continuous (empty periods present), bounded (maxPoints) and in the aggregation zone.
 */

import { zoneOf } from '../shared/properties';
import type { Sql } from '../shared/sql/types';
import { BadRequestError, quote } from './errors';
import {
  allowedGranularities,
  emptyValue,
  GRANULARITIES,
  type Granularity,
  METRICS,
  METRICS_BY_NAME,
  type MetricDefinition,
} from './metrics';
import { type Bucket, bucketCount, buckets, makeRange, parseBound, type Range } from './periods';
import { assertKnownProperty, validatePropertyId } from './property';

export interface TimeSeriesQuery {
  readonly metric: string;
  readonly granularity: string;
  /** `YYYY-MM-DD` (local midnight in the aggregation zone) or, for hours, an ISO date-time with offset. */
  readonly startDate: string;
  /** Exclusive. */
  readonly endDate: string;
  readonly propertyId: string;
  readonly dimensions?: readonly string[];
}

export interface TimeSeriesLimits {
  readonly timeZone: string;
  readonly maxPoints: number;
  readonly maxRangeDays: number;
}

export interface TimeSeriesPoint {
  readonly period: string;
  readonly start: string;
  readonly value: number | null;
}

export interface TimeSeries {
  /** The dimension values of this series (empty when not grouped). */
  readonly dimensions: Readonly<Record<string, string>>;
  readonly points: readonly TimeSeriesPoint[];
}

export interface TimeSeriesResult {
  readonly query: {
    readonly metric: string;
    readonly granularity: Granularity;
    readonly startDate: string;
    readonly endDate: string;
    readonly propertyId: string;
    readonly dimensions: readonly string[];
    readonly timeZone: string;
  };
  readonly metric: { readonly name: string; readonly unit: string; readonly rollup: string; readonly description: string };
  readonly series: readonly TimeSeries[];
  readonly metadata: { readonly periods: number; readonly points: number; readonly rowCount: number; readonly queryMs: number };
}

/** At most this many dimensions in one request (the registry allows at most two per metric). */
const MAX_DIMENSIONS = 4;

export interface ValidatedQuery {
  readonly metric: MetricDefinition;
  readonly granularity: Granularity;
  readonly range: Range;
  readonly propertyId: string;
  /** Requested dimensions, plus a not-rollable metric's key dimensions, in registry order. */
  readonly groupBy: readonly string[];
  readonly requested: readonly string[];
  readonly startDate: string;
  readonly endDate: string;
}

/** Checks every field against the registry and the limits; throws BadRequestError saying what is wrong. */
export function validateTimeSeriesQuery(q: Partial<Record<keyof TimeSeriesQuery, unknown>>, limits: TimeSeriesLimits): ValidatedQuery {
  if (typeof q.metric !== 'string' || q.metric.length === 0)
    throw new BadRequestError(`metric is required; one of: ${METRICS.map((d) => d.name).join(', ')}`);
  const metric = METRICS_BY_NAME.get(q.metric);
  if (!metric) throw new BadRequestError(`unknown metric ${quote(q.metric)}; allowed: ${METRICS.map((d) => d.name).join(', ')}`);
  if (typeof q.granularity !== 'string' || !(GRANULARITIES as readonly string[]).includes(q.granularity))
    throw new BadRequestError(`unknown granularity ${quote(q.granularity)}; allowed: ${GRANULARITIES.join(', ')}`);
  const granularity = q.granularity as Granularity;
  const allowed = allowedGranularities(metric);
  if (!allowed.includes(granularity))
    throw new BadRequestError(
      `metric ${metric.name} cannot be read by ${granularity}` +
        `${metric.rollup.kind === 'not-rollable' && metric.source.grain !== 'month' ? ' (a percentile does not roll up)' : ''}; allowed: ${allowed.join(', ')}`,
    );
  const propertyId = validatePropertyId(q.propertyId);

  const rawDims = q.dimensions ?? [];
  if (!Array.isArray(rawDims)) throw new BadRequestError('dimensions must be a list');
  if (rawDims.length > MAX_DIMENSIONS)
    throw new BadRequestError(
      `at most ${MAX_DIMENSIONS} dimensions, not ${rawDims.length}; ${metric.name} allows: ${metric.dimensions.join(', ') || 'none'}`,
    );
  const requested: string[] = [];
  for (const d of rawDims) {
    if (typeof d !== 'string' || !metric.dimensions.includes(d))
      throw new BadRequestError(`unknown dimension ${quote(d)} for ${metric.name}; allowed: ${metric.dimensions.join(', ') || 'none'}`);
    if (requested.includes(d)) throw new BadRequestError(`dimension ${quote(d)} is listed twice`);
    requested.push(d);
  }
  const wanted = new Set([...requested, ...(metric.rollup.kind === 'not-rollable' ? metric.source.keyDimensions : [])]);
  const groupBy = [...metric.source.keyDimensions, ...metric.dimensions].filter((d, i, a) => wanted.has(d) && a.indexOf(d) === i);

  // named as the request names them (the API's `from` and `to`, the CLI's --from and --to)
  const from = parseBound('from', q.startDate, granularity, limits.timeZone);
  const to = parseBound('to', q.endDate, granularity, limits.timeZone);
  if (to.instant.getTime() <= from.instant.getTime())
    throw new BadRequestError(`to ${quote(q.endDate)} must be after from ${quote(q.startDate)} (from is inclusive, to exclusive)`);
  const days = (to.instant.getTime() - from.instant.getTime()) / 86_400_000;
  if (days > limits.maxRangeDays) throw new BadRequestError(`the range is ${Math.round(days)} days; at most ${limits.maxRangeDays}`);
  const range = makeRange(granularity, from, to, limits.timeZone);
  const periods = bucketCount(range);
  if (periods > limits.maxPoints)
    throw new BadRequestError(
      `the range holds ${periods} ${granularity} periods; at most ${limits.maxPoints} points per series: shorten the range or use a coarser granularity`,
    );
  return { metric, granularity, range, propertyId, groupBy, requested, startDate: q.startDate as string, endDate: q.endDate as string };
}

/** The SQL of a validated query: identifiers from the registry only, values as $n parameters. */
export function timeSeriesSql(v: ValidatedQuery, timeZone: string): { text: string; params: (string | Date)[] } {
  const { metric, granularity, range } = v;
  const src = metric.source;
  const params: (string | Date)[] = [v.propertyId];
  const add = (value: string | Date, cast: string) => {
    params.push(value);
    return `$${params.length}::${cast}`;
  };
  let bucket: string;
  let where: string;
  switch (src.grain) {
    case 'hour':
      where = `${src.period} >= ${add(range.fromInstant, 'timestamptz')} AND ${src.period} < ${add(range.toInstant, 'timestamptz')}`;
      bucket =
        granularity === 'hour'
          ? src.period
          : `date_trunc(${add(granularity, 'text')}, ${src.period} AT TIME ZONE ${add(timeZone, 'text')})`;
      break;
    case 'day':
    case 'week':
      where = `${src.period} >= ${add(range.fromDate, 'date')} AND ${src.period} < ${add(range.toDate, 'date')}`;
      bucket = `date_trunc(${add(granularity, 'text')}, ${src.period}::timestamp)`;
      break;
    case 'month':
      where = `${src.period} >= ${add(range.fromDate.slice(0, 7), 'text')} AND ${src.period} < ${add(range.toDate.slice(0, 7), 'text')}`;
      bucket = `date_trunc(${add(granularity, 'text')}, to_date(${src.period}, 'YYYY-MM')::timestamp)`;
      break;
  }
  const value = `(${metric.value})::float8`;
  let agg: string;
  switch (metric.rollup.kind) {
    case 'sum':
      agg = `COALESCE(SUM(${value}), 0)::float8`;
      break;
    case 'ratio':
      agg = `(SUM(${metric.rollup.numerator}) / NULLIF(SUM(${metric.rollup.denominator}), 0))::float8`;
      break;
    case 'weighted-mean': {
      const w = `(${metric.rollup.weight})`;
      agg = `(SUM(${value} * ${w}) FILTER (WHERE ${value} IS NOT NULL) / NULLIF(SUM(${w}) FILTER (WHERE ${value} IS NOT NULL), 0))::float8`;
      break;
    }
    case 'not-rollable':
      // grouped by the table's key dimensions at its own granularity: one row per group
      agg = `MIN(${value})::float8`;
      break;
  }
  const dims = v.groupBy.map((d, i) => `${d} AS d${i}`);
  const groupCols = ['bucket', ...v.groupBy.map((_, i) => `d${i}`)];
  // group by the raw bucket (a timestamp) and format once per group, not once per row
  const label = granularity === 'hour' ? 'b' : `to_char(b, 'YYYY-MM-DD')`;
  const text = `SELECT ${label} AS bucket${v.groupBy.map((_, i) => `, d${i}`).join('')}, value FROM (
    SELECT ${bucket} AS b${dims.map((d) => `, ${d}`).join('')}, ${agg} AS value
    FROM ${src.table}
    WHERE property_id = $1::text AND ${where}
    GROUP BY ${['b', ...groupCols.slice(1)].join(', ')}
  ) g
  ORDER BY ${['b', ...groupCols.slice(1)].join(', ')}`;
  return { text, params };
}

export interface TimeSeriesDeps {
  readonly sql: Sql;
  readonly limits: TimeSeriesLimits;
}

export async function queryTimeSeries(
  deps: TimeSeriesDeps,
  query: Partial<Record<keyof TimeSeriesQuery, unknown>>,
): Promise<TimeSeriesResult> {
  const t0 = performance.now();
  // every period of a property is in its own zone (sql/021 `properties`; unregistered: the configured zone)
  const timeZone = await zoneOf(deps.sql, validatePropertyId(query.propertyId), deps.limits.timeZone);
  const v = validateTimeSeriesQuery(query, { ...deps.limits, timeZone });
  await assertKnownProperty(deps.sql, v.propertyId);
  const { text, params } = timeSeriesSql(v, timeZone);
  const rows = await deps.sql.query<Record<string, unknown>>(text, params);
  const all = buckets(v.range, timeZone);
  const series = toSeries(v, rows, all);
  const points = series.length * all.length;
  if (points > deps.limits.maxPoints)
    throw new BadRequestError(
      `${series.length} series × ${all.length} periods = ${points} points; at most ${deps.limits.maxPoints}: shorten the range, use a coarser granularity or fewer dimensions`,
    );
  return {
    query: {
      metric: v.metric.name,
      granularity: v.granularity,
      startDate: v.startDate,
      endDate: v.endDate,
      propertyId: v.propertyId,
      dimensions: v.groupBy,
      timeZone,
    },
    metric: { name: v.metric.name, unit: v.metric.unit, rollup: v.metric.rollup.kind, description: v.metric.description },
    series,
    metadata: { periods: all.length, points, rowCount: rows.length, queryMs: Math.round((performance.now() - t0) * 10) / 10 },
  };
}

function toSeries(v: ValidatedQuery, rows: Record<string, unknown>[], all: Bucket[]): TimeSeries[] {
  const empty = emptyValue(v.metric);
  const groups = new Map<string, { dims: Record<string, string>; values: Map<string, number | null> }>();
  if (v.groupBy.length === 0) groups.set('', { dims: {}, values: new Map() });
  for (const r of rows) {
    const dims: Record<string, string> = {};
    v.groupBy.forEach((d, i) => {
      dims[d] = String(r[`d${i}`]);
    });
    const gk = JSON.stringify(v.groupBy.map((d) => dims[d]));
    let g = groups.get(v.groupBy.length === 0 ? '' : gk);
    if (!g) {
      g = { dims, values: new Map() };
      groups.set(gk, g);
    }
    const key = v.granularity === 'hour' && v.metric.source.grain === 'hour' ? new Date(String(r.bucket)).toISOString() : String(r.bucket);
    g.values.set(key, r.value === null || r.value === undefined ? null : Number(r.value));
  }
  return [...groups.values()].map((g) => ({
    dimensions: g.dims,
    points: all.map((b) => ({ period: b.period, start: b.start, value: g.values.has(b.key) ? (g.values.get(b.key) ?? null) : empty })),
  }));
}
