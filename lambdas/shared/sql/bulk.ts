import { BULK_PARAM_BUDGET_BYTES, type TypedParam } from './types';

/**
 * Splits rows into jsonb parameters whose JSON stays under `budgetBytes` (and `maxRows` rows), so
 * one `jsonb_to_recordset($1::jsonb)` always fits a Data API request. Each row is serialized once;
 * the driver sends the chunk's text as is. A single row over the budget comes out alone (the
 * driver's request-size check then fails clearly rather than truncating).
 */
export function* jsonChunks<T>(
  rows: Iterable<T>,
  budgetBytes = BULK_PARAM_BUDGET_BYTES,
  maxRows = 5_000,
): Generator<{ param: TypedParam; rows: number }> {
  let parts: string[] = [];
  let bytes = 2;
  for (const row of rows) {
    const text = JSON.stringify(row);
    const size = Buffer.byteLength(text) + 1;
    if (parts.length > 0 && (bytes + size > budgetBytes || parts.length >= maxRows)) {
      yield { param: { sqlType: 'jsonb', value: new JsonText(`[${parts.join(',')}]`) }, rows: parts.length };
      parts = [];
      bytes = 2;
    }
    parts.push(text);
    bytes += size;
  }
  if (parts.length > 0) yield { param: { sqlType: 'jsonb', value: new JsonText(`[${parts.join(',')}]`) }, rows: parts.length };
}

/** JSON that is already serialized: passed to the driver as is. */
export class JsonText {
  constructor(readonly text: string) {}
}
