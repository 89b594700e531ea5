/**
 * The human rendering of `metrics` and `timeseries` (local/analytics-format.ts; issue 22, item 9):
 * units, decimals, separators, alignment, hours in the series' zone, a range without data.
 */
import { formatValue, periodLabel, renderDashboard, renderTimeSeries } from '../../local/analytics-format';

describe('analytics human output', () => {
  it('each unit: counts with separators, ms as seconds, ratios as %, minutes, ratings, scores; unknown as —; never -0', () => {
    const shown = (v: number | null, unit: string) => {
      const f = formatValue(v, unit);
      return f.suffix ? `${f.number} ${f.suffix}` : f.number;
    };
    expect(shown(1_234_567, 'count')).toBe('1,234,567');
    expect(shown(2.5, 'count')).toBe('2.50');
    expect(shown(4_230.444444444444, 'ms')).toBe('4.23 s');
    expect(shown(125_000, 'ms')).toBe('125.00 s');
    expect(shown(0.08333333333333333, 'ratio')).toBe('8.3 %');
    expect(shown(1, 'ratio')).toBe('100.0 %');
    expect(shown(1_523.25, 'minutes')).toBe('1,523.3 min');
    expect(shown(3.8333333333333335, 'rating')).toBe('3.83');
    expect(shown(-33.333333333333336, 'score')).toBe('-33.3');
    expect(shown(-0.00001, 'score')).toBe('0.0');
    expect(shown(null, 'ms')).toBe('—');
  });

  it('an hour is shown in the zone the series names, from its instant, with the offset', () => {
    const p = (start: string) => periodLabel({ period: start, start }, 'hour', 'Asia/Kolkata');
    expect(p('2025-03-30T00:30:00.000Z')).toBe('2025-03-30 06:00 +05:30');
    expect(periodLabel({ period: '2025-10-26T02:00:00+01:00', start: '2025-10-26T01:00:00.000Z' }, 'hour', 'Europe/Madrid')).toBe(
      '2025-10-26 02:00 +01:00',
    );
    expect(periodLabel({ period: '2025-10-26T02:00:00+02:00', start: '2025-10-26T00:00:00.000Z' }, 'hour', 'Europe/Madrid')).toBe(
      '2025-10-26 02:00 +02:00',
    );
    expect(periodLabel({ period: '2025-03-01', start: '2025-02-28T23:00:00.000Z' }, 'month', 'Europe/Madrid')).toBe('2025-03');
  });

  it('the dashboard: one column of numbers, right-aligned, changes signed', () => {
    const lines = renderDashboard('hotel-1', {
      today: {
        conversationsActive: 12,
        conversationsResolved: 1_204,
        messagesReceived: 23_456,
        messagesSent: 9,
        avgResponseTimeMs: 4_230.4,
        escalationRate: 0.125,
      },
      comparison: { conversationsChange: 12.345, responseTimeChange: -3.06, satisfactionChange: 0 },
      activeConversations: 12,
      staffOnline: 2,
      pendingTasks: 1_005,
    });
    expect(lines).toEqual([
      'Dashboard for hotel-1',
      'Today so far (the property’s time zone)',
      '  Conversations resolved   1,204',
      '  Messages received       23,456',
      '  Messages sent                9',
      '  Mean response time        4.23 s',
      '  Escalation rate           12.5 %',
      'Change from yesterday',
      '  Conversations started    +12.3 %',
      '  Response time             -3.1 %',
      '  Satisfaction               0.0 %',
      'Now',
      '  Active conversations        12',
      '  Staff online                 2',
      '  Pending tasks            1,005',
    ]);
  });

  it('a series without rows says so in words', () => {
    const lines = renderTimeSeries({
      query: {
        metric: 'response_time_p95_ms',
        granularity: 'hour',
        startDate: '2025-01-01',
        endDate: '2025-01-02',
        propertyId: 'hotel-9',
        dimensions: ['channel'],
        timeZone: 'America/Cancun',
      },
      metric: { name: 'response_time_p95_ms', unit: 'ms', rollup: 'not-rollable', description: '95th percentile response time' },
      series: [],
      metadata: { periods: 24, points: 0, rowCount: 0, queryMs: 1 },
    });
    expect(lines).toEqual([
      'response_time_p95_ms by hour, in seconds: 95th percentile response time',
      'hotel-9, from 2025-01-01 to 2025-01-02 (exclusive), hours in America/Cancun',
      'No data for response_time_p95_ms of hotel-9 between 2025-01-01 and 2025-01-02 (America/Cancun): nothing aggregated in that range.',
    ]);
  });
});
