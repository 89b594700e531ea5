/**
 * Strict dates and times for every analytics input — events at ingest, the API's bounds, the CLI's
 * `--now`, `--period`, `--from/--to` (issue 23, defects 5 and 9):
 * - the calendar is checked: `2025-09-31` or `2025-02-30` is refused with its reason, never rolled
 *   over into the next month as `Date.parse` does (`2025-09-31T10:00+02:00` became 1 October), and
 *   so are hour 24, minute 60 and offsets beyond ±23:59;
 * - a date-time without an offset is read in a NAMED zone (the configured one), never the
 *   machine's: a time the zone skips (spring forward) or repeats (fall back) is refused, saying why.
 */
import { formatInZone, offsetMinutes } from '../shared/time';

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** Days in month `m` (1–12) of year `y` (proleptic Gregorian). */
export function daysInMonth(y: number, m: number): number {
  const t = new Date(0);
  t.setUTCFullYear(y, m, 0); // day 0 of the next month: the last day of this one (setUTCFullYear: no 19xx for years < 100)
  return t.getUTCDate();
}

/** Why `y-mo-d h:mi:s` is not a date-time of the calendar; null when it is one. */
export function calendarProblem(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): string | null {
  if (mo < 1 || mo > 12) return `there is no month ${String(mo).padStart(2, '0')}`;
  const n = daysInMonth(y, mo);
  if (d < 1 || d > n) return `${MONTHS[mo - 1]} ${y} has ${n} days`;
  if (h > 23) return 'hours go from 00 to 23';
  if (mi > 59) return 'minutes go from 00 to 59';
  if (s > 59) return 'seconds go from 00 to 59';
  return null;
}

export type Parsed = { readonly ok: true; readonly at: Date } | { readonly ok: false; readonly reason: string };

/** The UTC instant of a wall-clock reading taken as UTC (years below 100 stay years below 100). */
function utc(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number {
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d);
  t.setUTCHours(h, mi, s, ms);
  return t.getTime();
}

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|([+-])(\d{2}):(\d{2}))$/;
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/;

const millis = (fraction: string | undefined) => (fraction ? Number(fraction.slice(0, 3).padEnd(3, '0')) : 0);
const fields = (m: RegExpExecArray) =>
  [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];

/** An ISO-8601 instant with its zone (`Z` or `±hh:mm`), checked against the calendar. */
export function parseIsoInstant(text: string): Parsed {
  const m = INSTANT.exec(text);
  if (!m)
    return { ok: false, reason: `"${text}" is not an ISO-8601 instant with a zone (2025-10-26T01:30:00Z, 2025-10-26T03:30:00+02:00)` };
  const [y, mo, d, h, mi, s] = fields(m);
  const problem = calendarProblem(y, mo, d, h, mi, s);
  if (problem) return { ok: false, reason: `"${text}" is not a real date and time: ${problem}` };
  let offset = 0;
  if (m[8] !== 'Z') {
    const [oh, om] = [Number(m[10]), Number(m[11])];
    if (oh > 23 || om > 59) return { ok: false, reason: `"${text}" has no valid offset (${m[8]}): offsets go from -23:59 to +23:59` };
    offset = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  return { ok: true, at: new Date(utc(y, mo, d, h, mi, s, millis(m[7])) - offset * 60_000) };
}

/**
 * A wall-clock date-time of `timeZone` as its one instant. Refused (with the reason) when the
 * calendar has no such date, when the zone skips it (spring forward) or when it happens twice
 * (fall back: which one is meant cannot be guessed — the offset says it).
 */
export function parseZonedDateTime(text: string, timeZone: string): Parsed {
  const m = LOCAL.exec(text);
  if (!m) return { ok: false, reason: `"${text}" is not a local date-time (2025-10-26T14:30 or 2025-10-26T14:30:00)` };
  const [y, mo, d, h, mi, s] = fields(m);
  const problem = calendarProblem(y, mo, d, h, mi, s);
  if (problem) return { ok: false, reason: `"${text}" is not a real date and time: ${problem}` };
  const wall = utc(y, mo, d, h, mi, s, millis(m[7]));
  // The zone's offsets on either side of any change near this time; each that maps the wall clock back to itself is a reading.
  const offsets = new Set([-86_400_000, 0, 86_400_000].map((dt) => offsetMinutes(new Date(wall + dt), timeZone)));
  const instants = [...offsets]
    .map((o) => wall - o * 60_000)
    .filter((t) => offsetMinutes(new Date(t), timeZone) * 60_000 === wall - t)
    .sort((a, b) => a - b);
  const [first, second] = instants;
  if (first === undefined) return { ok: false, reason: `${text} does not exist in ${timeZone} (skipped by a daylight-saving change)` };
  if (second !== undefined)
    return {
      ok: false,
      reason:
        `${text} happens twice in ${timeZone} (a daylight-saving change repeats it): at ${formatInZone(new Date(first), timeZone)} ` +
        `and at ${formatInZone(new Date(second), timeZone)}; give the offset`,
    };
  return { ok: true, at: new Date(first) };
}

/** An instant given with its offset, or a local date-time read in `timeZone`. */
export function parseInstantIn(text: string, timeZone: string): Parsed {
  return LOCAL.test(text) ? parseZonedDateTime(text, timeZone) : parseIsoInstant(text);
}
