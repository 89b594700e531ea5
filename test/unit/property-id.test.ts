/**
 * Issue 23, defect 10: one rule for what a property id is, the same at ingest (the event validation,
 * hence the app-side collector and the ingest Lambda) and on the read side (the API's 400).
 */
import { validatePropertyId } from '../../lambdas/analytics-api/property';
import { validateEvent } from '../../lambdas/ingest/event';
import { isPropertyId, propertyIdProblem } from '../../lambdas/shared/property-id';

const NOW = new Date('2025-10-21T10:00:00Z');
const event = (propertyId: unknown) => ({
  id: 'e1',
  eventType: 'message.received',
  timestamp: '2025-10-21T09:00:00Z',
  propertyId,
});
const readable = (id: string) => {
  try {
    validatePropertyId(id);
    return true;
  } catch {
    return false;
  }
};

describe('property ids: one rule, applied at ingest', () => {
  it.each(['Hotel Sol', 'hotel/bcn', 'hôtel-été', 'hotel-sol ', ' hotel-sol', '-hotel', 'a'.repeat(129), 'hotel\u0000sol', 'hotel\nsol'])(
    'ingest refuses %j with the rule the read side applies',
    (id) => {
      const v = validateEvent(event(id), NOW);
      expect(v.ok).toBe(false);
      if (!v.ok) expect(v.reason).toContain('is not a property id (1–128 ASCII letters, digits');
      expect(readable(id)).toBe(false);
    },
  );

  it.each(['hotel-sol', 'Hotel_Sol', 'chain:bcn.01', '7', 'a'.repeat(128)])('%j is a property id everywhere', (id) => {
    expect(validateEvent(event(id), NOW).ok).toBe(true);
    expect(readable(id)).toBe(true);
    expect(isPropertyId(id)).toBe(true);
  });

  it('ingest accepts exactly the ids the read side reads (every short string over a small alphabet)', () => {
    const alphabet = ['a', 'Z', '0', '-', '.', '_', ':', ' ', '/', 'é', '\t'];
    for (const a of alphabet)
      for (const b of ['', ...alphabet]) {
        const id = a + b;
        expect([id, validateEvent(event(id), NOW).ok]).toEqual([id, readable(id)]);
      }
  });

  it('a missing or empty id is required, not malformed', () => {
    expect(propertyIdProblem('')).toBe('a property id is required');
    const v = validateEvent(event(undefined), NOW);
    expect(v.ok ? '' : v.reason).toBe('propertyId is required');
  });
});
