/**
 * Issue 23: strict dates and times (defects 5 and 9) and ordinary text in metadata (defect 8), as the
 * event validation, the API and the CLI read them (lambdas/aggregate/calendar.ts, lambdas/ingest/event.ts).
 */
import { parseInstantIn, parseIsoInstant, parseZonedDateTime } from '../../lambdas/aggregate/calendar';
import { parseLocal } from '../../lambdas/aggregate/periods';
import { validateEvent } from '../../lambdas/ingest/event';

const NOW = new Date('2025-10-21T10:00:00Z');
const event = (extra: Record<string, unknown>) => ({
  id: 'e1',
  eventType: 'message.received',
  timestamp: '2025-10-21T09:00:00Z',
  propertyId: 'hotel-a',
  ...extra,
});
const ok = (r: ReturnType<typeof parseIsoInstant>) => (r.ok ? r.at.toISOString() : `refused: ${r.reason}`);

describe('ISO instants are checked against the calendar (defect 5)', () => {
  it.each([
    ['2025-09-31T10:00+02:00', /September 2025 has 30 days/],
    ['2025-02-29T00:00:00Z', /February 2025 has 28 days/],
    ['2025-02-30T10:00:00Z', /February 2025 has 28 days/],
    ['2025-13-01T00:00:00Z', /there is no month 13/],
    ['2025-10-21T24:00:00Z', /hours go from 00 to 23/],
    ['2025-10-21T10:60:00Z', /minutes go from 00 to 59/],
    ['2025-10-21T10:00:60Z', /seconds go from 00 to 59/],
    ['2025-10-21T10:00:00+24:00', /offsets go from -23:59 to \+23:59/],
    ['2025-10-21T10:00:00', /not an ISO-8601 instant with a zone/],
  ])('%s is refused, saying why', (text, reason) => {
    expect(ok(parseIsoInstant(text))).toMatch(reason);
  });

  it('real instants read as Date.parse reads them (leap day, fractions, offsets)', () => {
    for (const t of ['2024-02-29T12:00:00Z', '2025-10-26T02:30:00+02:00', '2025-10-26T02:30:00.123456789+01:00', '1970-01-01T00:00Z'])
      expect(ok(parseIsoInstant(t))).toBe(new Date(Date.parse(t.replace(/(\.\d{3})\d+/, '$1'))).toISOString());
  });

  it('ingest refuses an impossible timestamp with its reason instead of storing it as 1 October', () => {
    const v = validateEvent(event({ timestamp: '2025-09-31T10:00+02:00' }), NOW);
    expect(v).toEqual({ ok: false, reason: 'timestamp "2025-09-31T10:00+02:00" is not a real date and time: September 2025 has 30 days' });
    expect(validateEvent(event({ timestamp: '2025-09-30T10:00+02:00' }), NOW).ok).toBe(true);
  });

  it('aggregate --period/--from/--to: an impossible date is refused as such (not as a daylight-saving gap), an instant too', () => {
    expect(() => parseLocal('2025-02-30', 'Europe/Madrid')).toThrow('"2025-02-30" is not a real date or time: February 2025 has 28 days');
    expect(() => parseLocal('2025-02-30T10:00:00Z', 'Europe/Madrid')).toThrow(/February 2025 has 28 days/);
    expect(parseLocal('2025-02-28T10:00:00Z', 'Europe/Madrid').toISOString()).toBe('2025-02-28T10:00:00.000Z');
  });
});

describe('a time without an offset is read in the named zone, never the machine’s (defect 9)', () => {
  const zoned = (text: string, zone: string) => ok(parseZonedDateTime(text, zone));
  it('reads wall-clock times of the zone, whatever process.env.TZ says', () => {
    const before = process.env.TZ;
    try {
      for (const tz of ['UTC', 'America/New_York', 'Asia/Kolkata']) {
        process.env.TZ = tz;
        expect(zoned('2025-10-27T00:00', 'Europe/Madrid')).toBe('2025-10-26T23:00:00.000Z');
        expect(zoned('2025-07-01T12:30:15.250', 'Europe/Madrid')).toBe('2025-07-01T10:30:15.250Z');
        expect(zoned('2025-10-21T05:30', 'Asia/Kolkata')).toBe('2025-10-21T00:00:00.000Z');
        expect(ok(parseInstantIn('2025-10-27T00:00:00+01:00', 'Asia/Tokyo'))).toBe('2025-10-26T23:00:00.000Z');
      }
    } finally {
      process.env.TZ = before;
    }
  });

  it('refuses a time the zone skips or repeats, and an impossible date', () => {
    expect(zoned('2025-03-30T02:30', 'Europe/Madrid')).toBe(
      'refused: 2025-03-30T02:30 does not exist in Europe/Madrid (skipped by a daylight-saving change)',
    );
    expect(zoned('2025-10-26T02:30', 'Europe/Madrid')).toBe(
      'refused: 2025-10-26T02:30 happens twice in Europe/Madrid (a daylight-saving change repeats it): at 2025-10-26T02:30:00+02:00 ' +
        'and at 2025-10-26T02:30:00+01:00; give the offset',
    );
    expect(zoned('2025-04-06T01:45', 'Australia/Lord_Howe')).toMatch(/happens twice/); // a 30-minute change
    expect(zoned('2025-09-31T10:00', 'Europe/Madrid')).toMatch(/September 2025 has 30 days/);
  });
});

describe('metadata: only a real NUL is refused (defect 8)', () => {
  it('text holding a backslash followed by u0000 is ordinary text', () => {
    const v = validateEvent(event({ metadata: { path: 'C:\\u0000\\temp', note: 'escape: \\u0000', '\\u0000key': 1 } }), NOW);
    expect(v.ok).toBe(true);
    if (v.ok) expect(JSON.parse(v.json).metadata).toEqual({ path: 'C:\\u0000\\temp', note: 'escape: \\u0000', '\\u0000key': 1 });
  });

  it('a real NUL, in a value or a key, at any depth, is refused', () => {
    for (const metadata of [{ a: 'x\u0000y' }, { 'k\u0000': 1 }, { deep: [{ deeper: { text: '\u0000' } }] }])
      expect(validateEvent(event({ metadata }), NOW)).toEqual({
        ok: false,
        reason: 'metadata contains a NUL character (U+0000), which PostgreSQL cannot store',
      });
  });
});
