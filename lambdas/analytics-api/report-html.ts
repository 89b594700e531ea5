/**
 * The HTML report: one self-contained page (inline CSS and SVG, no script, no font, no image, no
 * request of any kind) for a hotel manager, on a phone (375 px: every chart drawn a second time at
 * the phone's size, tables stacked into cards; nothing scrolls sideways) and a desktop, and printed
 * (A4, charts kept whole). Five charts: messages per hour/day, response times, rating distribution
 * with NPS, top intents, channel mix. Value axes are d3-scale's (`nice()` domain, `ticks()`: steps of
 * 1, 2 or 5 × 10^k); every response time is in seconds; names are shown as people say them (channels,
 * intents, column headings), shares as percentages; every day is a local date and every hour a local
 * time of the property's zone, which is named (an hour with its zone's abbreviation or offset).
 */
import { scaleBand, scaleLinear, scalePoint } from 'd3-scale';
import { addDays } from './periods';
import type { Cell, Report, TableRows } from './reports';

const esc = (s: unknown) =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** 1 star (red) to 5 stars (green). */
const RATING_COLORS = ['#dc2626', '#f97316', '#eab308', '#84cc16', '#16a34a'];
const COLORS = ['#2563eb', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#0ea5e9', '#84cc16', '#f97316'];
const isNum = (v: Cell | undefined): v is number => typeof v === 'number' && Number.isFinite(v);
const num = (v: Cell | undefined) => (isNum(v) ? v : 0);
const DASH = '—';
/** A count or a figure with up to `digits` decimals (1,094; 3.53). */
const fmt = (v: Cell | undefined, digits = 1): string =>
  isNum(v) ? v.toLocaleString('en-US', { maximumFractionDigits: Number.isInteger(v) ? 0 : digits }) : DASH;
const fixed = (v: Cell | undefined, digits: number): string =>
  isNum(v) ? v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : DASH;
const pct = (v: Cell | undefined) => (isNum(v) ? `${(v * 100).toFixed(1)} %` : DASH);
/** Seconds from milliseconds: one decimal under 100 s, whole seconds above. */
const secs = (ms: number) => {
  const d = ms < 100_000 ? 1 : 0;
  return (ms / 1000).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
};
const seconds = (ms: Cell | undefined) => (isNum(ms) ? `${secs(ms)} s` : DASH);

// ------------------------------------------------------------------ names and times, as people say them

const CHANNEL_NAMES: Record<string, string> = {
  whatsapp: 'WhatsApp',
  webchat: 'Web chat',
  email: 'Email',
  sms: 'SMS',
  voice: 'Phone',
  unknown: 'Channel not recorded',
};
/** `late_checkout` → `Late checkout`; `staff-12` → `Staff 12`. */
const humanize = (key: string) => {
  const s = key.replace(/[_-]+/g, ' ').replace(/\s+/g, ' ').trim();
  return s ? s[0]?.toUpperCase() + s.slice(1) : key;
};
const channelName = (c: Cell | undefined) => CHANNEL_NAMES[String(c)] ?? humanize(String(c ?? ''));

/** A local date (YYYY-MM-DD) as `Mon 24 Mar` (with the year: `Mon 24 Mar 2025`). */
function dayName(date: string, withYear = false): string {
  const d = new Date(`${date}T12:00:00Z`);
  if (Number.isNaN(d.getTime())) return date;
  const day = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', weekday: 'short', day: 'numeric', month: 'short' }).format(d);
  return withYear ? `${day} ${d.getUTCFullYear()}` : day;
}

/** An instant labelled with its offset (`2025-10-26T02:00:00+02:00`) as `02:00 CEST` in `tz` (`02:00` with `zone: false`). */
function hourName(period: string, tz: string, zone = true): string {
  const d = new Date(period);
  if (Number.isNaN(d.getTime())) return period;
  const hm = new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d);
  return zone ? `${hm} ${zoneAbbr(d, tz)}` : hm;
}
const zoneAbbr = (d: Date, tz: string) =>
  new Intl.DateTimeFormat('en-GB', { timeZone: tz, timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName')
    ?.value ?? tz;

/** An instant as `20 Nov 2025, 11:00 CET` in `tz`. */
function instantName(iso: string, tz: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const day = new Intl.DateTimeFormat('en-GB', { timeZone: tz, day: 'numeric', month: 'short', year: 'numeric' }).format(d);
  return `${day}, ${hourName(iso, tz)}`;
}

/**
 * Axis labels of hours (`HH:MM` in the zone): an hour a fall-back change repeats keeps its zone
 * (`02:00 CEST`, `02:00 CET`), so the two are told apart.
 */
function hourLabels(periods: readonly string[], tz: string): string[] {
  const hm = periods.map((p) => hourName(p, tz, false));
  return hm.map((l, i) => (hm.indexOf(l) === hm.lastIndexOf(l) ? l : hourName(periods[i] as string, tz)));
}

// ------------------------------------------------------------------ charts

/** Two drawings of each chart: the desktop's and the phone's (CSS shows one), each at about its display size. */
const SIZES = { wide: { W: 940, H: 300, font: 12 }, narrow: { W: 355, H: 230, font: 11 } } as const;
type Size = (typeof SIZES)[keyof typeof SIZES];
/** A generous estimate of a label's width (DejaVu Sans digits are 0.64 em, ★ 0.84 em; system fonts are narrower). */
const textWidth = (s: string, font: number) => [...s].reduce((a, c) => a + (c.charCodeAt(0) < 0x250 ? 0.66 : 1), 0) * font;

function svg(name: string, title: string, variant: keyof typeof SIZES, width: number, height: number, body: string): string {
  return `<svg class="${variant}" data-chart="${esc(name)}" role="img" aria-label="${esc(title)}" viewBox="0 0 ${width} ${height}" style="max-width:${width}px" xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet"><title>${esc(title)}</title>${body}</svg>`;
}

function both(draw: (s: Size, variant: keyof typeof SIZES) => string): string {
  return draw(SIZES.wide, 'wide') + draw(SIZES.narrow, 'narrow');
}

function empty(name: string, title: string): string {
  return both(
    (s, v) =>
      `${svg(name, title, v, s.W, 60, `<rect x="0" y="0" width="${s.W}" height="60" fill="#f8fafc"/><text x="${s.W / 2}" y="35" text-anchor="middle" class="muted" font-size="${s.font}">no data for this period</text>`)}`,
  );
}

interface Axis {
  body: string;
  left: number;
  y: (v: number) => number;
}

/**
 * A value axis from 0 to the data's maximum rounded up by d3 (`nice()`), its ticks (`ticks()`: 1, 2
 * or 5 × 10^k apart) as grid lines, labelled with d3's precision for that step (`tickFormat`).
 */
function valueAxis(max: number, s: Size, top: number, bottom: number): Axis {
  const count = s === SIZES.narrow ? 4 : 5;
  const y = scaleLinear().domain([0, max]).range([bottom, top]).nice(count);
  const ticks = y.ticks(count);
  const labels = ticks.map(y.tickFormat(count, ',f'));
  const left = Math.ceil(Math.max(...labels.map((l) => textWidth(l, s.font)))) + 10;
  const body = ticks
    .map(
      (t, i) =>
        `<line x1="${left}" x2="${s.W - 4}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#e2e8f0"/>` +
        `<text x="${left - 6}" y="${(y(t) + s.font * 0.35).toFixed(1)}" text-anchor="end" class="axis" font-size="${s.font}">${esc(labels[i])}</text>`,
    )
    .join('');
  return { body, left, y };
}

/**
 * Which category labels to draw, so that they do not overlap: every k-th day, or the hours whose
 * local hour is a multiple of k (1, 2, 3, 4, 6 or 12: 00:00, 06:00, 12:00 …, whatever the day's length).
 */
function shownLabels(labels: string[], plotW: number, font: number, hours?: number[]): Set<number> {
  const slot = plotW / Math.max(1, labels.length);
  const fits = (k: number, idx: number[]) => idx.every((i) => textWidth(labels[i] ?? '', font) + 8 <= slot * k);
  const all = labels.map((_, i) => i);
  if (hours) {
    for (const k of [1, 2, 3, 4, 6, 12]) {
      const idx = all.filter((i) => (hours[i] ?? 0) % k === 0);
      // a repeated hour (fall back) is two slots: it needs the room of the step around it
      if (idx.every((i, n) => n === 0 || i - (idx[n - 1] as number) >= k) && fits(k, idx)) return new Set(idx);
    }
    return new Set([0]);
  }
  for (let k = 1; k <= labels.length; k++) {
    const idx = all.filter((i) => i % k === 0);
    if (fits(k, idx)) return new Set(idx);
  }
  return new Set([0]);
}

interface Series {
  name: string;
  values: (number | null)[];
  color: string;
  dashed?: boolean;
}

/** Stacked vertical bars: one bar per period, one colour per series. */
function stackedBars(
  name: string,
  title: string,
  labels: string[],
  tips: string[],
  series: Series[],
  /** What a bar counts: [one, many] (`1 message`, `2 messages`). */
  unit: readonly [string, string],
  hours?: number[],
): string {
  const total = labels.map((_, i) => series.reduce((a, s) => a + (s.values[i] ?? 0), 0));
  const max = Math.max(0, ...total);
  if (labels.length === 0 || max === 0) return empty(name, title);
  return both((s, v) => {
    const top = s.font;
    const bottom = s.H - s.font - 12;
    const axis = valueAxis(max, s, top, bottom);
    const right = s.W - Math.ceil(textWidth(labels.at(-1) ?? '', s.font) / 2) - 2;
    const x = scaleBand<number>()
      .domain(labels.map((_, i) => i))
      .range([axis.left + Math.ceil(textWidth(labels[0] ?? '', s.font) / 2), right])
      .paddingInner(0.2)
      .paddingOuter(0.1);
    let body = axis.body;
    labels.forEach((_, i) => {
      let acc = 0;
      for (const se of series) {
        const val = se.values[i] ?? 0;
        if (val <= 0) continue;
        const y0 = axis.y(acc);
        acc += val;
        const y1 = axis.y(acc);
        body += `<rect x="${(x(i) ?? 0).toFixed(1)}" y="${y1.toFixed(1)}" width="${x.bandwidth().toFixed(1)}" height="${(y0 - y1).toFixed(1)}" fill="${se.color}"><title>${esc(tips[i])} · ${esc(se.name)}: ${fmt(val)} ${esc(val === 1 ? unit[0] : unit[1])}</title></rect>`;
      }
    });
    const shown = shownLabels(labels, right - axis.left, s.font, hours);
    labels.forEach((l, i) => {
      if (shown.has(i))
        body += `<text x="${((x(i) ?? 0) + x.bandwidth() / 2).toFixed(1)}" y="${s.H - 4}" text-anchor="middle" class="axis" font-size="${s.font}">${esc(l)}</text>`;
    });
    return svg(name, title, v, s.W, s.H, body);
  });
}

/** Lines over periods, one per series (null = a gap), each point with its value. */
function lines(
  name: string,
  title: string,
  labels: string[],
  tips: string[],
  series: Series[],
  format: (v: number) => string,
  hours?: number[],
): string {
  const max = Math.max(0, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null)));
  if (labels.length === 0 || max === 0) return empty(name, title);
  return both((s, v) => {
    const top = s.font;
    const bottom = s.H - s.font - 12;
    const axis = valueAxis(max, s, top, bottom);
    const left = axis.left + Math.ceil(textWidth(labels[0] ?? '', s.font) / 2) + 4;
    const right = s.W - Math.ceil(textWidth(labels.at(-1) ?? '', s.font) / 2) - 4;
    const x = scalePoint<number>()
      .domain(labels.map((_, i) => i))
      .range([left, right])
      .padding(labels.length === 1 ? 0.5 : 0);
    let body = axis.body;
    for (const se of series) {
      let d = '';
      let pen = false;
      se.values.forEach((val, i) => {
        if (val === null) {
          pen = false;
          return;
        }
        d += `${pen ? 'L' : 'M'}${(x(i) ?? 0).toFixed(1)},${axis.y(val).toFixed(1)}`;
        pen = true;
      });
      if (d) body += `<path d="${d}" fill="none" stroke="${se.color}" stroke-width="2"${se.dashed ? ' stroke-dasharray="5 4"' : ''}/>`;
      se.values.forEach((val, i) => {
        if (val !== null)
          body += `<circle cx="${(x(i) ?? 0).toFixed(1)}" cy="${axis.y(val).toFixed(1)}" r="${se.dashed ? 2 : 2.5}" fill="${se.color}"><title>${esc(tips[i])} · ${esc(se.name)}: ${esc(format(val))}</title></circle>`;
      });
    }
    const shown = shownLabels(labels, right - left + (right - left) / Math.max(1, labels.length - 1), s.font, hours);
    labels.forEach((l, i) => {
      if (shown.has(i))
        body += `<text x="${(x(i) ?? 0).toFixed(1)}" y="${s.H - 4}" text-anchor="middle" class="axis" font-size="${s.font}">${esc(l)}</text>`;
    });
    return svg(name, title, v, s.W, s.H, body);
  });
}

/** Horizontal bars, each with its label on the left and its value (and share) on the right. */
function hbars(name: string, title: string, items: { label: string; value: number; color: string; note?: string }[]): string {
  const max = Math.max(0, ...items.map((i) => i.value));
  if (items.length === 0 || max === 0) return empty(name, title);
  return both((s, v) => {
    const row = s.font * 2.2;
    const H = Math.ceil(items.length * row + 4);
    const maxLabel = Math.floor((s.W * 0.38) / (s.font * 0.66));
    const labels = items.map((it) => (it.label.length > maxLabel ? `${it.label.slice(0, maxLabel - 1)}…` : it.label));
    const values = items.map((it) => `${fmt(it.value)}${it.note ? ` (${it.note})` : ''}`);
    const left = Math.ceil(Math.max(...labels.map((l) => textWidth(l, s.font)))) + 8;
    const right = s.W - Math.ceil(Math.max(...values.map((l) => textWidth(l, s.font)))) - 8;
    const x = scaleLinear().domain([0, max]).range([left, right]);
    const body = items
      .map((it, i) => {
        const y = 2 + i * row;
        const w = x(it.value) - left;
        const mid = (y + row / 2 + s.font * 0.35).toFixed(1);
        return `<text x="${left - 6}" y="${mid}" text-anchor="end" class="label" font-size="${s.font}">${esc(labels[i])}</text><rect x="${left}" y="${(y + row * 0.15).toFixed(1)}" width="${w.toFixed(1)}" height="${(row * 0.7).toFixed(1)}" fill="${it.color}"><title>${esc(it.label)}: ${esc(values[i])}</title></rect><text x="${(left + w + 5).toFixed(1)}" y="${mid}" class="axis" font-size="${s.font}">${esc(values[i])}</text>`;
      })
      .join('');
    return svg(name, title, v, s.W, H, body);
  });
}

function legend(series: { name: string; color: string; dashed?: boolean }[]): string {
  return `<ul class="legend">${series
    .map((s) => `<li><i class="${s.dashed ? 'dash' : 'swatch'}" style="--c:${s.color}"></i>${esc(s.name)}</li>`)
    .join('')}</ul>`;
}

// ------------------------------------------------------------------ tables

interface Column {
  key: string;
  label: string;
  show: (v: Cell | undefined, row: Record<string, Cell>) => string;
  numeric?: boolean;
}
const col = (key: string, label: string, show: Column['show'] = (v) => fmt(v), numeric = true): Column => ({ key, label, show, numeric });
const text = (key: string, label: string, show: (v: Cell | undefined) => string = (v) => String(v ?? DASH)): Column => ({
  key,
  label,
  show,
  numeric: false,
});

/**
 * A table of the columns named (those whose every value is empty are left out). On a phone a table
 * of more than three columns becomes one card per row (each value with its heading), so nothing is
 * wider than the screen; a long one is folded (a click opens it).
 */
function table(rows: TableRows, caption: string, columns: Column[]): string {
  if (rows.length === 0) return `<p class="muted">${esc(caption)}: none in this period.</p>`;
  const cols = columns.filter((c) => rows.some((r) => r[c.key] !== null && r[c.key] !== undefined));
  const stack = cols.length > 3 ? ' class="stack"' : '';
  const head = cols.map((c) => `<th scope="col"${c.numeric ? ' class="n"' : ''}>${esc(c.label)}</th>`).join('');
  const body = rows
    .map(
      (r) =>
        `<tr>${cols
          .map(
            (c, i) =>
              `<${i === 0 ? 'th scope="row"' : 'td'} data-label="${esc(c.label)}"${c.numeric ? ' class="n"' : ''}>${esc(c.show(r[c.key], r))}</${i === 0 ? 'th' : 'td'}>`,
          )
          .join('')}</tr>`,
    )
    .join('');
  const t = `<table${stack}><caption>${esc(caption)}</caption><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
  return rows.length > 12 ? `<details><summary>${esc(caption)} (${rows.length} rows)</summary>${t}</details>` : t;
}

const CSS = `
:root{color-scheme:light;--fg:#0f172a;--muted:#64748b;--line:#e2e8f0}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:#fff}
main{max-width:980px;margin:0 auto;padding:16px}
h1{font-size:1.5rem;margin:0 0 4px}h2{font-size:1.15rem;margin:28px 0 8px;border-bottom:2px solid var(--line);padding-bottom:4px}
h3{font-size:.95rem;margin:12px 0 2px}
.muted{color:var(--muted)}.axis{fill:var(--muted)}.label{fill:var(--fg)}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(130px,1fr));gap:10px;margin:16px 0}
.kpi{border:1px solid var(--line);border-radius:8px;padding:10px}.kpi b{display:block;font-size:1.4rem}
.kpi span{display:block;font-size:.85rem}.kpi small{display:block;font-size:.75rem;color:var(--muted)}
svg{width:100%;height:auto;display:block;margin:4px 0}svg.narrow{display:none}
figure{margin:0;break-inside:avoid}figcaption{font-size:.85rem;color:var(--muted)}
.legend{list-style:none;margin:2px 0 6px;padding:0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:.85rem}
.legend li{display:flex;align-items:center;gap:6px}
.legend i{display:inline-block;width:12px;height:12px;background:var(--c)}.legend i.dash{width:18px;height:0;border-top:2px dashed var(--c);background:none}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin:8px 0}caption{text-align:left;color:var(--muted);padding:4px 0}
th,td{border-bottom:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}th{font-weight:600}tbody th{font-weight:500}
.n{text-align:right;font-variant-numeric:tabular-nums}
details{margin:8px 0}summary{cursor:pointer;color:#1d4ed8;font-size:.9rem}
.nps{font-size:2rem;font-weight:700}
@media (max-width:640px){
body{font-size:14px}main{padding:10px}h1{font-size:1.25rem}
svg.wide{display:none}svg.narrow{display:block}
table.stack thead{display:none}
table.stack tr{display:grid;grid-template-columns:1fr 1fr;gap:0 12px;border-bottom:1px solid var(--line);padding:6px 0}
table.stack th,table.stack td{display:flex;justify-content:space-between;gap:6px;border:0;padding:1px 0;text-align:left}
table.stack tbody th{grid-column:1/-1;font-weight:600}
table.stack td::before{content:attr(data-label);color:var(--muted)}
}
@media print{@page{size:A4;margin:14mm}main{max-width:none;padding:0}h2{break-after:avoid}section{break-inside:auto}}
`;

// ------------------------------------------------------------------ the page

export function reportHtml(report: Report): string {
  const s = report.sections;
  const tz = report.period.timeZone;
  const parts: string[] = [];
  const daily = report.type === 'daily';
  const unit = daily ? 'hour' : 'day';
  /** A period of a timeline: an hour (labelled with its offset) or a local date. */
  const periodName = (p: Cell | undefined) => (daily ? hourName(String(p), tz) : dayName(String(p)));
  const periodAxis = (ps: string[]) => (daily ? hourLabels(ps, tz) : ps.map((p) => dayName(p)));
  const hoursOf = (ps: string[]) => (daily ? ps.map((p) => Number(hourName(p, tz, false).slice(0, 2))) : undefined);
  const channels = [
    ...new Set(
      [
        ...(s.conversations?.byChannel ?? []),
        ...(s.responseTimes?.byChannel ?? []),
        ...(s.channelBreakdown?.channels ?? []),
        ...(s.satisfaction?.weeks ?? []),
      ].map((r) => String(r.channel)),
    ),
  ].sort();
  const channelColor = (c: Cell | undefined) => COLORS[Math.max(0, channels.indexOf(String(c))) % COLORS.length] as string;
  const sat = s.satisfaction?.distribution?.[0];
  const weeksName = (from: Cell | undefined, to: Cell | undefined) => {
    const last = addDays(String(to), -1);
    return addDays(String(from), 7) === String(to)
      ? `the week ${dayName(String(from))} to ${dayName(last, true)}`
      : `the weeks starting ${dayName(String(from))} to ${dayName(addDays(String(to), -7), true)}`;
  };

  const total = s.summary?.totals?.[0];
  if (total) {
    const kpi = (label: string, value: string, note = '') =>
      `<div class="kpi"><b>${esc(value)}</b><span>${esc(label)}</span>${note ? `<small>${esc(note)}</small>` : ''}</div>`;
    // one satisfaction figure on the page: the satisfaction section's (its ISO weeks), when the report has it
    const satisfaction = sat
      ? kpi(
          'guest satisfaction (1–5)',
          fixed(sat.avg_rating, 2),
          `${fmt(sat.responses_received)} ratings, ${weeksName(sat.weeks_from, sat.weeks_to)}`,
        )
      : kpi('guest satisfaction (1–5)', fixed(total.avg_satisfaction, 2));
    const avgMinutes = total.avg_response_time_minutes;
    parts.push(
      `<section><h2>Summary</h2><div class="kpis">${[
        kpi('conversations', fmt(total.conversations)),
        kpi('messages', fmt(total.messages)),
        kpi('tasks created', fmt(total.tasks)),
        kpi('resolved by the AI', pct(total.ai_resolution_rate), 'of resolved conversations'),
        satisfaction,
        kpi('average response time', seconds(isNum(avgMinutes) ? avgMinutes * 60_000 : null), 'every timed reply'),
      ].join('')}</div></section>`,
    );
  }

  if (s.conversations) {
    const tl = s.conversations.timeline ?? [];
    const periods = tl.map((r) => String(r.period));
    const series: Series[] = [
      { name: 'Received', values: tl.map((r) => num(r.messages_inbound)), color: COLORS[0] as string },
      { name: 'Sent', values: tl.map((r) => num(r.messages_outbound)), color: COLORS[1] as string },
    ];
    parts.push(
      `<section><h2>Conversations and messages</h2><figure><figcaption>Messages per ${unit} (${daily ? 'local time' : 'local days'}, ${esc(tz)})</figcaption>${legend(series)}${stackedBars(
        'messages',
        `Messages per ${unit}`,
        periodAxis(periods),
        periods.map((p) => periodName(p)),
        series,
        ['message', 'messages'],
        hoursOf(periods),
      )}</figure>${table(s.conversations.byChannel ?? [], 'Conversations by channel', [
        text('channel', 'Channel', channelName),
        col('started', 'Started'),
        col('resolved', 'Resolved'),
        col('escalated', 'Escalated to staff'),
        col('ai_handled', 'Resolved by the AI'),
        col('ai_escalated', 'Escalated after an AI reply'),
      ])}${table(tl, `Per ${unit} (${tz})`, [
        text('period', daily ? 'Hour' : 'Day', periodName),
        col('messages_inbound', 'Messages received'),
        col('messages_outbound', 'Messages sent'),
        col('started', 'Conversations started'),
        col('resolved', 'Resolved'),
        col('escalated', 'Escalated'),
      ])}</section>`,
    );
  }

  if (s.responseTimes) {
    const detail = s.responseTimes.detail ?? [];
    // the x axis is time: every hour (day) of the timeline, not only those with a reply
    const timed = [...new Set(detail.map((r) => String(r.period)))];
    const all = (s.conversations?.timeline ?? []).map((r) => String(r.period));
    const periods = timed.every((p) => all.includes(p)) && all.length > 0 ? all : timed;
    const chs = [...new Set(detail.map((r) => String(r.channel)))];
    const series: Series[] = chs.flatMap((ch) =>
      (['p50_ms', 'p95_ms'] as const).map((k) => ({
        name: `${channelName(ch)}, ${k === 'p50_ms' ? 'median' : '95th percentile'}`,
        color: channelColor(ch),
        dashed: k === 'p95_ms',
        values: periods.map((p) => {
          const v = detail.find((r) => r.period === p && r.channel === ch)?.[k];
          return isNum(v) ? v / 1000 : null;
        }),
      })),
    );
    const what = daily ? 'Time to each reply' : 'Time to the first reply of a conversation';
    parts.push(
      `<section><h2>Response times</h2><figure><figcaption>${what}, seconds, per ${unit} (${esc(tz)}): median (solid) and 95th percentile (dashed) per channel</figcaption>${legend(
        [
          ...chs.map((c) => ({ name: channelName(c), color: channelColor(c) })),
          { name: 'median', color: '#475569' },
          { name: '95th percentile', color: '#475569', dashed: true },
        ],
      )}${lines(
        'response-times',
        `${what} (seconds)`,
        periodAxis(periods),
        periods.map((p) => periodName(p)),
        series,
        (v) => `${fixed(v, 1)} s`,
        hoursOf(periods),
      )}</figure>${table(s.responseTimes.byChannel ?? [], 'Average by channel', [
        text('channel', 'Channel', channelName),
        col('responses', daily ? 'Replies timed' : 'First replies timed'),
        col('avg_ms', 'Average', seconds),
      ])}${table(detail, `Per ${unit} and channel (${tz})`, [
        text('period', daily ? 'Hour' : 'Day', periodName),
        text('channel', 'Channel', channelName),
        col('responses', 'Replies'),
        col('avg_ms', 'Average', seconds),
        col('p50_ms', 'Median', seconds),
        col('p95_ms', '95th percentile', seconds),
        col('p99_ms', '99th percentile', seconds),
      ])}</section>`,
    );
  }

  if (s.staffPerformance)
    parts.push(
      `<section><h2>Staff performance</h2>${table(s.staffPerformance.staff ?? [], 'Per staff member', [
        text('staff_id', 'Staff member', (v) => humanize(String(v ?? ''))),
        col('conversations_handled', 'Conversations'),
        col('tasks_completed', 'Tasks completed'),
        col('responses_timed', 'Replies timed'),
        col('avg_response_time_ms', 'Average reply', seconds),
        col('satisfaction_avg', 'Mean rating', (v) => fixed(v, 2)),
        col('satisfaction_count', 'Ratings'),
      ])}</section>`,
    );

  if (s.satisfaction) {
    const d = sat ?? {};
    const n = num(d.responses_received);
    const items = [5, 4, 3, 2, 1].map((i) => {
      const v = num(d[`rating_${i}`]);
      return {
        label: `${'★'.repeat(i)} ${i}`,
        value: v,
        color: RATING_COLORS[i - 1] as string,
        note: n > 0 ? `${((v * 100) / n).toFixed(0)} %` : '',
      };
    });
    const period = isNum(d.responses_received) || d.weeks_from ? weeksName(d.weeks_from, d.weeks_to) : '';
    parts.push(
      `<section><h2>Satisfaction</h2><p>${esc(period[0]?.toUpperCase() ?? '')}${esc(period.slice(1))}: NPS <span class="nps">${esc(fixed(d.nps_score, 1))}</span> · mean rating <b>${esc(fixed(d.avg_rating, 2))}</b> · ${esc(fmt(d.responses_received))} ratings from ${esc(fmt(d.surveys_sent))} surveys sent</p><figure><figcaption>Ratings, 5 (best) to 1, with their share</figcaption>${hbars('ratings', 'Rating distribution', items)}</figure>${table(
        s.satisfaction.weeks ?? [],
        'Per week and channel',
        [
          text('channel', 'Channel', channelName),
          text('week_start', 'Week of', (v) => dayName(String(v))),
          col('surveys_sent', 'Surveys sent'),
          col('responses_received', 'Ratings'),
          ...[5, 4, 3, 2, 1].map((i) => col(`rating_${i}`, `${i} ★`)),
          col('avg_rating', 'Mean rating', (v) => fixed(v, 2)),
          col('nps_score', 'NPS', (v) => fixed(v, 1)),
        ],
      )}<p class="muted">NPS here: the share of 5-star ratings minus the share of 1- to 3-star ratings, in points (−100 to 100).</p></section>`,
    );
  }

  if (s.topIntents) {
    const rows = s.topIntents.intents ?? [];
    const label = (v: Cell | undefined) => (String(v).startsWith('(unreadable') ? String(v) : humanize(String(v ?? '')));
    const top = rows.slice(0, 10).map((r) => ({ label: label(r.intent), value: num(r.count), color: COLORS[0] as string }));
    const rest = rows.slice(10).reduce((a, r) => a + num(r.count), 0);
    if (rest > 0) top.push({ label: `${rows.length - 10} others`, value: rest, color: '#94a3b8' });
    parts.push(
      `<section><h2>Top intents</h2><figure><figcaption>What guests asked for (classified messages)</figcaption>${hbars('intents', 'Top intents', top)}</figure>${table(
        rows,
        'All intents',
        [
          text('intent', 'Intent', label),
          col('count', 'Messages'),
          col('avg_confidence', 'Mean confidence', (v) => (isNum(v) ? `${(v * 100).toFixed(0)} %` : DASH)),
          col('action_taken', 'Action taken'),
          col('escalated', 'Escalated'),
        ],
      )}</section>`,
    );
  }

  if (s.channelBreakdown) {
    const rows = s.channelBreakdown.channels ?? [];
    const key = rows.some((r) => 'messages' in r) ? 'messages' : 'count';
    parts.push(
      `<section><h2>Channel mix</h2><figure><figcaption>Messages per channel, with their share</figcaption>${hbars(
        'channels',
        'Channel mix',
        rows.map((r) => ({
          label: channelName(r.channel),
          value: num(r[key]),
          color: channelColor(r.channel),
          note: isNum(r.share) ? `${(r.share * 100).toFixed(1)} %` : '',
        })),
      )}</figure>${table(rows, 'By channel', [
        text('channel', 'Channel', channelName),
        col('messages', 'Messages'),
        col('count', 'Messages'),
        col('conversations', 'Conversations started'),
        col('share', 'Share of messages', pct),
      ])}</section>`,
    );
  }

  const kind = `${report.type[0]?.toUpperCase()}${report.type.slice(1)} report`;
  const { start, end } = report.period;
  const last = addDays(end, -1);
  const span =
    report.type === 'daily'
      ? dayName(start, true)
      : report.type === 'monthly'
        ? new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', month: 'long', year: 'numeric' }).format(new Date(`${start}T12:00:00Z`))
        : `${dayName(start)} to ${dayName(last, true)}`;
  const title = `${kind} · ${report.propertyId} · ${span}`;
  const hours = daily ? (s.conversations?.timeline?.length ?? 24) : 24;
  const change = hours === 23 ? ' (23 hours: the clocks went forward)' : hours === 25 ? ' (25 hours: the clocks went back)' : '';
  const note =
    `${report.type === 'monthly' ? `${dayName(start, true)} to ${dayName(last, true)}. ` : ''}` +
    `${daily ? 'Hours' : 'Days'} in the hotel's time zone, ${tz}${change} · generated ${instantName(report.generatedAt, tz)}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body><main><header><h1>${esc(title)}</h1><p class="muted">${esc(note)}</p></header>
${parts.join('\n')}
</main></body></html>
`;
}
