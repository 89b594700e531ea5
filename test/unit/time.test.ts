import { formatInZone, localDate, offsetMinutes, zonedTimeToUtc } from '../../lambdas/shared/time';

describe('time zones', () => {
  it("formats seed 000's last_run with the Madrid offset, winter and summer", () => {
    expect(formatInZone(new Date('2025-10-28T13:00:00Z'), 'Europe/Madrid')).toBe('2025-10-28T14:00:00+01:00');
    expect(formatInZone(new Date('2025-07-01T13:00:00Z'), 'Europe/Madrid')).toBe('2025-07-01T15:00:00+02:00');
  });

  it('is right on both sides of the October 2025 change (03:00 CEST → 02:00 CET)', () => {
    expect(offsetMinutes(new Date('2025-10-26T00:59:59Z'), 'Europe/Madrid')).toBe(120);
    expect(offsetMinutes(new Date('2025-10-26T01:00:00Z'), 'Europe/Madrid')).toBe(60);
    expect(localDate(new Date('2025-10-25T22:30:00Z'), 'Europe/Madrid')).toBe('2025-10-26');
  });

  it('maps local midnight to the right instant in a 23-hour and a 25-hour day', () => {
    expect(zonedTimeToUtc(2025, 3, 30, 0, 0, 'Europe/Madrid').toISOString()).toBe('2025-03-29T23:00:00.000Z');
    expect(zonedTimeToUtc(2025, 3, 31, 0, 0, 'Europe/Madrid').toISOString()).toBe('2025-03-30T22:00:00.000Z');
    expect(zonedTimeToUtc(2025, 10, 27, 0, 0, 'Europe/Madrid').toISOString()).toBe('2025-10-26T23:00:00.000Z');
  });
});
