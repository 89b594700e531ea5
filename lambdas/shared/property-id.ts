/**
 * What a property id is — ONE rule, applied where ids enter (ingest, the app-side collector, the
 * properties registry) and where they are read (the API, the CLI): 1–128 characters, ASCII letters,
 * digits, `.`, `_`, `:` and `-`, starting with a letter or digit. So `Hotel Sol`, `hotel/bcn`,
 * `hôtel-été` or `hotel-sol ` (trailing space) are refused at ingest with this reason, instead of
 * being stored and then refused by every read (issue 23, defect 10). It is also a safe S3 key part
 * and URL query value as it is.
 */
export const PROPERTY_ID_MAX_LENGTH = 128;
export const PROPERTY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const PROPERTY_ID_RULE = "1–128 ASCII letters, digits, '.', '_', ':' or '-', starting with a letter or digit";

/** Why `value` is not a property id (undefined: it is one). */
export function propertyIdProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return 'a property id is required';
  if (PROPERTY_ID_PATTERN.test(value)) return undefined;
  const shown = JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  return `${shown} is not a property id (${PROPERTY_ID_RULE})`;
}

export const isPropertyId = (value: unknown): value is string => propertyIdProblem(value) === undefined;
