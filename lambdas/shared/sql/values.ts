import { JsonText } from './bulk';
import type { SqlParam, SqlType } from './types';
import { isTypedParam } from './types';

/** A parameter reduced to a type and a plain value, shared by both drivers. */
export interface NormalizedParam {
  readonly sqlType: SqlType | 'null';
  /** string for text-like types (ISO for timestamptz, JSON text for jsonb), number, boolean. */
  readonly value: string | number | boolean | null;
}

export function normalizeParam(param: SqlParam, index: number): NormalizedParam {
  if (param === null || param === undefined) return { sqlType: 'null', value: null };
  if (isTypedParam(param)) {
    const { sqlType, value } = param;
    if (value === null || value === undefined) return { sqlType: 'null', value: null };
    switch (sqlType) {
      case 'jsonb':
        return { sqlType, value: value instanceof JsonText ? value.text : JSON.stringify(value) };
      case 'timestamptz':
        return { sqlType, value: toIso(value, index) };
      case 'integer':
      case 'bigint':
      case 'numeric':
        if (typeof value === 'bigint') return { sqlType, value: value.toString() };
        if (typeof value === 'number' || typeof value === 'string') return { sqlType, value };
        break;
      case 'boolean':
        if (typeof value === 'boolean') return { sqlType, value };
        break;
      default:
        if (typeof value === 'string') return { sqlType, value };
    }
    throw new TypeError(`Parameter $${index + 1}: ${typeof value} is not a valid ${sqlType}`);
  }
  if (Array.isArray(param)) {
    throw new TypeError(
      `Parameter $${index + 1} is an array: the Data API has no array parameters; pass rows as one jsonb parameter and expand them with jsonb_to_recordset`,
    );
  }
  if (param instanceof Date) return { sqlType: 'timestamptz', value: toIso(param, index) };
  switch (typeof param) {
    case 'string':
      return { sqlType: 'text', value: param };
    case 'number':
      if (!Number.isFinite(param)) throw new TypeError(`Parameter $${index + 1} is not a finite number`);
      return { sqlType: Number.isInteger(param) ? 'bigint' : 'numeric', value: param };
    case 'bigint':
      return { sqlType: 'bigint', value: param.toString() };
    case 'boolean':
      return { sqlType: 'boolean', value: param };
    default:
      throw new TypeError(`Parameter $${index + 1}: unsupported type ${typeof param}`);
  }
}

function toIso(value: unknown, index: number): string {
  const d = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
  if (!d || Number.isNaN(d.getTime())) {
    throw new TypeError(`Parameter $${index + 1}: ${String(value)} is not a valid timestamp`);
  }
  return d.toISOString();
}

/** `2025-10-28 13:00:00.123` (UTC, as PostgreSQL/the Data API print it) → ISO-8601. */
export function pgTimestampToIso(text: string): string {
  const withT = text.includes('T') ? text : text.replace(' ', 'T');
  const hasZone = /([+-]\d{2}(:?\d{2})?|Z)$/.test(withT);
  const d = new Date(hasZone ? withT.replace(/([+-]\d{2})$/, '$1:00') : `${withT}Z`);
  if (Number.isNaN(d.getTime())) return text;
  return d.toISOString();
}

/**
 * An integer column's text as a plain value: a number when it is exact (|n| ≤ 2^53 − 1), else a
 * `bigint` — never a silently rounded number. Both drivers read `bigint` columns through it.
 */
export function exactInteger(text: string): number | bigint {
  const n = Number(text);
  if (Number.isSafeInteger(n)) return n;
  return /^-?\d+$/.test(text) ? BigInt(text) : n;
}
