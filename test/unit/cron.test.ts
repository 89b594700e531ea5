import { parseCron } from '../../lib/cron';

/** The local times (`YYYY-MM-DD HH:MM`) a cron fires at over some days from a UTC instant. */
function fires(expression: string, zone: string, from: string, days: number): string[] {
  const local = new Intl.DateTimeFormat('sv-SE', { timeZone: zone, dateStyle: 'short', timeStyle: 'short' });
  return parseCron(expression)
    .firesIn(zone, new Date(from), days)
    .map((t) => local.format(new Date(t)));
}

describe('EventBridge cron expressions', () => {
  it('fires every 15 minutes, hourly, every six hours from 01:00, and on days by name', () => {
    expect(fires('cron(0/15 * * * ? *)', 'UTC', '2025-03-03T00:00:00Z', 1)).toHaveLength(96);
    expect(fires('cron(5 1/6 * * ? *)', 'UTC', '2025-03-03T00:00:00Z', 1)).toEqual([
      '2025-03-03 01:05',
      '2025-03-03 07:05',
      '2025-03-03 13:05',
      '2025-03-03 19:05',
    ]);
    // 2025-03-03 is a Monday
    expect(fires('cron(0 2 ? * MON *)', 'UTC', '2025-03-01T00:00:00Z', 14)).toEqual(['2025-03-03 02:00', '2025-03-10 02:00']);
    expect(fires('cron(30 3 1 * ? *)', 'UTC', '2025-01-15T00:00:00Z', 60)).toEqual(['2025-02-01 03:30', '2025-03-01 03:30']);
  });

  it('reads wall-clock time in the schedule’s zone, across a daylight-saving change', () => {
    // Europe/Madrid springs forward on 2025-03-30: 02:00 does not exist that day
    expect(fires('cron(30 2 * * ? *)', 'Europe/Madrid', '2025-03-28T12:00:00Z', 4)).toEqual([
      '2025-03-29 02:30',
      '2025-03-31 02:30',
      '2025-04-01 02:30',
    ]);
    // 01:00 in summer (UTC+2) is 23:00 UTC the day before
    expect(fires('cron(0 1 * * ? *)', 'Europe/Madrid', '2025-06-30T22:00:00Z', 1)).toEqual(['2025-07-01 01:00']);
  });

  it('matches one wall-clock minute', () => {
    const cron = parseCron('cron(0 2 ? * MON *)');
    expect(cron.matches({ year: 2025, month: 3, day: 3, hour: 2, minute: 0, weekday: 1 })).toBe(true);
    expect(cron.matches({ year: 2025, month: 3, day: 4, hour: 2, minute: 0, weekday: 2 })).toBe(false);
  });

  it('refuses what it does not know', () => {
    expect(() => parseCron('rate(5 minutes)')).toThrow('is not cron(');
    expect(() => parseCron('cron(0 12 L * ? *)')).toThrow('L, W and # are not supported');
    expect(() => parseCron('cron(61 * * * ? *)')).toThrow('"61" is not in 0–59');
  });
});
