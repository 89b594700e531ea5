import { type JsonText, jsonChunks } from '../../lambdas/shared/sql/bulk';
import { toDataApiStatement } from '../../lambdas/shared/sql/data-api-driver';
import { p } from '../../lambdas/shared/sql/types';

describe('toDataApiStatement', () => {
  it('names positional parameters and types each value', () => {
    // Act
    const { sql, parameters } = toDataApiStatement(
      'SELECT $1::text, $2::bigint, $3::numeric, $4::boolean, $5::timestamptz, $6::date, $7::uuid, $8::jsonb, $9::text, $1::text',
      [
        'a',
        42,
        p.numeric(1.5),
        true,
        new Date('2025-01-02T03:04:05Z'),
        p.date('2025-01-02'),
        p.uuid('00000000-0000-4000-8000-000000000000'),
        p.json({ a: [1] }),
        null,
      ],
    );
    // Assess
    expect(sql).toBe(
      'SELECT :p1::text, :p2::bigint, :p3::numeric, :p4::boolean, :p5::timestamptz, :p6::date, :p7::uuid, :p8::jsonb, :p9::text, :p1::text',
    );
    expect(parameters).toEqual([
      { name: 'p1', value: { stringValue: 'a' } },
      { name: 'p2', value: { longValue: 42 } },
      { name: 'p3', value: { stringValue: '1.5' }, typeHint: 'DECIMAL' },
      { name: 'p4', value: { booleanValue: true } },
      { name: 'p5', value: { stringValue: '2025-01-02T03:04:05.000Z' } },
      { name: 'p6', value: { stringValue: '2025-01-02' }, typeHint: 'DATE' },
      { name: 'p7', value: { stringValue: '00000000-0000-4000-8000-000000000000' }, typeHint: 'UUID' },
      { name: 'p8', value: { stringValue: '{"a":[1]}' }, typeHint: 'JSON' },
      { name: 'p9', value: { isNull: true } },
    ]);
  });

  it('sends integers beyond 2^53 exactly, as DECIMAL text (longValue is a JS number)', () => {
    // Act
    const { parameters } = toDataApiStatement('SELECT $1::bigint, $2::bigint, $3::bigint, $4::bigint, $5::int', [
      9007199254740993n,
      p.bigint(-9007199254740993n),
      p.bigint(Number.MAX_SAFE_INTEGER),
      2 ** 60,
      p.int(7),
    ]);
    // Assess
    expect(parameters).toEqual([
      { name: 'p1', value: { stringValue: '9007199254740993' }, typeHint: 'DECIMAL' },
      { name: 'p2', value: { stringValue: '-9007199254740993' }, typeHint: 'DECIMAL' },
      { name: 'p3', value: { longValue: Number.MAX_SAFE_INTEGER } },
      { name: 'p4', value: { stringValue: '1152921504606846976' }, typeHint: 'DECIMAL' },
      { name: 'p5', value: { longValue: 7 } },
    ]);
    expect(() => toDataApiStatement('SELECT $1::int', [p.int(1.5)])).toThrow('Parameter $1: 1.5 is not an integer');
  });

  it('refuses an array parameter with the way out in the message', () => {
    expect(() => toDataApiStatement('SELECT $1', [[1, 2] as never])).toThrow(/array.*jsonb_to_recordset/);
  });

  it('refuses a placeholder without a parameter', () => {
    expect(() => toDataApiStatement('SELECT $2::text', ['a'])).toThrow('Placeholder $2 has no parameter (1 given)');
  });

  it('refuses an invalid timestamp', () => {
    expect(() => toDataApiStatement('SELECT $1', [p.ts('yesterday')])).toThrow('Parameter $1: yesterday is not a valid timestamp');
  });
});

describe('jsonChunks', () => {
  it('keeps every chunk under the byte budget and loses no row', () => {
    const rows = Array.from({ length: 1000 }, (_, i) => ({ i, text: 'x'.repeat(i % 50) }));
    const chunks = [...jsonChunks(rows, 4_000)].map((c) => JSON.parse((c.param.value as JsonText).text) as typeof rows);
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) expect(Buffer.byteLength(JSON.stringify(c))).toBeLessThanOrEqual(4_000);
    expect(chunks.flat()).toEqual(rows);
  });
});
