import { SqlError } from '../../lambdas/shared/sql/errors';
import { DatabaseUnreachableError, databaseOutage, innermostMessage, isConnectionError } from '../../lambdas/shared/sql/outage';
import type { Sql } from '../../lambdas/shared/sql/types';

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
const shutdown = new SqlError('terminating connection due to administrator command', 'INSERT INTO messages …', '57P01');
const dataApi = new SqlError('DatabaseUnavailableException: The database is not available', 'BEGIN', undefined, {
  cause: Object.assign(new Error('The database is not available'), { name: 'DatabaseUnavailableException' }),
});
const constraint = new SqlError('duplicate key value violates unique constraint "x"', 'INSERT INTO conversations …', '23505');
/** A statement that merely mentions a connection: the statement is not the reason. */
const statementOnly = new SqlError(
  'value too long for type character varying(512)',
  "UPDATE t SET note = 'Connection terminated'",
  '22001',
);

const answering = (answers: boolean): Sql =>
  ({ query: async () => (answers ? [{ '?column?': 1 }] : Promise.reject(refused)) }) as unknown as Sql;

describe('a database outage told from a failed statement', () => {
  it('connection-class errors: network codes, SQLSTATE 08/57P0x, Data API names, in a cause chain or an AggregateError', () => {
    expect(isConnectionError(refused)).toBe(true);
    expect(isConnectionError(new SqlError('x', 'BEGIN', undefined, { cause: refused }))).toBe(true);
    expect(isConnectionError(shutdown)).toBe(true);
    expect(isConnectionError(dataApi)).toBe(true);
    expect(isConnectionError(new AggregateError([refused], ''))).toBe(true);
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionError(constraint)).toBe(false);
    expect(isConnectionError(statementOnly)).toBe(false);
    expect(isConnectionError(undefined)).toBe(false);
  });

  it('an outage only when the database does not answer either (a dropped connection is retried)', async () => {
    expect(await databaseOutage(answering(true), shutdown)).toBeUndefined();
    expect(await databaseOutage(answering(false), constraint)).toBeUndefined();
    const outage = await databaseOutage(answering(false), shutdown);
    expect(outage).toBeInstanceOf(DatabaseUnreachableError);
    expect(outage?.message).toBe('Database unreachable (terminating connection due to administrator command)');
  });

  it('says the driver’s reason, never the statement', () => {
    expect(innermostMessage(new SqlError('x', 'SELECT secret', undefined, { cause: refused }))).toBe('connect ECONNREFUSED 127.0.0.1:5432');
    expect(new DatabaseUnreachableError(refused, { after: 'the run stopped' }).message).toBe(
      'Database unreachable (connect ECONNREFUSED 127.0.0.1:5432): the run stopped',
    );
  });
});
