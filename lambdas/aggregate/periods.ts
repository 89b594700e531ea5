/**
 * Closed periods in the aggregation time zone, correct across daylight-saving changes: a local
 * day is 23, 24 or 25 hours; weeks start on Monday (ISO 8601); months are calendar months.
 * Hours are the zone's wall-clock hours (at a fall-back change the repeated hour is two periods).
 */
import { formatInZone, localDate, localHourOf, startOfLocalDate, zonedTimeToUtc } from '../shared/time';
import { calendarProblem, parseIsoInstant } from './calendar';

export type Granularity = 'hourly' | 'daily' | 'weekly' | 'monthly';
export const UNIT: Record<Granularity, 'hour' | 'day' | 'week' | 'month'> = {
  hourly: 'hour',
  daily: 'day',
  weekly: 'week',
  monthly: 'month',
};

export interface Period {
  readonly granularity: Granularity;
  readonly start: Date;
  readonly end: Date;
  /** The aggregate table's period value: an ISO instant (hourly), `YYYY-MM-DD` (daily, weekly: the Monday), `YYYY-MM` (monthly). */
  readonly key: string;
  /** For people: the local start with its offset. */
  readonly label: string;
}

export class PeriodError extends Error {
  override readonly name = 'PeriodError';
}

const HOUR = 3_600_000;
const pad = (n: number) => String(n).padStart(2, '0');

function ymd(date: Date, timeZone: string): [number, number, number] {
  const [y, m, d] = localDate(date, timeZone).split('-').map(Number) as [number, number, number];
  return [y, m, d];
}

/** Calendar arithmetic on a local date (no zone involved). */
function addDays(y: number, m: number, d: number, days: number): [number, number, number] {
  const t = new Date(Date.UTC(y, m - 1, d + days));
  return [t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate()];
}

function make(g: Granularity, start: Date, end: Date, key: string, timeZone: string): Period {
  return { granularity: g, start, end, key, label: formatInZone(start, timeZone) };
}

/** The period of granularity `g` that contains `instant`. */
export function periodContaining(g: Granularity, instant: Date, timeZone: string): Period {
  if (g === 'hourly') {
    const { start, end } = localHourOf(instant, timeZone);
    return make(g, start, end, start.toISOString(), timeZone);
  }
  const [y, m, d] = ymd(instant, timeZone);
  // days, weeks and months start at the first instant of their local date (00:00, or the end of the
  // gap where a zone skips midnight)
  const at = (yy: number, mm: number, dd: number) => startOfLocalDate(yy, mm, dd, timeZone);
  if (g === 'daily') {
    const [ny, nm, nd] = addDays(y, m, d, 1);
    return make(g, at(y, m, d), at(ny, nm, nd), `${y}-${pad(m)}-${pad(d)}`, timeZone);
  }
  if (g === 'weekly') {
    const dow = new Date(Date.UTC(y, m - 1, d)).getUTCDay(); // 0 = Sunday
    const [sy, sm, sd] = addDays(y, m, d, -((dow + 6) % 7));
    const [ey, em, ed] = addDays(sy, sm, sd, 7);
    return make(g, at(sy, sm, sd), at(ey, em, ed), `${sy}-${pad(sm)}-${pad(sd)}`, timeZone);
  }
  const [ny, nm] = m === 12 ? [y + 1, 1] : [y, m + 1];
  return make(g, at(y, m, 1), at(ny, nm, 1), `${y}-${pad(m)}`, timeZone);
}

export const nextPeriod = (p: Period, timeZone: string): Period => periodContaining(p.granularity, p.end, timeZone);
export const previousPeriod = (p: Period, timeZone: string): Period =>
  periodContaining(p.granularity, new Date(p.start.getTime() - 1), timeZone);

/** The latest period that has ended at `now`. */
export function lastClosed(g: Granularity, now: Date, timeZone: string): Period {
  return previousPeriod(periodContaining(g, now, timeZone), timeZone);
}

/** The periods that start at or after `from` and end at or before `to`. */
export function periodsWithin(g: Granularity, from: Date, to: Date, timeZone: string, max = 100_000): Period[] {
  const out: Period[] = [];
  let p = periodContaining(g, from, timeZone);
  if (p.start < from) p = nextPeriod(p, timeZone);
  while (p.end <= to) {
    out.push(p);
    if (out.length > max) throw new PeriodError(`more than ${max} ${g} periods between ${from.toISOString()} and ${to.toISOString()}`);
    p = nextPeriod(p, timeZone);
  }
  return out;
}

const LOCAL = /^(\d{4})-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2}))?)?)?$/;

/**
 * A local date-time (`2025-10-26`, `2025-10-26T02`, `2025-10`) or an ISO instant with offset, as an instant
 * in `timeZone`. A local time repeated by a fall-back change means its first occurrence.
 */
export function parseLocal(text: string, timeZone: string): Date {
  const m = LOCAL.exec(text);
  if (m) {
    const [y, mo, d, h, mi] = [m[1], m[2], m[3] ?? '01', m[4] ?? '00', m[5] ?? '00'].map(Number) as [
      number,
      number,
      number,
      number,
      number,
    ];
    const problem = calendarProblem(Number(m[1]), mo, d, h, mi);
    if (problem) throw new PeriodError(`"${text}" is not a real date or time: ${problem}`);
    const t = zonedTimeToUtc(y, mo, d, h, mi, timeZone);
    // zonedTimeToUtc resolves an ambiguous fall-back time to its second occurrence when the guess lands there:
    // prefer the first one (one hour earlier) if it shows the same wall clock.
    const earlier = new Date(t.getTime() - HOUR);
    if (formatInZone(earlier, timeZone).slice(0, 16) === formatInZone(t, timeZone).slice(0, 16)) return earlier;
    const wall = `${m[1]}-${m[2]}-${pad(d)}T${pad(h)}:${pad(mi)}`;
    if (formatInZone(t, timeZone).slice(0, 16) !== wall)
      throw new PeriodError(`${wall} does not exist in ${timeZone} (skipped by a daylight-saving change)`);
    return t;
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    // the calendar is checked (2025-02-30T10:00Z is refused, not read as 2 March)
    const parsed = parseIsoInstant(text);
    if (!parsed.ok) throw new PeriodError(parsed.reason);
    return parsed.at;
  }
  throw new PeriodError(`"${text}" is not a local date (2025-10-26), hour (2025-10-26T02), month (2025-10) or ISO instant`);
}

/** No whole period of the granularity lies in a requested range. */
export class NoWholePeriodError extends PeriodError {}

/** What each granularity's START names at least: a month is `2025-10`, a day or week `2025-10-26`, an hour `2025-10-26T02`. */
const PRECISION: Record<Granularity, { re: RegExp; example: string; what: string }> = {
  hourly: { re: /^\d{4}-\d{2}-\d{2}T\d{2}/, example: '2025-10-26T02', what: 'an hour' },
  daily: { re: /^\d{4}-\d{2}-\d{2}/, example: '2025-10-26', what: 'a day' },
  weekly: { re: /^\d{4}-\d{2}-\d{2}/, example: '2025-10-20', what: 'a week (its Monday)' },
  monthly: { re: /^\d{4}-\d{2}/, example: '2025-10', what: 'a month' },
};

/**
 * `--period START`: the period that starts exactly at START (a first local hour/day/Monday/month).
 * START names the period at least to its own precision: `2025-10` for a daily job is refused, not
 * read as 1 October (issue 23, defect 11); `2025-10-26` for an hourly job likewise.
 */
export function parsePeriod(g: Granularity, text: string, timeZone: string): Period {
  const precision = PRECISION[g];
  if (LOCAL.test(text) && !precision.re.test(text))
    throw new PeriodError(
      `"${text}" does not name ${precision.what}: ${g === 'hourly' ? 'an' : 'a'} ${g} period is given by its first ${UNIT[g] === 'week' ? 'day' : UNIT[g]}, e.g. ${precision.example}`,
    );
  const at = parseLocal(text, timeZone);
  const p = periodContaining(g, at, timeZone);
  if (p.start.getTime() !== at.getTime()) {
    const what = { hourly: 'an hour', daily: 'a day', weekly: 'a week (weeks start on Monday)', monthly: 'a month' }[g];
    throw new PeriodError(`"${text}" is not the start of ${what} in ${timeZone}; the ${g} period containing it starts at ${p.label}`);
  }
  return p;
}
