/**
 * The human rendering of `metrics` and `timeseries` (issue 22, item 9): numbers with thousands
 * separators and a fixed number of decimals per unit (milliseconds as seconds, ratios as %), right
 * aligned in one column; hours shown in the zone the header names, with their offset; a range
 * without any data said in words. `--json` prints the API's document unchanged.
 */
import type { DashboardMetrics } from '../lambdas/analytics-api/dashboard';
import type { TimeSeriesResult } from '../lambdas/analytics-api/timeseries';
import { formatInZone } from '../lambdas/shared/time';

/** How a unit of the metric registry is shown: scaled, with this many decimals and this suffix. */
interface Display {
  readonly scale: number;
  readonly decimals: number;
  readonly suffix: string;
  /** The unit in words, for headers (none where the description says it: counts, ratings, scores). */
  readonly words: string;
}

const DISPLAY: Record<string, Display> = {
  count: { scale: 1, decimals: 0, suffix: '', words: '' },
  ms: { scale: 1 / 1000, decimals: 2, suffix: 's', words: 'seconds' },
  minutes: { scale: 1, decimals: 1, suffix: 'min', words: 'minutes' },
  ratio: { scale: 100, decimals: 1, suffix: '%', words: 'percent' },
  rating: { scale: 1, decimals: 2, suffix: '', words: '' },
  score: { scale: 1, decimals: 1, suffix: '', words: '' },
};

/** A unit not in the table above (a newer API): the value as it comes, two decimals at most. */
const displayOf = (unit: string): Display => DISPLAY[unit] ?? { scale: 1, decimals: 2, suffix: unit, words: unit };

/** `1234.5` → `1,234.5` (en-US grouping, exactly `decimals` decimals, never `-0`). */
export function formatNumber(value: number, decimals: number, signed = false): string {
  // a value that rounds to zero is shown as 0 (-0.001 is "0.0", not "-0.0")
  const v = Math.abs(value) < 0.5 * 10 ** -decimals ? 0 : value;
  return new Intl.NumberFormat('en-US', {
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals,
    signDisplay: signed ? 'exceptZero' : 'auto',
  }).format(v);
}

/** One value of a metric in its unit: `3,202`, `4.23 s`, `43.8 %`, `—` when unknown. */
export function formatValue(value: number | null, unit: string): { number: string; suffix: string } {
  if (value === null || !Number.isFinite(value)) return { number: '—', suffix: '' };
  const d = displayOf(unit);
  // a count that is not whole (a future metric) keeps two decimals rather than rounding them away
  const decimals = unit === 'count' && !Number.isInteger(value) ? 2 : d.decimals;
  return { number: formatNumber(value * d.scale, decimals), suffix: d.suffix };
}

type Row = { readonly label: string; readonly number: string; readonly suffix: string } | { readonly heading: string };

/** Rows as lines: labels left, numbers right-aligned in one column, the unit after the number. */
export function table(rows: readonly Row[], indent = '  '): string[] {
  const cells = rows.filter((r): r is Exclude<Row, { heading: string }> => !('heading' in r));
  const labelWidth = Math.max(0, ...cells.map((r) => r.label.length));
  const numberWidth = Math.max(0, ...cells.map((r) => r.number.length));
  return rows.map((r) =>
    'heading' in r
      ? r.heading
      : `${indent}${r.label.padEnd(labelWidth)}  ${r.number.padStart(numberWidth)}${r.suffix ? ` ${r.suffix}` : ''}`,
  );
}

/** A period as the operator reads it: an hour in the series' zone with its offset, a month as `YYYY-MM`. */
export function periodLabel(point: { period: string; start: string }, granularity: string, timeZone: string): string {
  if (granularity === 'hour') {
    // from the instant, in the zone the header names (whatever form the API gave the label in)
    const local = formatInZone(new Date(point.start), timeZone); // 2025-03-30T03:00:00+02:00
    return `${local.slice(0, 10)} ${local.slice(11, 16)} ${local.slice(19)}`;
  }
  if (granularity === 'month') return point.period.slice(0, 7);
  return point.period.slice(0, 10);
}

const GRAIN_WORDS: Record<string, string> = { hour: 'hours', day: 'days', week: 'weeks (Monday to Sunday)', month: 'months' };

/** `timeseries` in human mode. */
export function renderTimeSeries(ts: TimeSeriesResult): string[] {
  const { query, metric } = ts;
  const d = displayOf(metric.unit);
  const lines = [
    `${metric.name} by ${query.granularity}${d.words ? `, in ${d.words}` : ''}: ${metric.description}`,
    `${query.propertyId}, from ${query.startDate} to ${query.endDate} (exclusive), ${GRAIN_WORDS[query.granularity] ?? query.granularity} in ${query.timeZone}`,
  ];
  const noRows = ts.series.length === 0 || ts.metadata?.rowCount === 0;
  if (noRows) {
    lines.push(
      `No data for ${metric.name} of ${query.propertyId} between ${query.startDate} and ${query.endDate} (${query.timeZone}): nothing aggregated in that range.`,
    );
    return lines;
  }
  const rows: Row[] = [];
  for (const s of ts.series) {
    const dims = Object.entries(s.dimensions)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    rows.push({ heading: '' });
    if (dims) rows.push({ heading: dims });
    for (const p of s.points) rows.push({ label: periodLabel(p, query.granularity, query.timeZone), ...formatValue(p.value, metric.unit) });
  }
  return [...lines, ...table(rows)];
}

/**
 * `metrics` in human mode: the dashboard in three groups, one column of numbers. `today.conversationsActive`
 * is `activeConversations` (dashboard.ts sets both from one count): shown once, under "Now".
 */
export function renderDashboard(propertyId: string, m: DashboardMetrics): string[] {
  const count = (label: string, v: number): Row => ({ label, ...formatValue(v, 'count') });
  const change = (label: string, v: number): Row => ({ label, number: formatNumber(v, 1, true), suffix: '%' });
  return [
    `Dashboard for ${propertyId}`,
    ...table([
      { heading: 'Today so far (the property’s time zone)' },
      count('Conversations resolved', m.today.conversationsResolved),
      count('Messages received', m.today.messagesReceived),
      count('Messages sent', m.today.messagesSent),
      { label: 'Mean response time', ...formatValue(m.today.avgResponseTimeMs, 'ms') },
      { label: 'Escalation rate', ...formatValue(m.today.escalationRate, 'ratio') },
      { heading: 'Change from yesterday' },
      change('Conversations started', m.comparison.conversationsChange),
      change('Response time', m.comparison.responseTimeChange),
      change('Satisfaction', m.comparison.satisfactionChange),
      { heading: 'Now' },
      count('Active conversations', m.activeConversations),
      count('Staff online', m.staffOnline),
      count('Pending tasks', m.pendingTasks),
    ]),
  ];
}
