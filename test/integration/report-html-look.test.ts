/**
 * Issue 22, item 11: the HTML report as a hotel manager sees it. Real reports over real PostgreSQL
 * rows (the report tests' fixture, plus a fall-back day and an intent key with an underscore), opened
 * in headless Chromium at a phone's width (375 px) and a desktop's (1280 px). At both widths:
 * nothing scrolls sideways (the page, nor any box in it) and nothing is wider than the screen; every
 * SVG text lies inside its SVG (no clipped legend or axis label); every value axis has round ticks
 * (d3's 1/2/5 × 10^k steps); no internal name (snake_case, "(exclusive)", ISO timestamps, bare
 * fractions for percentages, milliseconds next to minutes); the summary's satisfaction is the
 * figure the satisfaction section shows. The screenshots are saved (folder printed) to be looked at.
 */
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { reportHtml } from '../../lambdas/analytics-api/report-html';
import { generateReport, type Report } from '../../lambdas/analytics-api/reports';
import { buildFixture, insertFixture } from '../support/analytics-fixture';
import { type TestDb, testDb } from '../support/db';

const TZ = 'Europe/Madrid';
const NOW = new Date('2025-11-20T10:00:00Z');
const WIDTHS = [375, 1280] as const;
/** Set DLC_REPORT_DOCS=1 to copy the weekly screenshots to docs/img/ (the ones docs/operate.md shows). */
const DOCS = process.env.DLC_REPORT_DOCS === '1';

interface Look {
  scroll: { scrollWidth: number; clientWidth: number };
  /** Boxes that scroll sideways or reach past the right edge of the screen. */
  wide: string[];
  /** SVG texts not inside their SVG's box. */
  clipped: string[];
  /** Per chart with grid lines: the numbers of the labels at the left end of each grid line. */
  ticks: { chart: string; values: number[]; texts: string[] }[];
  text: string;
  kpiSatisfaction: string | null;
}

/** Runs in the page: what the assertions look at. */
function look(): Look {
  // biome-ignore lint/suspicious/noExplicitAny: the page's DOM (the test is compiled without the DOM lib)
  const doc = (globalThis as any).document;
  // biome-ignore lint/suspicious/noExplicitAny: idem
  const win = globalThis as any;
  const vw = doc.documentElement.clientWidth;
  const wide: string[] = [];
  const name = (el: { tagName: string; className?: unknown; textContent: string | null }) =>
    `${el.tagName.toLowerCase()}${typeof el.className === 'string' && el.className ? `.${el.className}` : ''} "${(el.textContent ?? '').trim().slice(0, 40)}"`;
  const flagged = new Set<unknown>(); // the outermost box of each problem is named, not its contents
  for (const el of doc.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    let up = el.parentElement;
    while (up && !flagged.has(up)) up = up.parentElement;
    if (up) continue;
    const ox = win.getComputedStyle(el).overflowX;
    const problem =
      (ox === 'auto' || ox === 'scroll' || ox === 'hidden') && el.scrollWidth > el.clientWidth + 1
        ? `scrolls sideways: ${el.scrollWidth} > ${el.clientWidth}`
        : r.right > vw + 0.5 && !el.closest('svg')
          ? `reaches ${Math.round(r.right)} > ${vw}`
          : null;
    if (problem) {
      flagged.add(el);
      wide.push(`${name(el)} ${problem}`);
    }
  }
  const clipped: string[] = [];
  const ticks: Look['ticks'] = [];
  for (const svg of doc.querySelectorAll('svg')) {
    const box = svg.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue; // not shown at this width
    for (const t of svg.querySelectorAll('text')) {
      const r = t.getBoundingClientRect();
      if (r.width === 0) continue;
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5)
        clipped.push(
          `${svg.getAttribute('data-chart')}: "${t.textContent}" at ${Math.round(r.left - box.left)}..${Math.round(r.right - box.left)} × ` +
            `${Math.round(r.top - box.top)}..${Math.round(r.bottom - box.top)} in ${Math.round(box.width)} × ${Math.round(box.height)}`,
        );
    }
    // value-axis labels: the texts at the left end of a horizontal grid line, level with it
    const grid = [...svg.querySelectorAll('line')]
      .map((l) => l.getBoundingClientRect())
      .filter((r) => r.height < 1.5 && r.width > box.width / 3);
    if (grid.length === 0) continue;
    const found: { y: number; text: string }[] = [];
    for (const t of svg.querySelectorAll('text')) {
      const r = t.getBoundingClientRect();
      const cy = (r.top + r.bottom) / 2;
      if (grid.some((g) => r.right <= g.left + 2 && Math.abs(cy - g.top) < r.height / 2 + 2))
        found.push({ y: cy, text: (t.textContent ?? '').trim() });
    }
    found.sort((a, b) => b.y - a.y);
    ticks.push({
      chart: String(svg.getAttribute('data-chart')),
      texts: found.map((f) => f.text),
      values: found.map((f) => Number(f.text.replace(/[,\s\u202f]/g, '').replace(/[^\d.-].*$/, ''))),
    });
  }
  const kpi = [...doc.querySelectorAll('.kpi')].find((k) => /satisfaction|rating/i.test(k.textContent ?? ''));
  // every text the page holds (SVG titles, folded tables), one node a line
  const walker = doc.createTreeWalker(doc.documentElement, 4 /* NodeFilter.SHOW_TEXT */);
  const texts: string[] = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) if (n.parentElement?.tagName !== 'STYLE') texts.push(n.textContent);
  return {
    scroll: { scrollWidth: doc.scrollingElement.scrollWidth, clientWidth: doc.scrollingElement.clientWidth },
    wide,
    clipped,
    ticks,
    text: [...texts, ...[...doc.querySelectorAll('[aria-label]')].map((e) => e.getAttribute('aria-label'))].join('\n'),
    kpiSatisfaction: kpi ? (kpi.querySelector('b')?.textContent ?? null) : null,
  };
}

/** d3's ticks: evenly spaced by 1, 2 or 5 × 10^k, each a multiple of the step. */
function niceProblem(values: number[]): string | null {
  if (values.length < 2) return `${values.length} tick(s)`;
  if (values.some((v) => !Number.isFinite(v))) return 'a tick that is not a number';
  const step = (values[1] as number) - (values[0] as number);
  const k = Math.floor(Math.log10(step));
  const m = step / 10 ** k;
  if (![1, 2, 5].some((x) => Math.abs(m - x) < 1e-9)) return `step ${step} is not 1, 2 or 5 × 10^k`;
  for (let i = 1; i < values.length; i++)
    if (Math.abs((values[i] as number) - (values[i - 1] as number) - step) > step * 1e-9) return `uneven steps (${values.join(', ')})`;
  if (values.some((v) => Math.abs(v / step - Math.round(v / step)) > 1e-9)) return 'a tick that is not a multiple of the step';
  return null;
}

/** What a manager must not read. */
const INTERNAL: [string, RegExp][] = [
  ['a snake_case identifier', /\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b/],
  ['"(exclusive)"', /\(exclusive\)/],
  ['an ISO timestamp', /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/],
  ['a share as a bare fraction', /(?<![\d.])0\.\d{3,}/],
  ['milliseconds', /\bms\b|\bmilliseconds?\b/i],
  ['a response time in minutes', /response[^.\n]{0,30}\(min\)/i],
];

describe('the HTML report as a manager sees it (headless Chromium, 375 px and 1280 px)', () => {
  let db: TestDb;
  let context: BrowserContext;
  let page: Page;
  const out = mkdtempSync(join(tmpdir(), 'dlc-report-look-'));
  const report = (type: string, propertyId: string, start: string): Promise<Report> =>
    generateReport({ sql: db.sql, timeZone: TZ, now: NOW }, { type, propertyId, dateRange: { start } });

  beforeAll(async () => {
    db = await testDb('pg');
    const opts = { hourFrom: '2025-03-24', hourTo: '2025-04-08', dayFrom: '2025-02-17', dayTo: '2025-04-14', timeZone: TZ };
    await insertFixture(db.direct, buildFixture('hotel-1', opts));
    // the fall-back change (two 02:00 hours) and a month
    const oct = { hourFrom: '2025-10-20', hourTo: '2025-10-28', dayFrom: '2025-09-29', dayTo: '2025-11-03', timeZone: TZ, seed: 5 };
    await insertFixture(db.direct, buildFixture('hotel-2', oct));
    // an intent key as the classifier names it
    await db.direct.execute(
      `INSERT INTO agg_intent_distribution_daily (period_date, property_id, intent, count, confidence_count, avg_confidence, action_taken_count, escalated_count)
       VALUES ('2025-03-25', 'hotel-1', 'late_checkout', 7, 7, 0.81, 3, 1), ('2025-10-26', 'hotel-2', 'late_checkout', 4, 4, 0.7, 1, 0)`,
    );
    context = await chromium.launchPersistentContext(join(out, 'profile'), {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await context.newPage();
    console.log(`report screenshots: ${out}`);
  });
  afterAll(async () => {
    await context?.close();
    await db?.close();
  });

  it.each([
    ['weekly', 'hotel-1', '2025-03-24'],
    ['daily', 'hotel-1', '2025-03-29'], // a day without a rating in a week with many
    ['daily', 'hotel-1', '2025-03-30'], // spring forward: 23 hours
    ['daily', 'hotel-2', '2025-10-26'], // fall back: 25 hours, 02:00 twice
    ['monthly', 'hotel-1', '2025-03-01'],
    ['monthly', 'hotel-2', '2025-10-01'],
  ])('%s %s %s', async (type, property, start) => {
    const r = await report(type, property, start);
    const file = join(out, `${type}-${property}-${start}.html`);
    writeFileSync(file, reportHtml(r));
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      await page.goto(`file://${file}`, { waitUntil: 'load' });
      const shot = join(out, `${type}-${property}-${start}-${width}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      if (DOCS && type === 'weekly') {
        mkdirSync(join(__dirname, '../../docs/img'), { recursive: true });
        copyFileSync(shot, join(__dirname, `../../docs/img/report-${width < 600 ? 'phone' : 'desktop'}.png`));
      }
      const l = await page.evaluate(look);
      const section = l.text.match(/mean rating\s*([\d.]+|—)/)?.[1] ?? null;
      // every problem at once (each list empty, each figure as expected), so one run shows them all
      expect({
        at: `${type} ${start} at ${width} px`,
        scrollWidth: l.scroll.scrollWidth <= l.scroll.clientWidth ? 'fits' : `${l.scroll.scrollWidth} > ${l.scroll.clientWidth}`,
        wide: l.wide,
        clipped: l.clipped,
        axes: l.ticks.map((t) => t.chart).sort(),
        notNice: l.ticks.flatMap((t) => {
          const plain = t.texts.filter((x) => !/^-?\d{1,3}(,\d{3})*(\.\d+)?$/.test(x)); // 13,750 or 0.5, not 6e+2
          const problem = plain.length > 0 ? `not plain numbers: ${plain.join(', ')}` : niceProblem(t.values);
          return problem ? [`${t.chart}: ${problem} (${t.texts.join(' | ')})`] : [];
        }),
        internal: INTERNAL.flatMap(([what, re]) => {
          const m = l.text.match(re);
          return m ? [`${what}: ${JSON.stringify(l.text.slice(Math.max(0, (m.index ?? 0) - 30), (m.index ?? 0) + m[0].length + 30))}`] : [];
        }),
        zoneNamed: l.text.includes('Europe/Madrid'),
        // one satisfaction figure: the summary shows the mean rating the satisfaction section shows
        satisfaction: { summary: l.kpiSatisfaction, section },
      }).toEqual({
        at: `${type} ${start} at ${width} px`,
        scrollWidth: 'fits',
        wide: [],
        clipped: [],
        axes: ['messages', 'response-times'],
        notNice: [],
        internal: [],
        zoneNamed: true,
        satisfaction: { summary: section, section: expect.stringMatching(/^\d/) },
      });
    }
    if (type === 'daily' && start === '2025-10-26') {
      // the two 02:00 hours are told apart wherever an hour is named
      expect(reportHtml(r)).toMatch(/02:00[^<]*(\+02:00|CEST)/);
      expect(reportHtml(r)).toMatch(/02:00[^<]*(\+01:00|CET\b)/);
    }
  });
});
