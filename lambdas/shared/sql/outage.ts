/**
 * Telling a database outage from a failed statement. A statement that fails for its own reasons
 * (a constraint, a value) is retried or skipped by the job; a database that does not answer is
 * one failure of the whole run: every further statement would fail the same way, and writing
 * about the failure into that database (quarantine, per-item errors) cannot work either.
 */
import type { Sql } from './types';

/**
 * The database does not answer: the run stops at once. `message` has the driver's reason, without
 * any statement, and `after` (what the run did about it) when given.
 */
export class DatabaseUnreachableError extends Error {
  override readonly name = 'DatabaseUnreachableError';
  constructor(cause: unknown, options: { after?: string } = {}) {
    super(`Database unreachable (${innermostMessage(cause)})${options.after ? `: ${options.after}` : ''}`, { cause });
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
]);
/** SQLSTATE class 08 (connection exception); 57P01–57P03 (shut down by an administrator, crash, cannot connect now). */
const OUTAGE_STATES = /^(08...|57P0[123])$/;
/** Data API exceptions of a cluster that is not there to answer (resuming beyond the driver's own wait included). */
const DATA_API_NAMES = new Set(['DatabaseUnavailableException', 'DatabaseResumingException', 'ServiceUnavailableError']);
const OUTAGE_MESSAGE =
  /Connection terminated|terminating connection|the database system is (shutting down|starting up|in recovery mode|not yet accepting)|Client has encountered a connection error|connection (refused|reset)|server closed the connection/i;

/**
 * Whether an error says the connection to the database failed (rather than the statement). It
 * may be one dropped connection on a database that is fine: `databaseOutage` asks the database.
 */
export function isConnectionError(err: unknown): boolean {
  const seen = new Set<unknown>();
  const visit = (e: unknown): boolean => {
    if (!e || typeof e !== 'object' || seen.has(e)) return false;
    seen.add(e);
    const { code, name, message, cause, errors } = e as {
      code?: unknown;
      name?: unknown;
      message?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || OUTAGE_STATES.test(code))) return true;
    if (typeof name === 'string' && DATA_API_NAMES.has(name)) return true;
    // A wrapping SqlError repeats its statement after " — in statement:": only the reason is read.
    if (typeof message === 'string' && OUTAGE_MESSAGE.test(message.split(' — in statement:')[0] ?? '')) return true;
    return visit(cause) || (Array.isArray(errors) && errors.some(visit));
  };
  return visit(err);
}

/** Whether the database answers `SELECT 1` within `timeoutMs` (a host that drops packets never refuses). */
export async function databaseAnswers(sql: Sql, timeoutMs = 10_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
    timer.unref?.();
  });
  try {
    return await Promise.race([sql.query('SELECT 1').then(() => true), late]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The outage behind `err`, if there is one: a connection-class error after which the database
 * does not answer either. A connection dropped on a database that answers is not an outage (the
 * caller retries as it would any failed statement).
 */
export async function databaseOutage(sql: Sql, err: unknown): Promise<DatabaseUnreachableError | undefined> {
  if (err instanceof DatabaseUnreachableError) return err;
  if (!isConnectionError(err)) return undefined;
  return (await databaseAnswers(sql)) ? undefined : new DatabaseUnreachableError(err);
}

/** The deepest message in a cause chain: the driver's own words (`connect ECONNREFUSED 127.0.0.1:5432`), no statement. */
export function innermostMessage(err: unknown): string {
  let message = String((err as Error)?.message ?? err);
  for (let e = (err as { cause?: unknown })?.cause, depth = 0; e && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    const m = (e as Error)?.message;
    if (typeof m === 'string' && m) message = m;
  }
  // An AggregateError (every address refused) has no message of its own: its first error has.
  const first = (err as { errors?: unknown[] })?.errors?.[0];
  if (!message && first) return innermostMessage(first);
  return message.split(' — in statement:')[0] as string;
}
