/**
 * The HTML report: one self-contained page (inline CSS and SVG, no script, no font, no image, no
 * request of any kind), readable on a phone (fluid SVG, tables scroll sideways) and printed (A4,
 * charts kept whole). Five charts: messages per hour/day, response-time percentiles, rating
 * distribution with NPS, top intents, channel mix.
 */
import type { Cell, Report, TableRows } from './reports';

const esc = (s: unknown) =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

const COLORS = ['#2563eb', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#0ea5e9', '#84cc16', '#f97316'];
const fmt = (v: Cell, digits = 1): string => {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v;
  return Number.isInteger(v) ? v.toLocaleString('en-US') : v.toLocaleString('en-US', { maximumFractionDigits: digits });
};
const pct = (v: Cell) => (typeof v === 'number' ? `${(v * 100).toFixed(1)} %` : '—');
const num = (v: Cell) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

function svg(name: string, title: string, width: number, height: number, body: string): string {
  return `<svg data-chart="${esc(name)}" role="img" aria-label="${esc(title)}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet"><title>${esc(title)}</title>${body}</svg>`;
}

function empty(name: string, title: string): string {
  return svg(
    name,
    title,
    640,
    80,
    `<rect x="0" y="0" width="640" height="80" fill="#f8fafc"/><text x="320" y="45" text-anchor="middle" class="muted">no data for this period</text>`,
  );
}

/** Stacked vertical bars: one bar per period, one colour per series. */
function stackedBars(name: string, title: string, labels: string[], series: { name: string; values: number[] }[]): string {
  const total = labels.map((_, i) => series.reduce((a, s) => a + (s.values[i] ?? 0), 0));
  const max = Math.max(0, ...total);
  if (labels.length === 0 || max === 0) return empty(name, title);
  const W = 640;
  const H = 260;
  const left = 44;
  const bottom = 36;
  const plotW = W - left - 8;
  const plotH = H - bottom - 24;
  const bw = plotW / labels.length;
  let body = '';
  for (let t = 0; t <= 4; t++) {
    const y = 8 + plotH - (plotH * t) / 4;
    body += `<line x1="${left}" x2="${W - 8}" y1="${y}" y2="${y}" stroke="#e2e8f0"/><text x="${left - 4}" y="${y + 4}" text-anchor="end" class="axis">${fmt(Math.round((max * t) / 4))}</text>`;
  }
  labels.forEach((label, i) => {
    let y = 8 + plotH;
    series.forEach((s, k) => {
      const h = ((s.values[i] ?? 0) / max) * plotH;
      y -= h;
      if (h > 0)
        body += `<rect x="${(left + i * bw + bw * 0.1).toFixed(1)}" y="${y.toFixed(1)}" width="${(bw * 0.8).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[k % COLORS.length]}"><title>${esc(label)} ${esc(s.name)}: ${fmt(s.values[i] ?? 0)}</title></rect>`;
    });
    const every = Math.ceil(labels.length / 12);
    if (i % every === 0)
      body += `<text x="${(left + i * bw + bw / 2).toFixed(1)}" y="${H - bottom + 16}" text-anchor="middle" class="axis">${esc(label)}</text>`;
  });
  body += legend(
    series.map((s) => s.name),
    H - 8,
  );
  return svg(name, title, W, H, body);
}

function legend(names: string[], y: number): string {
  return names
    .map(
      (n, k) =>
        `<rect x="${8 + k * 150}" y="${y - 9}" width="10" height="10" fill="${COLORS[k % COLORS.length]}"/><text x="${22 + k * 150}" y="${y}" class="axis">${esc(n)}</text>`,
    )
    .join('');
}

/** Lines over periods: one per series (null = gap). */
function lines(name: string, title: string, labels: string[], series: { name: string; values: (number | null)[] }[]): string {
  const max = Math.max(0, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null)));
  if (labels.length === 0 || max === 0) return empty(name, title);
  const W = 640;
  const H = 260;
  const left = 54;
  const plotW = W - left - 8;
  const plotH = H - 36 - 24;
  const x = (i: number) => left + (labels.length === 1 ? plotW / 2 : (i * plotW) / (labels.length - 1));
  const y = (v: number) => 8 + plotH - (v / max) * plotH;
  let body = '';
  for (let t = 0; t <= 4; t++)
    body += `<line x1="${left}" x2="${W - 8}" y1="${y((max * t) / 4)}" y2="${y((max * t) / 4)}" stroke="#e2e8f0"/><text x="${left - 4}" y="${y((max * t) / 4) + 4}" text-anchor="end" class="axis">${fmt(Math.round((max * t) / 4))}</text>`;
  series.forEach((s, k) => {
    let d = '';
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    if (d) body += `<path d="${d}" fill="none" stroke="${COLORS[k % COLORS.length]}" stroke-width="2"/>`;
    s.values.forEach((v, i) => {
      if (v !== null)
        body += `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5" fill="${COLORS[k % COLORS.length]}"><title>${esc(labels[i])} ${esc(s.name)}: ${fmt(v)}</title></circle>`;
    });
  });
  const every = Math.ceil(labels.length / 8);
  labels.forEach((l, i) => {
    if (i % every === 0) body += `<text x="${x(i).toFixed(1)}" y="${H - 20}" text-anchor="middle" class="axis">${esc(l)}</text>`;
  });
  body += legend(
    series.map((s) => s.name),
    H - 4,
  );
  return svg(name, title, W, H, body);
}

/** Horizontal bars with their values. */
function hbars(name: string, title: string, items: { label: string; value: number }[], colorByIndex = false): string {
  const max = Math.max(0, ...items.map((i) => i.value));
  if (items.length === 0 || max === 0) return empty(name, title);
  const W = 640;
  const row = 26;
  const H = items.length * row + 8;
  const left = 150;
  const plotW = W - left - 70;
  const body = items
    .map((it, i) => {
      const w = (it.value / max) * plotW;
      const y = 4 + i * row;
      return `<text x="${left - 6}" y="${y + 16}" text-anchor="end" class="axis">${esc(it.label.length > 22 ? `${it.label.slice(0, 21)}…` : it.label)}</text><rect x="${left}" y="${y + 3}" width="${w.toFixed(1)}" height="${row - 8}" fill="${COLORS[colorByIndex ? i % COLORS.length : 0]}"><title>${esc(it.label)}: ${fmt(it.value)}</title></rect><text x="${(left + w + 6).toFixed(1)}" y="${y + 16}" class="axis">${fmt(it.value)}</text>`;
    })
    .join('');
  return svg(name, title, W, H, body);
}

/**
 * Axis labels of hours (`HH:MM`, from periods labelled with their offset): an hour a fall-back
 * change repeats keeps its offset (`02:00+02:00`, `02:00+01:00`), so the two are told apart.
 */
function hourLabels(periods: readonly string[]): string[] {
  const hm = periods.map((p) => p.slice(11, 16));
  return hm.map((l, i) => (hm.indexOf(l) === hm.lastIndexOf(l) ? l : `${l}${periods[i]?.slice(19) ?? ''}`));
}

function table(rows: TableRows, caption: string): string {
  if (rows.length === 0) return `<p class="muted">${esc(caption)}: no rows.</p>`;
  const cols: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  const head = cols.map((c) => `<th scope="col">${esc(c.replace(/_/g, ' '))}</th>`).join('');
  const body = rows
    .map(
      (r) => `<tr>${cols.map((c) => `<td${typeof r[c] === 'number' ? ' class="n"' : ''}>${esc(fmt(r[c] ?? null, 3))}</td>`).join('')}</tr>`,
    )
    .join('');
  return `<div class="scroll"><table><caption>${esc(caption)}</caption><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

const CSS = `
:root{color-scheme:light;--fg:#0f172a;--muted:#64748b;--line:#e2e8f0}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:#fff}
main{max-width:980px;margin:0 auto;padding:16px}
h1{font-size:1.5rem;margin:0 0 4px}h2{font-size:1.15rem;margin:28px 0 8px;border-bottom:2px solid var(--line);padding-bottom:4px}
.muted,.axis{color:var(--muted);fill:var(--muted)}.axis{font-size:11px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:10px;margin:16px 0}
.kpi{border:1px solid var(--line);border-radius:8px;padding:10px}.kpi b{display:block;font-size:1.4rem}
.kpi span{font-size:.8rem;color:var(--muted)}
svg{width:100%;height:auto;display:block;margin:8px 0}
figure{margin:0;break-inside:avoid}figcaption{font-size:.85rem;color:var(--muted)}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin:8px 0}caption{text-align:left;color:var(--muted);padding:4px 0}
th,td{border-bottom:1px solid var(--line);padding:4px 6px;text-align:left;white-space:nowrap}td.n{text-align:right;font-variant-numeric:tabular-nums}
.nps{font-size:2rem;font-weight:700}
@media (max-width:600px){body{font-size:14px}main{padding:10px}h1{font-size:1.25rem}}
@media print{@page{size:A4;margin:14mm}main{max-width:none;padding:0}h2{break-after:avoid}section{break-inside:auto}.scroll{overflow:visible}th,td{white-space:normal}}
`;

export function reportHtml(report: Report): string {
  const s = report.sections;
  const parts: string[] = [];
  const total = s.summary?.totals?.[0];
  if (total) {
    const kpi = (label: string, value: string) => `<div class="kpi"><b>${esc(value)}</b><span>${esc(label)}</span></div>`;
    parts.push(
      `<section><h2>Summary</h2><div class="kpis">${[
        kpi('conversations', fmt(total.conversations ?? null)),
        kpi('messages', fmt(total.messages ?? null)),
        kpi('tasks', fmt(total.tasks ?? null)),
        kpi('AI resolution rate', pct(total.ai_resolution_rate ?? null)),
        kpi('avg satisfaction (1–5)', fmt(total.avg_satisfaction ?? null, 2)),
        kpi('avg response (min)', fmt(total.avg_response_time_minutes ?? null, 2)),
      ].join('')}</div><p class="muted">Source: ${esc(total.source)}</p></section>`,
    );
  }
  if (s.conversations) {
    const tl = s.conversations.timeline ?? [];
    const unit = report.type === 'daily' ? 'hour' : 'day';
    const periods = tl.map((r) => String(r.period));
    const labels = unit === 'hour' ? hourLabels(periods) : periods.map((p) => p.slice(5));
    parts.push(
      `<section><h2>Conversations and messages</h2><figure>${stackedBars('messages', `Messages per ${unit}`, labels, [
        { name: 'inbound', values: tl.map((r) => num(r.messages_inbound ?? null)) },
        { name: 'outbound', values: tl.map((r) => num(r.messages_outbound ?? null)) },
      ])}<figcaption>Messages per ${unit} (${esc(report.period.timeZone)})</figcaption></figure>${table(s.conversations.byChannel ?? [], 'Conversations by channel')}${table(tl, `Per ${unit}`)}</section>`,
    );
  }
  if (s.responseTimes) {
    const detail = s.responseTimes.detail ?? [];
    const periods = [...new Set(detail.map((r) => String(r.period)))];
    const channels = [...new Set(detail.map((r) => String(r.channel)))];
    const series = channels.flatMap((ch) =>
      (['p50_ms', 'p95_ms'] as const).map((k) => ({
        name: `${ch} ${k.replace('_ms', '')}`,
        values: periods.map((p) => {
          const row = detail.find((r) => r.period === p && r.channel === ch);
          const v = row?.[k];
          return typeof v === 'number' ? v : null;
        }),
      })),
    );
    const labels = report.type === 'daily' ? hourLabels(periods) : periods.map((p) => p.slice(5));
    parts.push(
      `<section><h2>Response times</h2><figure>${lines('response-times', 'Response-time percentiles (ms)', labels, series)}<figcaption>${report.type === 'daily' ? 'Response time per hour' : 'First response per day'}: median (p50) and 95th percentile per channel, ms</figcaption></figure>${table(s.responseTimes.byChannel ?? [], 'Mean by channel (weighted by responses)')}${table(detail, 'Detail')}</section>`,
    );
  }
  if (s.staffPerformance)
    parts.push(`<section><h2>Staff performance</h2>${table(s.staffPerformance.staff ?? [], 'Per staff member')}</section>`);
  if (s.satisfaction) {
    const d = s.satisfaction.distribution?.[0] ?? {};
    const items = [1, 2, 3, 4, 5].map((i) => ({ label: `${'★'.repeat(i)} ${i}`, value: num(d[`rating_${i}`] ?? null) }));
    parts.push(
      `<section><h2>Satisfaction</h2><p>NPS <span class="nps">${esc(fmt(d.nps_score ?? null, 1))}</span> · mean rating ${esc(fmt(d.avg_rating ?? null, 2))} · ${esc(fmt(d.responses_received ?? null))} responses to ${esc(fmt(d.surveys_sent ?? null))} surveys</p><figure>${hbars('ratings', 'Rating distribution', items, true)}<figcaption>Ratings, weeks starting ${esc(d.weeks_from)} to before ${esc(d.weeks_to)}</figcaption></figure>${table(s.satisfaction.weeks ?? [], 'Per week and channel')}</section>`,
    );
  }
  if (s.topIntents) {
    const rows = s.topIntents.intents ?? [];
    const top = rows.slice(0, 10).map((r) => ({ label: String(r.intent), value: num(r.count ?? null) }));
    const rest = rows.slice(10).reduce((a, r) => a + num(r.count ?? null), 0);
    if (rest > 0) top.push({ label: `${rows.length - 10} others`, value: rest });
    parts.push(
      `<section><h2>Top intents</h2><figure>${hbars('intents', 'Top intents', top)}</figure>${table(rows, 'All intents')}</section>`,
    );
  }
  if (s.channelBreakdown) {
    const rows = s.channelBreakdown.channels ?? [];
    const key = rows.some((r) => 'messages' in r) ? 'messages' : 'count';
    parts.push(
      `<section><h2>Channel mix</h2><figure>${hbars(
        'channels',
        `Channel mix (${key})`,
        rows.map((r) => ({ label: String(r.channel), value: num(r[key] ?? null) })),
        true,
      )}</figure>${table(rows, 'By channel')}</section>`,
    );
  }
  const title = `${report.type[0]?.toUpperCase()}${report.type.slice(1)} report · ${report.propertyId} · ${report.period.label}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body><main><header><h1>${esc(title)}</h1><p class="muted">${esc(report.period.start)} to ${esc(report.period.end)} (exclusive), ${esc(report.period.timeZone)} · generated ${esc(report.generatedAt)}</p></header>
${parts.join('\n')}
</main></body></html>
`;
}
