/**
 * The property registry (sql/021 `properties`): each property's display name and time zone. A
 * registered property's periods — hours, days, Monday-weeks, months — are its zone's wall-clock
 * periods everywhere (aggregations, series, reports, the dashboard's today and open hour); an
 * unregistered property uses the deployment's configured zone (`defaultZone`).
 */
import { AGGREGATIONS } from '../aggregate/registry';
import { propertyIdProblem } from './property-id';
import type { Sql, SqlExecutor } from './sql/types';
import { assertTimeZone } from './time';

export interface PropertyRecord {
  readonly propertyId: string;
  readonly displayName: string | null;
  readonly timeZone: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Refused input (bad id, unknown zone, bad name): a 400 in the API, exit 2 in the CLI. */
export class PropertyInputError extends Error {
  override readonly name = 'PropertyInputError';
}

type PropertyRow = {
  property_id: string;
  display_name: string | null;
  time_zone: string;
  created_at: string | Date;
  updated_at: string | Date;
};
const iso = (v: string | Date) => (v instanceof Date ? v.toISOString() : new Date(v).toISOString());
const record = (r: PropertyRow): PropertyRecord => ({
  propertyId: r.property_id,
  displayName: r.display_name,
  timeZone: r.time_zone,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
});

export async function listProperties(sql: Sql | SqlExecutor): Promise<PropertyRecord[]> {
  const rows = await sql.query<PropertyRow>(
    'SELECT property_id, display_name, time_zone, created_at, updated_at FROM properties ORDER BY property_id',
  );
  return rows.map(record);
}

export interface SetPropertyResult {
  readonly property: PropertyRecord;
  readonly created: boolean;
  /**
   * The zone before, when it changed (the property's aggregates are to be re-derived): its registered
   * zone, or for a property registered now, the deployment's zone (`defaultZone`) when given and different.
   */
  readonly previousTimeZone?: string;
}

/**
 * Registers a property or changes its zone and/or name (a name left out is kept): the one way the
 * CLI (`npm run properties -- set`) and the API (`PUT /properties/{id}`) change the registry, with the
 * same rules. A zone change records, in the same transaction, one re-derivation per aggregate table
 * (sql/025 `property_rederivations`), which the aggregations carry out (lambdas/aggregate/rederive.ts).
 */
export async function setProperty(
  sql: Sql,
  input: {
    propertyId: unknown;
    timeZone: unknown;
    displayName?: unknown;
    /**
     * The deployment's zone: an unregistered property's periods were in it, so registering one in
     * another zone re-derives it too (without it, only a registered zone's change does).
     */
    defaultZone?: string;
  },
): Promise<SetPropertyResult> {
  const idProblem = propertyIdProblem(input.propertyId);
  if (idProblem) throw new PropertyInputError(idProblem);
  if (typeof input.timeZone !== 'string' || input.timeZone.length === 0)
    throw new PropertyInputError('a time zone is required (an IANA name such as Europe/Madrid)');
  try {
    assertTimeZone(input.timeZone);
  } catch (e) {
    throw new PropertyInputError((e as Error).message);
  }
  const name = input.displayName;
  if (
    name !== undefined &&
    name !== null &&
    (typeof name !== 'string' || name.length === 0 || name.length > 200 || name.includes('\u0000'))
  )
    throw new PropertyInputError('a display name is 1–200 characters (no NUL)');
  return sql.transaction(async (tx) => {
    const [before] = await tx.query<PropertyRow>(
      'SELECT property_id, display_name, time_zone, created_at, updated_at FROM properties WHERE property_id = $1::text FOR UPDATE',
      [input.propertyId as string],
    );
    let rows: PropertyRow[];
    try {
      rows = await tx.query<PropertyRow>(
        `INSERT INTO properties (property_id, display_name, time_zone) VALUES ($1::text, $2::text, $3::text)
         ON CONFLICT (property_id) DO UPDATE SET time_zone = EXCLUDED.time_zone,
           display_name = CASE WHEN $4::boolean THEN EXCLUDED.display_name ELSE properties.display_name END, updated_at = now()
         RETURNING property_id, display_name, time_zone, created_at, updated_at`,
        [
          input.propertyId as string,
          { sqlType: 'text', value: (name as string | undefined) ?? null },
          input.timeZone as string,
          { sqlType: 'boolean', value: name !== undefined },
        ],
      );
    } catch (e) {
      if (/unknown time zone/.test((e as Error).message)) throw new PropertyInputError((e as Error).message);
      throw e;
    }
    const property = record(rows[0] as PropertyRow);
    const previous = before ? before.time_zone : input.defaultZone;
    if (previous !== undefined && previous !== property.timeZone)
      // the zone changed: each aggregate table re-derives the property (lambdas/aggregate/rederive.ts)
      await tx.query(
        `INSERT INTO property_rederivations (property_id, agg_table, previous_zone)
         SELECT $1::text, t, $2::text FROM jsonb_array_elements_text($3::jsonb) AS t
         ON CONFLICT DO NOTHING`,
        [property.propertyId, previous, { sqlType: 'jsonb', value: AGGREGATIONS.map((a) => a.table) }],
      );
    return {
      property,
      created: !before,
      ...(previous !== undefined && previous !== property.timeZone ? { previousTimeZone: previous } : {}),
    };
  });
}

/** The zone of `propertyId`: its registered zone, else the deployment's. */
export async function zoneOf(sql: Sql | SqlExecutor, propertyId: string, defaultZone: string): Promise<string> {
  const [r] = await sql.query<{ time_zone: string }>('SELECT time_zone FROM properties WHERE property_id = $1::text', [propertyId]);
  return r?.time_zone ?? defaultZone;
}

/** Every registered property's zone (small: one row per property). */
export async function registeredZones(sql: Sql | SqlExecutor): Promise<Map<string, string>> {
  const rows = await sql.query<{ property_id: string; time_zone: string }>('SELECT property_id, time_zone FROM properties');
  return new Map(rows.map((r) => [r.property_id, r.time_zone]));
}

/** The zones periods are closed in: the deployment's first, then every registered one. */
export function zonesOf(registered: Map<string, string>, defaultZone: string): string[] {
  return [defaultZone, ...[...new Set(registered.values())].filter((z) => z !== defaultZone).sort()];
}
