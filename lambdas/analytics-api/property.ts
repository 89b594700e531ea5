/** Property ids: validated in shape (the one rule of lambdas/shared/property-id.ts), and known (present in the events or any aggregate table). */
import { PROPERTY_ID_PATTERN, PROPERTY_ID_RULE } from '../shared/property-id';
import type { Sql } from '../shared/sql/types';
import { BadRequestError, quote } from './errors';
import { TABLES } from './metrics';

/** The one property id rule (lambdas/shared/property-id.ts), as a 400. */
export function validatePropertyId(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new BadRequestError('property is required');
  if (!PROPERTY_ID_PATTERN.test(value)) throw new BadRequestError(`property ${quote(value)} is not a property id (${PROPERTY_ID_RULE})`);
  return value;
}

/** One EXISTS per table, each answered by a (property_id, …) index. */
const KNOWN_SQL = `SELECT (EXISTS (SELECT 1 FROM analytics_events WHERE property_id = $1::text)
  ${Object.values(TABLES)
    .map((t) => `OR EXISTS (SELECT 1 FROM ${t.table} WHERE property_id = $1::text)`)
    .join('\n  ')}) AS known`;

export async function assertKnownProperty(sql: Sql, propertyId: string): Promise<void> {
  const [row] = await sql.query<{ known: boolean }>(KNOWN_SQL, [propertyId]);
  if (!row?.known) throw new BadRequestError(`unknown property ${quote(propertyId)}: no events or aggregates for it`);
}
