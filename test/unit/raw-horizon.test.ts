import { assertRecomputable, BeyondHorizonError, firstRecomputable, lateThreshold, recomputable } from '../../lambdas/aggregate/horizon';
import { parsePeriod, periodsWithin } from '../../lambdas/aggregate/periods';

const TZ = 'Europe/Madrid';
const at = (iso: string) => new Date(iso);

describe('the raw horizon (issue 26.10)', () => {
  it('a bucket is recomputable only if its period starts after the newest exported raw event', () => {
    const h = at('2026-08-20T10:00:00Z');
    expect(recomputable(at('2026-08-20T10:00:00.001Z'), h)).toBe(true);
    expect(recomputable(h, h)).toBe(false); // the exported event at the horizon is in this period
    expect(recomputable(at('2026-08-01T00:00:00Z'), h)).toBe(false);
    expect(recomputable(at('2000-01-01T00:00:00Z'), null)).toBe(true); // nothing exported yet
  });

  it('late threshold: the end of the month containing the horizon, in the zone (DST offsets included)', () => {
    // Madrid is UTC+2 in August: September starts at 2026-08-31T22:00Z. The week of the horizon
    // (Mon 17 – Sun 23 August) ends before the month does.
    expect(lateThreshold(at('2026-08-20T10:00:00Z'), [TZ]).toISOString()).toBe('2026-08-31T22:00:00.000Z');
    // In winter (UTC+1): February starts at 2026-01-31T23:00Z.
    expect(lateThreshold(at('2026-01-10T10:00:00Z'), [TZ]).toISOString()).toBe('2026-01-31T23:00:00.000Z');
  });

  it('late threshold: the end of the ISO week when the week of the horizon runs into the next month', () => {
    // Horizon Monday 2026-08-31 in Madrid: its week ends Monday 2026-09-07 (local), after the month.
    // An event on Thursday 3 September is in a month that starts after the horizon, but in a week that does not.
    expect(lateThreshold(at('2026-08-31T08:00:00Z'), [TZ]).toISOString()).toBe('2026-09-06T22:00:00.000Z');
  });

  it('late threshold: the latest over the zones; with none known, the widest bound of any zone', () => {
    const h = at('2026-08-20T10:00:00Z');
    expect(lateThreshold(h, [TZ, 'America/New_York']).toISOString()).toBe('2026-09-01T04:00:00.000Z');
    expect(lateThreshold(h, ['UTC']).toISOString()).toBe('2026-09-01T00:00:00.000Z');
    // No zone: UTC−12 ends the month at 2026-09-01T12:00Z; no zone can end it later.
    expect(lateThreshold(h, []).toISOString()).toBe('2026-09-01T12:00:00.000Z');
    // 31 August 12:00Z is already 1 September in UTC+14: that zone's September lost raw events too.
    expect(lateThreshold(at('2026-08-31T12:00:00Z'), []).getTime()).toBeGreaterThanOrEqual(Date.parse('2026-09-30T10:00:00Z'));
    for (const zone of ['Pacific/Kiritimati', 'Etc/GMT+12', 'Asia/Kathmandu', TZ, 'America/St_Johns'])
      for (const h2 of [at('2026-08-31T12:00:00Z'), at('2026-03-29T01:30:00Z'), at('2026-12-31T23:59:59Z')])
        expect(lateThreshold(h2, []).getTime()).toBeGreaterThanOrEqual(lateThreshold(h2, [zone]).getTime());
  });

  it('an explicit recompute that reaches a period at or before the horizon is refused, naming the horizon and where to start', () => {
    const h = at('2026-08-20T10:00:00Z');
    const months = periodsWithin('monthly', at('2026-06-30T22:00:00Z'), at('2026-10-31T23:00:00Z'), TZ);
    expect(() => assertRecomputable('monthly_summary', months, h, TZ)).toThrow(BeyondHorizonError);
    expect(() => assertRecomputable('monthly_summary', months, h, TZ)).toThrow(
      'monthly_summary: the monthly period starting 2026-07-01T00:00:00+02:00 cannot be recomputed: raw analytics events up to ' +
        '2026-08-20T12:00:00+02:00 (the raw horizon) are in cold storage only, and recomputing from what is left would lower its figures; ' +
        'its aggregate stays as it is. The first monthly period that can be recomputed starts 2026-09-01T00:00:00+02:00 (--from 2026-09).',
    );
    expect(() => assertRecomputable('monthly_summary', months.slice(2), h, TZ)).not.toThrow();
    expect(() => assertRecomputable('monthly_summary', months, null, TZ)).not.toThrow();
    expect(firstRecomputable(parsePeriod('hourly', '2026-08-20T12', TZ), h, TZ).label).toBe('2026-08-20T13:00:00+02:00');
  });
});
