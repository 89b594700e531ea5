/** Property ids: validated in shape, and known (present in the events or any aggregate table). */
import type { Sql } from '../shared/sql/types';
import { BadRequestError, quote } from './errors';
import { TABLES } from './metrics';

const PROPERTY_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function validatePropertyId(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new BadRequestError('property is required');
  if (!PROPERTY_ID.test(value))
    throw new BadRequestError(`property ${quote(value)} is not a property id (1–128 letters, digits, '.', '_', ':' or '-')`);
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
