/**
 * Periods of the read side, in the aggregation time zone: local calendar dates, ISO weeks
 * (Monday), months, and hours as the zone's local hours (a spring-forward day has 23, a fall-back
 * day 25; in a zone with a half-hour or 45-minute offset an hour starts at :30 or :45 UTC), the
 * very periods the aggregations write (lambdas/aggregate/periods.ts).
 */
import { calendarProblem, parseIsoInstant } from '../aggregate/calendar';
import { periodContaining } from '../aggregate/periods';
import { formatInZone, localDate, startOfLocalDate } from '../shared/time';
import { BadRequestError, quote } from './errors';
import type { Granularity } from './metrics';

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

/** The dates the API works with: 1970-01-01 … 9999-12-31 (a period or range must END by then too). */
export const FIRST_DATE = '1970-01-01';
export const LAST_DATE = '9999-12-31';

/** A date computed past LAST_DATE (a period or range that would end after 9999-12-31): a 400. */
export class BeyondLastDateError extends BadRequestError {}

/** A strict `YYYY-MM-DD` that is a real calendar date. */
export function isDate(s: string): boolean {
  const m = DATE.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d && y >= 1970 && y <= 9999;
}

/**
 * Why `value` is not a supported date, as a 400: a `YYYY-MM-DD` the calendar does not have
 * (2025-02-30: February 2025 has 28 days), one outside 1970–9999, or something else (`expected`).
 */
export function notADate(field: string, value: unknown, expected = 'a date YYYY-MM-DD'): BadRequestError {
  const m = typeof value === 'string' ? DATE.exec(value) : null;
  if (!m) return new BadRequestError(`${field} must be ${expected}, not ${quote(value)}`);
  const problem = calendarProblem(Number(m[1]), Number(m[2]), Number(m[3]));
  return new BadRequestError(
    problem
      ? `${field} ${quote(value)} is not a date: ${problem}`
      : `${field} ${quote(value)} is outside the dates supported (${FIRST_DATE} to ${LAST_DATE})`,
  );
}

export function parseDateOrThrow(field: string, value: unknown): string {
  if (typeof value !== 'string' || !isDate(value)) throw notADate(field, value);
  return value;
}

/** `YYYY-MM-DD` of a UTC midnight; a year past 9999 is refused (BeyondLastDateError), never written as `+010000-…`. */
function dateOf(t: Date, what: string): string {
  if (t.getUTCFullYear() > 9999) throw new BeyondLastDateError(`${what} is after ${LAST_DATE}, the last date supported`);
  return t.toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return dateOf(new Date(Date.UTC(y, m - 1, d + days)), `${date} ${days < 0 ? '-' : '+'} ${Math.abs(days)} day(s)`);
}

export function addMonths(date: string, months: number): string {
  const [y, m] = date.split('-').map(Number) as [number, number];
  return dateOf(new Date(Date.UTC(y, m - 1 + months, 1)), `the month ${months} after ${date.slice(0, 7)}`);
}

/** Monday of the ISO week holding `date`. */
export function weekStart(date: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const dow = new Date(Date.UTC(y, m - 1, d)).getUTCDay(); // 0 = Sunday
  return addDays(date, -((dow + 6) % 7));
}

export function monthStart(date: string): string {
  return `${date.slice(0, 7)}-01`;
}

export function daysBetween(a: string, b: string): number {
  return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86_400_000);
}

/** The instant `date` begins in `timeZone` (local midnight, or the end of the gap where the zone skips it). */
export function startOfLocalDay(date: string, timeZone: string): Date {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return startOfLocalDate(y, m, d, timeZone);
}

/** A bucket of a series: its key (matches the SQL bucket), its label and its first instant. */
export interface Bucket {
  readonly key: string;
  /** `YYYY-MM-DD` (day, week = its Monday, month = its 1st) or, for hours, ISO with the zone's offset. */
  readonly period: string;
  /** The bucket's first instant, ISO with the zone's offset. */
  readonly start: string;
}

/**
 * A request's range, normalized for one granularity: [from, to) as local dates (day and coarser) or
 * instants (hours), widened to whole buckets.
 */
export interface Range {
  readonly granularity: Granularity;
  readonly fromInstant: Date;
  readonly toInstant: Date;
  /** Local dates (day, week, month): first day of the first bucket, first day after the last. */
  readonly fromDate: string;
  readonly toDate: string;
}

/** Parses a range bound: a date (local midnight), or for hours also an ISO date-time with offset. */
export function parseBound(field: string, value: unknown, granularity: Granularity, timeZone: string): { date?: string; instant: Date } {
  if (typeof value === 'string' && isDate(value)) return { date: value, instant: startOfLocalDay(value, timeZone) };
  if (granularity === 'hour' && typeof value === 'string' && DATETIME.test(value)) {
    // the calendar is checked: 2025-02-30T10:00:00Z is refused, not read as 2 March
    const parsed = parseIsoInstant(value);
    if (!parsed.ok) throw new BadRequestError(`${field} ${parsed.reason}`);
    const year = parsed.at.getUTCFullYear();
    if (year >= 1970 && year <= 9999) return { instant: parsed.at };
  }
  if (granularity === 'hour' && typeof value === 'string' && DATETIME.test(value))
    throw new BadRequestError(`${field} ${quote(value)} is outside the dates supported (${FIRST_DATE} to ${LAST_DATE})`);
  throw notADate(
    field,
    value,
    granularity === 'hour' ? 'a date YYYY-MM-DD or an ISO-8601 date-time with an offset (2025-03-30T10:00:00+02:00)' : 'a date YYYY-MM-DD',
  );
}

export function makeRange(
  granularity: Granularity,
  from: { date?: string; instant: Date },
  to: { date?: string; instant: Date },
  timeZone: string,
): Range {
  if (granularity === 'hour') {
    if (localDate(to.instant, timeZone).length > 10)
      throw new BeyondLastDateError(`the range ends after ${LAST_DATE} (${timeZone}), the last date supported`);
    // widened to whole local hours: the first one holding `from`, up to the end of the one holding `to` (unless it starts there)
    const fromInstant = periodContaining('hourly', from.instant, timeZone).start;
    const last = periodContaining('hourly', to.instant, timeZone);
    const toInstant = last.start.getTime() === to.instant.getTime() ? last.start : last.end;
    const toDate = localDate(toInstant, timeZone);
    if (toInstant.getUTCFullYear() > 9999 || toDate.length > 10)
      throw new BeyondLastDateError(`the range ends after ${LAST_DATE} (${timeZone}), the last date supported`);
    return { granularity, fromInstant, toInstant, fromDate: localDate(fromInstant, timeZone), toDate };
  }
  const fromDate0 = from.date as string;
  const toDate0 = to.date as string;
  let fromDate = fromDate0;
  let toDate = toDate0;
  try {
    if (granularity === 'week') {
      fromDate = weekStart(fromDate0);
      toDate = weekStart(toDate0) === toDate0 ? toDate0 : addDays(weekStart(toDate0), 7);
    } else if (granularity === 'month') {
      fromDate = monthStart(fromDate0);
      toDate = toDate0.endsWith('-01') ? toDate0 : addMonths(toDate0, 1);
    }
  } catch (e) {
    if (e instanceof BeyondLastDateError)
      throw new BeyondLastDateError(
        `the range to ${toDate0}, widened to whole ${granularity}s, would end after ${LAST_DATE}, the last date supported`,
      );
    throw e;
  }
  return { granularity, fromDate, toDate, fromInstant: startOfLocalDay(fromDate, timeZone), toInstant: startOfLocalDay(toDate, timeZone) };
}

/** How many buckets a range holds, without listing them. */
export function bucketCount(r: Range): number {
  switch (r.granularity) {
    case 'hour':
      return Math.round((r.toInstant.getTime() - r.fromInstant.getTime()) / 3_600_000);
    case 'day':
      return daysBetween(r.fromDate, r.toDate);
    case 'week':
      return daysBetween(r.fromDate, r.toDate) / 7;
    case 'month': {
      const [fy, fm] = r.fromDate.split('-').map(Number) as [number, number];
      const [ty, tm] = r.toDate.split('-').map(Number) as [number, number];
      return (ty - fy) * 12 + (tm - fm);
    }
  }
}

/** Every bucket of the range, in order: the series is continuous. */
export function buckets(r: Range, timeZone: string): Bucket[] {
  const out: Bucket[] = [];
  if (r.granularity === 'hour') {
    for (
      let p = periodContaining('hourly', r.fromInstant, timeZone);
      p.start < r.toInstant;
      p = periodContaining('hourly', p.end, timeZone)
    )
      out.push({ key: p.start.toISOString(), period: p.label, start: p.label });
    return out;
  }
  const step =
    r.granularity === 'day'
      ? (d: string) => addDays(d, 1)
      : r.granularity === 'week'
        ? (d: string) => addDays(d, 7)
        : (d: string) => addMonths(d, 1);
  for (let d = r.fromDate; d < r.toDate; d = step(d))
    out.push({ key: d, period: d, start: formatInZone(startOfLocalDay(d, timeZone), timeZone) });
  return out;
}
