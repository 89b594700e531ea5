/** A statement failed. The message names the statement so a log line is enough to find it. */
export class SqlError extends Error {
  override readonly name: string = 'SqlError';
  constructor(
    message: string,
    readonly statement: string,
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(`${message} — in statement: ${summarize(statement)}`, options);
  }
}

/** A request the Data API would refuse (array parameter, statement/result/request too large). */
export class DataApiLimitError extends SqlError {
  override readonly name: string = 'DataApiLimitError';
}

export function summarize(statement: string, max = 160): string {
  const flat = statement.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** PostgreSQL SQLSTATE of an error from either driver, when known. */
export function sqlState(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/**
 * A foreign key refused the statement (SQLSTATE 23503). The Data API reports SQL errors without
 * their SQLSTATE (DatabaseErrorException), so its message is read too.
 */
export function isForeignKeyViolation(err: unknown): boolean {
  return sqlState(err) === '23503' || /violates foreign key constraint/.test((err as Error)?.message ?? '');
}
