import { BULK_PARAM_BUDGET_BYTES } from './types';

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
