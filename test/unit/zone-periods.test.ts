/**
 * Issue 23, "each property in its own time zone": the periods of every zone shape, against a brute
 * force over every minute (transitions fall on whole minutes). An hour is the instants sharing the
 * local wall-clock hour and the UTC offset; a day, week or month starts at the first instant of its
 * local date. Zones: whole-hour DST (Madrid), half-hour and 45-minute offsets with and without DST
 * (Kolkata, Kathmandu, St John's, Adelaide, Chatham), a 30-minute DST shift (Lord Howe), changes at
 * local midnight that skip or repeat 00:00 (Santiago, Havana), both hemispheres.
 */
import { periodContaining } from '../../lambdas/aggregate/periods';
import { formatInZone, localDate, offsetMinutes } from '../../lambdas/shared/time';

const CASES: [string, string][] = [
  ['Europe/Madrid', '2025-03-30'],
  ['Europe/Madrid', '2025-10-26'],
  ['Asia/Kolkata', '2025-06-01'],
  ['Asia/Kathmandu', '2025-06-01'],
  ['America/St_Johns', '2025-03-09'],
  ['America/St_Johns', '2025-11-02'],
  ['Australia/Adelaide', '2025-04-06'],
  ['Australia/Adelaide', '2025-10-05'],
  ['Pacific/Chatham', '2025-04-06'],
  ['Pacific/Chatham', '2025-09-28'],
  ['Australia/Lord_Howe', '2025-04-06'],
  ['Australia/Lord_Howe', '2025-10-05'],
  ['America/Santiago', '2025-04-06'],
  ['America/Santiago', '2025-09-07'],
  ['America/Havana', '2025-03-09'],
  ['America/Havana', '2025-11-02'],
];
const MIN = 60_000;

/** Brute force: the minutes of [from, to) grouped by a key, as [first minute, first minute after] runs. */
function runs(from: number, to: number, key: (t: Date) => string): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (let t = from; t < to; t += MIN) {
    const k = key(new Date(t));
    const r = out.get(k);
    if (r) {
      expect(r[1]).toBe(t); // a period is one contiguous run of time
      r[1] = t + MIN;
    } else out.set(k, [t, t + MIN]);
  }
  return out;
}

describe.each(CASES)('%s around %s', (zone, day) => {
  const center = Date.parse(`${day}T12:00:00Z`);
  const from = center - 40 * 3_600_000;
  const to = center + 40 * 3_600_000;

  it('hours: same local hour and same offset; every instant in exactly one, keys are their first instants', () => {
    const brute = runs(from, to, (t) => `${formatInZone(t, zone).slice(0, 13)} ${offsetMinutes(t, zone)}`);
    for (const [k, [a, b]] of brute) {
      if (a === from || b === to) continue; // cut by the window
      for (const probe of [a, Math.floor((a + b) / 2 / MIN) * MIN, b - 1]) {
        const p = periodContaining('hourly', new Date(probe), zone);
        expect([k, p.start.getTime(), p.end.getTime()]).toEqual([k, a, b]);
        expect(p.key).toBe(new Date(a).toISOString());
      }
    }
  });

  it('days and weeks: from the first instant of the local date', () => {
    const days = runs(from, to, (t) => localDate(t, zone));
    for (const [k, [a, b]] of days) {
      if (a === from || b === to) continue;
      const p = periodContaining('daily', new Date(a + (b - a) / 2), zone);
      expect([p.key, p.start.getTime(), p.end.getTime()]).toEqual([k, a, b]);
      const w = periodContaining('weekly', new Date(a), zone);
      expect(localDate(w.start, zone)).toBe(w.key);
      expect(localDate(new Date(w.start.getTime() - 1), zone) < w.key).toBe(true);
      expect(new Date(`${w.key}T00:00:00Z`).getUTCDay()).toBe(1);
    }
  });
});
