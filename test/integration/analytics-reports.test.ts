import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { chromium } from 'playwright-core';
import { addDays, weekStart } from '../../lambdas/analytics-api/periods';
import { reportCsvZip } from '../../lambdas/analytics-api/report-csv';
import { reportHtml } from '../../lambdas/analytics-api/report-html';
import { generateReport, type Report } from '../../lambdas/analytics-api/reports';
import { localDate } from '../../lambdas/shared/time';
import { type AnalyticsFixture, avgRating, buildFixture, CHANNELS, insertFixture, nps } from '../support/analytics-fixture';
import { DRIVERS, type TestDb, testDb } from '../support/db';

const TZ = 'Europe/Madrid';
const NOW = new Date('2025-04-20T10:00:00Z');
/** UTF-8 without dropping the BOM (TextDecoder strips it by default). */
const utf8 = (bytes: Uint8Array) => new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => (xs.length ? sum(xs) / xs.length : null);

/** RFC 4180: quoted fields, doubled quotes, CRLF; the BOM is checked and removed by the caller. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (ch === '"') {
        quoted = false;
        i++;
      } else {
        field += ch;
        i++;
      }
    } else if (ch === '"' && field === '') {
      quoted = true;
      i++;
    } else if (ch === ',') {
      row.push(field);
      field = '';
      i++;
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += 2;
    } else if (ch === '\n' || ch === '\r') throw new Error(`bare line break at ${i}: not RFC 4180`);
    else {
      field += ch;
      i++;
    }
  }
  if (field !== '' || row.length > 0) throw new Error('the last line has no CRLF');
  return rows;
}

function inDays(f: AnalyticsFixture, from: string, to: string) {
  const day = (d: string) => d >= from && d < to;
  return {
    conversations: f.conversations.filter((r) => day(r.period_date)),
    staff: f.staff.filter((r) => day(r.period_date)),
    intents: f.intents.filter((r) => day(r.period_date)),
    messages: f.messages.filter((r) => day(localDate(new Date(r.period_start), TZ))),
    responses: f.responses.filter((r) => day(localDate(new Date(r.period_start), TZ))),
  };
}

describe.each(DRIVERS)('reports through the %s driver', (driver) => {
  let db: TestDb;
  let f: AnalyticsFixture;
  const deps = () => ({ sql: db.sql, timeZone: TZ, now: NOW });
  beforeAll(async () => {
    db = await testDb(driver);
    const opts = { hourFrom: '2025-03-24', hourTo: '2025-04-08', dayFrom: '2025-02-17', dayTo: '2025-04-14', timeZone: TZ };
    f = buildFixture('hotel-1', opts);
    await insertFixture(db.direct, f);
    await insertFixture(db.direct, buildFixture('hotel-2', { ...opts, seed: 9 }));
  });
  afterAll(() => db.close());

  it('weekly: every section equals the aggregates it reads, rates weighted (not averaged)', async () => {
    const start = '2025-03-24';
    const end = addDays(start, 7);
    const r = await generateReport(deps(), { type: 'weekly', propertyId: 'hotel-1', dateRange: { start, end } });
    const x = inDays(f, start, end);
    const started = sum(x.conversations.map((c) => c.started));
    expect(r.period).toEqual({ start, end, label: 'week of 2025-03-24', timeZone: TZ });
    const t = r.sections.summary?.totals?.[0];
    expect(t?.conversations).toBe(started);
    expect(t?.messages).toBe(sum(x.messages.map((m) => m.count)));
    // one definition per figure, whichever report shows it (SUMMARY_DEFINITIONS)
    expect(t?.tasks).toBe(sum(x.conversations.map((c) => c.tasksCreated)));
    expect(t?.ai_resolution_rate).toBeCloseTo(
      sum(x.conversations.map((c) => c.ai_handled)) / sum(x.conversations.map((c) => c.resolved)),
      12,
    );
    expect(t?.avg_satisfaction).toBeCloseTo(mean(x.conversations.flatMap((c) => c.ratings)) as number, 9);
    expect(t?.avg_response_time_minutes).toBeCloseTo((mean(x.responses.flatMap((c) => c.samples)) as number) / 60000, 9);
    // conversations by channel, and the daily timeline (7 days, continuous)
    for (const ch of CHANNELS) {
      const row = r.sections.conversations?.byChannel?.find((b) => b.channel === ch);
      expect(row?.started).toBe(sum(x.conversations.filter((c) => c.channel === ch).map((c) => c.started)));
      expect(row?.escalated).toBe(sum(x.conversations.filter((c) => c.channel === ch).map((c) => c.escalated)));
    }
    const tl = r.sections.conversations?.timeline ?? [];
    expect(tl.map((d) => d.period)).toEqual(Array.from({ length: 7 }, (_, i) => addDays(start, i)));
    for (const d of tl) {
      const day = inDays(f, String(d.period), addDays(String(d.period), 1));
      expect(d.messages_inbound).toBe(sum(day.messages.filter((m) => m.direction === 'inbound').map((m) => m.count)));
      expect(d.started).toBe(sum(day.conversations.map((c) => c.started)));
    }
    // staff: sums, and means equal to the mean of the raw samples
    for (const s of r.sections.staffPerformance?.staff ?? []) {
      const rows = x.staff.filter((y) => y.staff_id === s.staff_id);
      expect(s.conversations_handled).toBe(sum(rows.map((y) => y.handled)));
      expect(s.responses_timed).toBe(sum(rows.map((y) => y.responseTimes.length)));
      const m = mean(rows.flatMap((y) => y.responseTimes));
      if (m === null) expect(s.avg_response_time_ms).toBeNull();
      else expect(s.avg_response_time_ms).toBeCloseTo(m, 9);
    }
    // satisfaction: that week's rows, pooled
    const weeks = f.satisfaction.filter((w) => w.period_start === start);
    const pooled = [0, 1, 2, 3, 4].map((i) => sum(weeks.map((w) => w.ratings[i] as number)));
    const d = r.sections.satisfaction?.distribution?.[0];
    expect([d?.rating_1, d?.rating_2, d?.rating_3, d?.rating_4, d?.rating_5]).toEqual(pooled);
    expect(d?.avg_rating).toBeCloseTo(avgRating(pooled) as number, 9);
    expect(d?.nps_score).toBeCloseTo(nps(pooled) as number, 9);
    // intents: every one, sorted by count
    const intents = r.sections.topIntents?.intents ?? [];
    for (const i of intents) {
      const rows = x.intents.filter((y) => y.intent === i.intent);
      expect(i.count).toBe(sum(rows.map((y) => y.confidences.length + y.unscored)));
      expect(i.avg_confidence).toBeCloseTo(mean(rows.flatMap((y) => y.confidences)) as number, 9);
    }
    expect(intents.map((i) => i.count)).toEqual([...intents.map((i) => i.count)].sort((a, b) => Number(b) - Number(a)));
    // channel mix
    for (const c of r.sections.channelBreakdown?.channels ?? [])
      expect(c.messages).toBe(sum(x.messages.filter((m) => m.channel === c.channel).map((m) => m.count)));
  });

  it('daily: the hours of the day in the aggregation zone (23 on the spring-forward day), read from the hourly tables', async () => {
    const day = '2025-03-30';
    const r = await generateReport(deps(), { type: 'daily', propertyId: 'hotel-1', dateRange: { start: day } });
    const x = inDays(f, day, addDays(day, 1));
    const tl = r.sections.conversations?.timeline ?? [];
    expect(tl).toHaveLength(23);
    expect(sum(tl.map((h) => Number(h.messages_inbound)))).toBe(
      sum(x.messages.filter((m) => m.direction === 'inbound').map((m) => m.count)),
    );
    expect(r.sections.summary?.totals?.[0]?.conversations).toBe(sum(x.conversations.map((c) => c.started)));
    expect(r.sections.summary?.totals?.[0]?.source).not.toMatch(/monthly/); // the seed read the monthly table for every type
    const rt = r.sections.responseTimes?.byChannel ?? [];
    for (const c of rt) {
      const samples = x.responses.filter((y) => y.channel === c.channel).flatMap((y) => y.samples);
      expect(c.responses).toBe(samples.length);
      expect(c.avg_ms).toBeCloseTo(mean(samples) as number, 9);
    }
    // the satisfaction of a day is its ISO week's (weeks do not split into days)
    expect(r.sections.satisfaction?.distribution?.[0]?.weeks_from).toBe(weekStart(day));
  });

  it('monthly: the summary is the month row of agg_monthly_summary', async () => {
    const r = await generateReport(deps(), {
      type: 'monthly',
      propertyId: 'hotel-1',
      dateRange: { start: '2025-03-01', end: '2025-04-01' },
    });
    const m = f.monthly.find((y) => y.period_month === '2025-03');
    expect(r.sections.summary?.totals?.[0]).toMatchObject({ conversations: m?.conversations, messages: m?.messages, tasks: m?.tasks });
    expect(r.sections.topIntents?.intents?.map((i) => [i.intent, i.count])).toEqual(m?.topIntents.map((i) => [i.intent, i.count]));
    expect(Object.fromEntries((r.sections.channelBreakdown?.channels ?? []).map((c) => [c.channel, c.count]))).toEqual(m?.channels);
  });

  it('a 31-day month with the fall-back change (31 days and 1 hour) is one month, not too long a range', async () => {
    const r = await generateReport(deps(), { type: 'monthly', propertyId: 'hotel-1', dateRange: { start: '2025-10-01' } });
    expect(r.sections.conversations?.timeline).toHaveLength(31);
  });

  it('refuses a range that is not one period of its type, an unknown section, an unknown property', async () => {
    await expect(generateReport(deps(), { type: 'weekly', propertyId: 'hotel-1', dateRange: { start: '2025-03-25' } })).rejects.toThrow(
      'a weekly report starts on a Monday (ISO week): 2025-03-25 is not; try 2025-03-24',
    );
    await expect(
      generateReport(deps(), { type: 'monthly', propertyId: 'hotel-1', dateRange: { start: '2025-03-01', end: '2025-05-01' } }),
    ).rejects.toThrow('a monthly report covers one period: from 2025-03-01 to 2025-04-01 (exclusive), not to "2025-05-01"');
    await expect(
      generateReport(deps(), { type: 'daily', propertyId: 'hotel-1', dateRange: { start: '2025-03-01' }, sections: ['summary', 'x'] }),
    ).rejects.toThrow('unknown section "x"');
    await expect(generateReport(deps(), { type: 'daily', propertyId: 'nowhere', dateRange: { start: '2025-03-01' } })).rejects.toThrow(
      'unknown property',
    );
  });

  describe('formats', () => {
    let report: Report;
    beforeAll(async () => {
      report = await generateReport(deps(), { type: 'weekly', propertyId: 'hotel-1', dateRange: { start: '2025-03-24' } });
    });

    it('CSV: a zip of one RFC 4180 file per section table (BOM, CRLF), read back equal to the JSON', () => {
      const files = unzipSync(reportCsvZip(report));
      const expected: Record<string, Record<string, unknown>[]> = {};
      for (const [section, tables] of Object.entries(report.sections))
        for (const [t, rows] of Object.entries(tables ?? {})) expected[`${section}-${t}.csv`] = rows;
      expect(Object.keys(files).sort()).toEqual(Object.keys(expected).sort());
      for (const [name, bytes] of Object.entries(files)) {
        expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
        const text = utf8(bytes);
        expect(text.startsWith('\uFEFF')).toBe(true);
        const [header, ...body] = parseCsv(text.slice(1));
        const rows = expected[name] ?? [];
        expect(body).toHaveLength(rows.length);
        body.forEach((cells, i) => {
          const json = rows[i] ?? {};
          expect(Object.fromEntries((header ?? []).map((h, k) => [h, cells[k]]))).toEqual(
            Object.fromEntries(Object.keys(json).map((k) => [k, json[k] === null ? '' : String(json[k])])),
          );
        });
      }
    });

    it('CSV quoting: commas, quotes, line breaks and formula-like text survive a round trip', () => {
      const tricky: Report = {
        ...report,
        sections: {
          topIntents: {
            intents: [
              { intent: 'a, "b"\r\nc', count: 1 },
              { intent: '=HYPERLINK("x")', count: -2 },
            ],
          },
        },
      };
      const text = utf8(unzipSync(reportCsvZip(tricky))['topIntents-intents.csv'] as Uint8Array).slice(1);
      expect(parseCsv(text)).toEqual([
        ['intent', 'count'],
        ['a, "b"\r\nc', '1'],
        [`'=HYPERLINK("x")`, '-2'],
      ]);
    });

    it('HTML: headless Chromium renders every chart, with no console error and no request; screenshot saved', async () => {
      const html = reportHtml(report);
      const dir = mkdtempSync(join(tmpdir(), 'dlc-report-'));
      const file = join(dir, 'report.html');
      writeFileSync(file, html);
      const context = await chromium.launchPersistentContext(join(dir, 'profile'), {
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
      try {
        const page = await context.newPage();
        const problems: string[] = [];
        const requests: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
        });
        page.on('pageerror', (e) => problems.push(e.message));
        page.on('request', (r) => requests.push(r.url()));
        await page.setViewportSize({ width: 1000, height: 800 });
        await page.goto(`file://${file}`, { waitUntil: 'load' });
        // each chart is drawn twice (desktop and phone), one shown at a time
        const drawn = await page.$$eval('svg[data-chart]', (svgs) =>
          svgs.map((s) => ({
            name: s.getAttribute('data-chart'),
            shapes: s.querySelectorAll('rect, path, circle').length,
            width: s.getBoundingClientRect().width,
            height: s.getBoundingClientRect().height,
            empty: (s.textContent ?? '').includes('no data'),
          })),
        );
        const charts = drawn.filter((c) => c.width > 0);
        expect(charts.map((c) => c.name)).toEqual(['messages', 'response-times', 'ratings', 'intents', 'channels']);
        for (const c of charts) {
          expect(c.empty).toBe(false);
          expect(c.shapes).toBeGreaterThanOrEqual(3);
          expect(c.width).toBeGreaterThan(300);
          expect(c.height).toBeGreaterThan(50);
        }
        expect(problems).toEqual([]);
        expect(requests).toEqual([`file://${file}`]); // the page itself, nothing else
        // the screenshots docs/architecture.md shows are rewritten only when asked (DLC_REPORT_DOCS=1): a test run leaves the checkout as it was
        const shots =
          process.env.DLC_REPORT_DOCS === '1' ? join(__dirname, '../../docs') : mkdtempSync(join(tmpdir(), 'dlc-report-shots-'));
        mkdirSync(shots, { recursive: true });
        await page.screenshot({ path: join(shots, 'report-screenshot.png'), fullPage: true });
        // a phone: nothing wider than the screen except inside the scrolling tables
        await page.setViewportSize({ width: 375, height: 740 });
        const overflow = await page.evaluate(
          () => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth,
        );
        expect(overflow).toBeLessThanOrEqual(375);
        await page.screenshot({ path: join(shots, 'report-screenshot-phone.png') });
        // printed
        const pdf = await page.pdf({ format: 'A4' });
        expect(pdf.subarray(0, 4).toString()).toBe('%PDF');
        expect(pdf.length).toBeGreaterThan(10_000);
      } finally {
        await context.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
