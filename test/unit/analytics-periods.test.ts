import { lastClosed, parsePeriod, periodContaining, periodsWithin } from '../../lambdas/aggregate/periods';

const TZ = 'Europe/Madrid';
const hours = (p: { start: Date; end: Date }) => (p.end.getTime() - p.start.getTime()) / 3_600_000;

describe('closed periods in the aggregation zone', () => {
  it('days are 23, 24 and 25 hours around the Madrid changes', () => {
    expect(hours(parsePeriod('daily', '2025-03-30', TZ))).toBe(23);
    expect(hours(parsePeriod('daily', '2025-03-31', TZ))).toBe(24);
    expect(hours(parsePeriod('daily', '2025-10-26', TZ))).toBe(25);
    expect(
      periodsWithin('hourly', parsePeriod('daily', '2025-10-26', TZ).start, parsePeriod('daily', '2025-10-27', TZ).start, TZ),
    ).toHaveLength(25);
    expect(
      periodsWithin('hourly', parsePeriod('daily', '2025-03-30', TZ).start, parsePeriod('daily', '2025-03-31', TZ).start, TZ),
    ).toHaveLength(23);
  });

  it('the repeated 02:00 of a fall-back day: --period means the first one', () => {
    expect(parsePeriod('hourly', '2025-10-26T02', TZ)).toMatchObject({
      key: '2025-10-26T00:00:00.000Z',
      label: '2025-10-26T02:00:00+02:00',
    });
    expect(periodContaining('hourly', new Date('2025-10-26T01:30:00Z'), TZ).label).toBe('2025-10-26T02:00:00+01:00');
    expect(() => parsePeriod('hourly', '2025-03-30T02', TZ)).toThrow(
      '2025-03-30T02:00 does not exist in Europe/Madrid (skipped by a daylight-saving change)',
    );
  });

  it('the latest closed period is the one that has just ended, never a partial one', () => {
    const now = new Date('2025-10-27T01:00:05Z'); // Monday 02:00:05 CET
    expect(lastClosed('hourly', now, TZ).label).toBe('2025-10-27T01:00:00+01:00');
    expect(lastClosed('daily', now, TZ).key).toBe('2025-10-26');
    expect(lastClosed('weekly', now, TZ)).toMatchObject({ key: '2025-10-20', label: '2025-10-20T00:00:00+02:00' });
    expect(hours(lastClosed('weekly', now, TZ))).toBe(169);
    expect(lastClosed('monthly', now, TZ).key).toBe('2025-09');
    expect(lastClosed('monthly', new Date('2025-10-31T23:00:00Z'), TZ).key).toBe('2025-10'); // 00:00 CET on 1 November
  });

  it('other zones: a half-hour offset and UTC', () => {
    expect(lastClosed('hourly', new Date('2025-10-21T10:40:00Z'), 'Asia/Kolkata').start.toISOString()).toBe('2025-10-21T09:30:00.000Z');
    expect(parsePeriod('daily', '2025-10-26', 'UTC').start.toISOString()).toBe('2025-10-26T00:00:00.000Z');
  });

  it('refuses a START that does not begin its period, saying where the period starts', () => {
    expect(() => parsePeriod('weekly', '2025-10-22', TZ)).toThrow(
      '"2025-10-22" is not the start of a week (weeks start on Monday) in Europe/Madrid; the weekly period containing it starts at 2025-10-20T00:00:00+02:00',
    );
    expect(() => parsePeriod('daily', 'yesterday', TZ)).toThrow(/is not a local date/);
  });
});
