import { BULK_PARAM_BUDGET_BYTES, type TypedParam } from './types';

/**
 * Splits rows into chunks whose JSON encoding stays under `budgetBytes`, and at most `maxRows`
 * rows, so one `jsonb_to_recordset($1::jsonb)` parameter always fits a Data API request.
 * A single row larger than the budget is returned alone (the caller's statement will then fail
 * clearly on the driver's size check rather than silently truncating).
 */
export function* chunkByJsonSize<T>(rows: Iterable<T>, budgetBytes = BULK_PARAM_BUDGET_BYTES, maxRows = 5_000): Generator<T[]> {
  let chunk: T[] = [];
  let bytes = 2;
  for (const row of rows) {
    const size = Buffer.byteLength(JSON.stringify(row)) + 1;
    if (chunk.length > 0 && (bytes + size > budgetBytes || chunk.length >= maxRows)) {
      yield chunk;
      chunk = [];
      bytes = 2;
    }
    chunk.push(row);
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}

/**
 * Like chunkByJsonSize, but each row is serialized once and every chunk comes out as a ready
 * jsonb parameter (no second JSON.stringify of the whole chunk in the driver).
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
