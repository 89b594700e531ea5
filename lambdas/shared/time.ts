/** Time-zone arithmetic with Intl only (no dependency), correct across daylight-saving changes. */

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Throws a clear error for an unknown IANA zone name. */
export function assertTimeZone(timeZone: string): string {
  try {
    formatter(timeZone);
    return timeZone;
  } catch {
    throw new RangeError(`Unknown time zone "${timeZone}" (expected an IANA name such as Europe/Madrid)`);
  }
}

interface Parts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function partsIn(date: Date, timeZone: string): Parts {
  const out: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(date)) if (p.type !== 'literal') out[p.type] = Number(p.value);
  return out as unknown as Parts;
}

/** Offset of `timeZone` from UTC at `date`, in minutes (Europe/Madrid: 60 in winter, 120 in summer). */
export function offsetMinutes(date: Date, timeZone: string): number {
  const p = partsIn(date, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return Math.round((asUtc - Math.floor(date.getTime() / 1000) * 1000) / 60_000);
}

const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');

/** ISO-8601 with the zone's offset, e.g. `2025-10-28T14:00:00+01:00` (seed 000's `last_run`). */
export function formatInZone(date: Date, timeZone: string): string {
  const p = partsIn(date, timeZone);
  const off = offsetMinutes(date, timeZone);
  const sign = off < 0 ? '-' : '+';
  return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}${sign}${pad(Math.trunc(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
}

/** The calendar date (YYYY-MM-DD) of `date` in `timeZone`. */
export function localDate(date: Date, timeZone: string): string {
  const p = partsIn(date, timeZone);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
}

/**
 * The instant at which the wall-clock time `y-m-d h:00` occurs in `timeZone`.
 * For a time skipped by a spring-forward change it returns the first instant after the gap.
 */
export function zonedTimeToUtc(y: number, m: number, d: number, h = 0, min = 0, timeZone = 'UTC'): Date {
  const guess = Date.UTC(y, m - 1, d, h, min);
  let t = guess - offsetMinutes(new Date(guess), timeZone) * 60_000;
  t = guess - offsetMinutes(new Date(t), timeZone) * 60_000;
  return new Date(t);
}

/**
 * The first instant whose local date in `timeZone` is y-m-d: local midnight, or — where the zone
 * skips 00:00 (a daylight-saving change at midnight, America/Santiago, America/Havana) — the first
 * instant after the gap. Every day, week and month of the analytics starts here.
 */
export function startOfLocalDate(y: number, m: number, d: number, timeZone: string): Date {
  const target = Date.UTC(y, m - 1, d);
  const dayOf = (t: number) => {
    const p = partsIn(new Date(t), timeZone);
    return Date.UTC(p.year, p.month - 1, p.day);
  };
  const guess = zonedTimeToUtc(y, m, d, 0, 0, timeZone).getTime();
  if (dayOf(guess) === target && dayOf(guess - 1) < target) return new Date(guess);
  // Rare (00:00 skipped, or the guess landed in a gap): the first instant with a local date ≥ target,
  // by bisection over a window wider than any offset (±26 h).
  let lo = target - 26 * 3_600_000;
  let hi = target + 26 * 3_600_000;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (dayOf(mid) >= target) hi = mid;
    else lo = mid;
  }
  return new Date(hi);
}

/**
 * The local hour holding `instant`: the instants sharing its local wall-clock hour AND its UTC offset
 * (so the repeated 02:00 of a fall-back day is two hours, and where a zone shifts by 30 minutes —
 * Australia/Lord_Howe — the hour cut by the change is two pieces of 30 and 60 minutes, never an
 * overlap). The same partition as PostgreSQL's `(date_trunc('hour', ts AT TIME ZONE zone), offset)`.
 */
export function localHourOf(instant: Date, timeZone: string): { start: Date; end: Date } {
  const t = Math.floor(instant.getTime() / 1000) * 1000;
  const off = offsetMinutes(new Date(t), timeZone);
  const p = partsIn(new Date(t), timeZone);
  const same = (x: number) => {
    if (offsetMinutes(new Date(x), timeZone) !== off) return false;
    const q = partsIn(new Date(x), timeZone);
    return q.hour === p.hour && q.day === p.day;
  };
  // start: the wall clock's XX:00 at this offset, unless the offset changed in between (then the change)
  let start = t - (p.minute * 60 + p.second) * 1000;
  if (!same(start)) {
    let lo = start;
    let hi = t; // same(hi) holds, same(lo) does not: at most one change lies between
    while (hi - lo > 1000) {
      const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
      if (same(mid)) hi = mid;
      else lo = mid;
    }
    start = hi;
  }
  // end: the next XX:00 at this offset, unless the offset changes before it
  const sp = partsIn(new Date(start), timeZone);
  let end = start + (3600 - sp.minute * 60 - sp.second) * 1000;
  if (!same(end - 1000)) {
    let lo = start; // same(lo) holds
    let hi = end - 1000; // same(hi) does not
    while (hi - lo > 1000) {
      const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
      if (same(mid)) lo = mid;
      else hi = mid;
    }
    end = hi;
  }
  return { start: new Date(start), end: new Date(end) };
}

/** A duration in seconds with millisecond precision, trailing zeros dropped: 40 ms → `0.04 s`, 1234 ms → `1.234 s`. */
export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}
