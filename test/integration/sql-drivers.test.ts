import { ExecuteStatementCommand } from '@aws-sdk/client-rds-data';
import { DataApiLimitError, SqlError } from '../../lambdas/shared/sql/errors';
import { p } from '../../lambdas/shared/sql/types';
import { DRIVERS, type TestDb, testDb } from '../support/db';

describe.each(DRIVERS)('Sql port through the %s driver', (driver) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await testDb(driver, { migrate: false });
    await db.direct.execute(
      'CREATE TABLE t (id bigint PRIMARY KEY, name text NOT NULL, at timestamptz, d date, n numeric, ok boolean, doc jsonb, u uuid)',
    );
  });
  afterAll(() => db.close());

  it('returns the same plain shapes on both drivers', async () => {
    // Prepare
    await db.sql.execute(
      'INSERT INTO t VALUES ($1::bigint, $2::text, $3::timestamptz, $4::date, $5::numeric, $6::boolean, $7::jsonb, $8::uuid)',
      [
        1,
        'ana',
        new Date('2025-10-28T13:00:00.123Z'),
        p.date('2025-10-28'),
        p.numeric('12.5'),
        true,
        p.json({ k: ['v'] }),
        p.uuid('6f1c1f3e-2b1a-4c55-9d0e-1a2b3c4d5e6f'),
      ],
    );
    // Act
    const rows = await db.sql.query('SELECT id, name, at, d, n, ok, doc, u, NULL::text AS nothing FROM t WHERE id = $1::bigint', [1]);
    // Assess
    expect(rows).toEqual([
      {
        id: 1,
        name: 'ana',
        at: '2025-10-28T13:00:00.123Z',
        d: '2025-10-28',
        n: 12.5,
        ok: true,
        doc: { k: ['v'] },
        u: '6f1c1f3e-2b1a-4c55-9d0e-1a2b3c4d5e6f',
        nothing: null,
      },
    ]);
  });

  it('queryArrays returns each row as its values in select-list order, the same shapes as query', async () => {
    await db.sql.execute('INSERT INTO t (id, name, at) VALUES (20, $1::text, NULL), (21, $2::text, $3::timestamptz)', [
      '',
      'zoë 🙂',
      '2025-10-28 13:00:00.000001+00',
    ]);
    const text = `SELECT name AS z, id, at::text AS "at text", NULL::text AS nothing FROM t WHERE id IN (20, 21) ORDER BY id`;
    const arrays = await db.sql.queryArrays(text);
    expect(arrays).toEqual([
      ['', 20, null, null],
      ['zoë 🙂', 21, '2025-10-28 13:00:00.000001+00', null],
    ]);
    expect(arrays).toEqual((await db.sql.query(text)).map((r) => Object.values(r)));
    expect(await db.sql.transaction((tx) => tx.queryArrays('SELECT 1::integer AS a, $1::text AS b', ['x']))).toEqual([[1, 'x']]);
  });

  it('sends and returns bigints beyond 2^53 exactly (bigint values, p.bigint, untyped numbers)', async () => {
    // Prepare: 2^53 + 1 is not a double; a driver that goes through Number sends 2^53
    const big = 9007199254740993n;
    await db.direct.execute('CREATE TABLE big (id bigint PRIMARY KEY, name text NOT NULL)');
    await db.sql.execute('INSERT INTO big (id, name) VALUES ($1::bigint, $2::text), ($3::bigint, $4::text)', [
      big,
      'big',
      p.bigint(-big),
      'negative',
    ]);
    // Act
    const asText = await db.direct.query<{ id: string }>('SELECT id::text AS id FROM big ORDER BY id');
    const rows = await db.sql.query<{ id: unknown; small: unknown; n: unknown }>(
      'SELECT id, 7::bigint AS small, 7::int AS n FROM big WHERE id = $1::bigint OR id = $2::bigint ORDER BY id',
      [p.bigint(big), -big],
    );
    // Assess: stored exactly, found exactly, read back exactly (a bigint, not a rounded number)
    expect(asText.map((r) => r.id)).toEqual(['-9007199254740993', '9007199254740993']);
    expect(rows).toEqual([
      { id: -big, small: 7, n: 7 },
      { id: big, small: 7, n: 7 },
    ]);
    const [edge] = await db.sql.query<{ v: unknown }>('SELECT $1::bigint AS v', [Number.MAX_SAFE_INTEGER]);
    expect(edge?.v).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('writes many rows with one jsonb parameter (no arrays)', async () => {
    const rows = Array.from({ length: 500 }, (_, i) => ({ id: 1000 + i, name: `n${i}` }));
    const res = await db.sql.execute(
      `INSERT INTO t (id, name) SELECT r.id, r.name FROM jsonb_to_recordset($1::jsonb) AS r(id bigint, name text)`,
      [p.json(rows)],
    );
    expect(res.rowCount).toBe(500);
    const [count] = await db.direct.query<{ c: number }>('SELECT count(*) AS c FROM t WHERE id >= 1000');
    expect(count?.c).toBe(500);
  });

  it('commits a transaction that resolves and rolls back one that throws', async () => {
    await db.sql.transaction(async (tx) => {
      await tx.execute('INSERT INTO t (id, name) VALUES ($1::bigint, $2::text)', [2, 'kept']);
    });
    await expect(
      db.sql.transaction(async (tx) => {
        await tx.execute('INSERT INTO t (id, name) VALUES ($1::bigint, $2::text)', [3, 'gone']);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const rows = await db.direct.query<{ id: number }>('SELECT id FROM t WHERE id IN (2, 3) ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual([2]);
  });

  it('runs a batch of parameter sets', async () => {
    await db.sql.batch('INSERT INTO t (id, name) VALUES ($1::bigint, $2::text)', [
      [10, 'a'],
      [11, 'b'],
    ]);
    const rows = await db.direct.query<{ name: string }>('SELECT name FROM t WHERE id IN (10, 11) ORDER BY id');
    expect(rows.map((r) => r.name)).toEqual(['a', 'b']);
  });

  it('names the failing statement in the error', async () => {
    const err = await db.sql.execute('INSERT INTO t (id, name) VALUES ($1::bigint, NULL)', [99]).catch((e) => e);
    expect(err).toBeInstanceOf(SqlError);
    expect(err.message).toMatch(/null value in column "name".*in statement: INSERT INTO t \(id, name\) VALUES/);
  });
});

describe('Data API rules, enforced by the test double and turned into clear errors by the driver', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await testDb('data-api', { migrate: false });
  });
  afterAll(() => db.close());

  it('the double rejects an array parameter, as the Data API does', async () => {
    const double = db.double!;
    const cmd = new ExecuteStatementCommand({
      resourceArn: 'arn',
      secretArn: 'arn',
      sql: 'SELECT :ids',
      parameters: [{ name: 'ids', value: { arrayValue: { longValues: [1, 2] } } }],
    });
    await expect(double.send(cmd)).rejects.toThrow('Array parameters are not supported');
  });

  it('the double rejects positional parameters', async () => {
    await expect(db.double!.send(new ExecuteStatementCommand({ resourceArn: 'a', secretArn: 'a', sql: 'SELECT $1' }))).rejects.toThrow(
      'Positional parameters',
    );
  });

  it('the driver refuses an array parameter before sending, saying what to do', async () => {
    const before = db.double!.calls.length;
    await expect(db.sql.query('SELECT $1::bigint[]', [[1, 2] as never])).rejects.toThrow(/no array parameters.*jsonb_to_recordset/);
    expect(db.double!.calls.length).toBe(before);
  });

  it('an oversized result becomes a DataApiLimitError that says to page the query', async () => {
    const err = await db.sql.query("SELECT repeat('x', 1000) AS big FROM generate_series(1, 2000)").catch((e) => e);
    expect(err).toBeInstanceOf(DataApiLimitError);
    expect(err.message).toMatch(/1 MiB: page the query.*in statement: SELECT repeat/);
  });

  it('a statement over 65,536 characters is refused with its size', async () => {
    const sql = `SELECT 1 ${'-- padding\n'.repeat(7000)}`;
    await expect(db.sql.query(sql)).rejects.toThrow(/Statement of \d+ characters exceeds the Data API's 65536-character limit/);
  });

  it('an untyped string parameter compared with a uuid fails as on Aurora (cast your parameters)', async () => {
    await expect(
      db.sql.query("SELECT 1 WHERE '6f1c1f3e-2b1a-4c55-9d0e-1a2b3c4d5e6f'::uuid = $1", ['6f1c1f3e-2b1a-4c55-9d0e-1a2b3c4d5e6f']),
    ).rejects.toThrow(/operator does not exist: uuid = character varying/);
  });

  it('retries while Aurora resumes from auto-pause', async () => {
    db.double!.failWithResuming(3);
    const rows = await db.sql.query<{ one: number }>('SELECT 1::int AS one');
    expect(rows).toEqual([{ one: 1 }]);
  });

  it('an unknown transaction id is an error', async () => {
    await expect(
      db.double!.send(new ExecuteStatementCommand({ resourceArn: 'a', secretArn: 'a', sql: 'SELECT 1', transactionId: 'nope' })),
    ).rejects.toThrow('Transaction nope is not found');
  });
});
