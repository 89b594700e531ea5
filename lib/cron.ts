/**
 * EventBridge Scheduler cron expressions, `cron(minutes hours day-of-month month day-of-week year)`,
 * evaluated against wall-clock time in the schedule's zone: what the idle-cost estimate needs to
 * know when each job runs. Supports numbers, names (JAN–DEC, SUN–SAT), `*`, `?`, lists, ranges and
 * steps; `L`, `W` and `#` are refused (no schedule here uses them).
 */

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface Field {
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}
const FIELDS: readonly Field[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: MONTHS },
  { min: 1, max: 7, names: DAYS }, // 1 = SUN
  { min: 1970, max: 2199 },
];

/** The set a field allows; undefined for `*` / `?` (any). */
function parseField(text: string, f: Field): Set<number> | undefined {
  if (text === '*' || text === '?') return undefined;
  if (/[LW#]/.test(text.replace(/[A-Z]{3}/g, ''))) throw new Error(`cron field "${text}": L, W and # are not supported here`);
  const value = (v: string) => {
    const i = f.names?.indexOf(v.toUpperCase()) ?? -1;
    const n = i >= 0 ? i + f.min : Number(v);
    if (!Number.isInteger(n) || n < f.min || n > f.max) throw new Error(`cron field "${text}": "${v}" is not in ${f.min}–${f.max}`);
    return n;
  };
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const [range = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`cron field "${text}": bad step`);
    const [a = '', b] = range.split('-');
    const from = a === '*' ? f.min : value(a);
    const to = b !== undefined ? value(b) : stepText !== undefined || a === '*' ? f.max : from;
    for (let n = from; n <= to; n += step) out.add(n);
  }
  return out;
}

export interface Cron {
  /** Whether the schedule fires at this wall-clock minute. */
  matches(t: WallClock): boolean;
  /** The UTC instants (ms) it fires at in `timeZone` over [from, from + days). */
  firesIn(timeZone: string, from: Date, days: number): number[];
}

/** A minute of wall-clock time in some zone; `weekday` 0 = Sunday. */
export interface WallClock {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly weekday: number;
}

export function parseCron(expression: string): Cron {
  const m = /^cron\((.+)\)$/.exec(expression.trim());
  const parts = m?.[1]?.trim().split(/\s+/) ?? [];
  if (parts.length !== 6) throw new Error(`"${expression}" is not cron(min hour day-of-month month day-of-week year)`);
  const [minute, hour, dom, month, dow, year] = parts.map((p, i) => parseField(p, FIELDS[i] as Field));
  const has = (s: Set<number> | undefined, n: number) => s === undefined || s.has(n);
  const hourMatches = (t: Omit<WallClock, 'minute'>) =>
    has(hour, t.hour) && has(dom, t.day) && has(month, t.month) && has(dow, t.weekday + 1) && has(year, t.year);
  return {
    matches: (t) => has(minute, t.minute) && hourMatches(t),
    firesIn: (timeZone, from, days) => {
      const out: number[] = [];
      for (const h of hoursIn(timeZone, from, days)) {
        // h.local is the wall clock at the UTC hour's start; its minute is the zone's offset past the hour.
        for (let i = 0; i < 60; i++) {
          const local =
            h.local.minute + i < 60
              ? { ...h.local, minute: h.local.minute + i }
              : { ...nextHour(h.local), minute: h.local.minute + i - 60 };
          if (h.local.minute === 0 && i === 0 && !hourMatches(local)) break; // whole-hour zones: one check per hour
          if (has(minute, local.minute) && hourMatches(local)) out.push(h.at + i * 60_000);
        }
      }
      return out;
    },
  };
}

interface HourStart {
  readonly at: number;
  readonly local: WallClock;
}
const hourCache = new Map<string, HourStart[]>();

/** The wall clock in `timeZone` at the start of each UTC hour of [from, from + days) (memoized). */
function hoursIn(timeZone: string, from: Date, days: number): HourStart[] {
  const key = `${timeZone}|${from.toISOString()}|${days}`;
  const cached = hourCache.get(key);
  if (cached) return cached;
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    weekday: 'short',
  });
  const out: HourStart[] = [];
  const end = from.getTime() + days * 86_400_000;
  for (let at = from.getTime(); at < end; at += 3_600_000) {
    const parts = Object.fromEntries(format.formatToParts(new Date(at)).map((p) => [p.type, p.value]));
    out.push({
      at,
      local: {
        year: Number(parts.year),
        month: Number(parts.month),
        day: Number(parts.day),
        hour: Number(parts.hour),
        minute: Number(parts.minute),
        weekday: DAYS.indexOf(String(parts.weekday).toUpperCase()),
      },
    });
  }
  hourCache.set(key, out);
  return out;
}

function nextHour(t: WallClock): WallClock {
  const d = new Date(Date.UTC(t.year, t.month - 1, t.day, t.hour + 1));
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: 0,
    weekday: d.getUTCDay(),
  };
}
