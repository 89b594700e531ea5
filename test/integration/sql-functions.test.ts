import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sentence } from '../../local/fixtures';
import { DRIVERS, type TestDb, testDb } from '../support/db';

/** detect_language as migration 004 wrote it (011 replaced it with an inlinable, `~*` form), read from that file. */
const DETECT_LANGUAGE_004 = (() => {
  const file = readFileSync(join(__dirname, '..', '..', 'sql', '004_backfill.sql'), 'utf8');
  const start = file.indexOf('CREATE FUNCTION detect_language(');
  const end = file.indexOf('$$;', start) + 3;
  if (start < 0 || end < 3) throw new Error('detect_language not found in sql/004_backfill.sql');
  return file.slice(start, end).replace('CREATE FUNCTION detect_language(', 'CREATE FUNCTION pg_temp.detect_language_004(');
})();

describe.each(DRIVERS)('shared SQL functions through the %s driver', (driver) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await testDb(driver);
  });
  afterAll(() => db.close());

  it.each([
    ['Hola, quiero reservar una cita para mañana', 'spanish'],
    ['¿Tienen hueco el martes?', 'spanish'],
    ['Hello, I would like to book a haircut for tomorrow', 'english'],
    ['Can you confirm the price please', 'english'],
    ['12:30', 'simple'],
    ['', 'simple'],
  ])('detect_language(%j) = %s', async (text, lang) => {
    const [row] = await db.sql.query<{ l: string }>('SELECT detect_language($1::text) AS l', [text]);
    expect(row?.l).toBe(lang);
  });

  it("detect_language decides as 004's definition did on mixed-case Spanish, English and mixed text", async () => {
    const texts: string[] = [];
    for (let i = 0; i < 400; i++) {
      const t = sentence(i, 3 + (i % 12));
      texts.push(
        t,
        t.toUpperCase(),
        t.replace(/\b\w/g, (c) => c.toUpperCase()),
        `${t} THANKS`,
        `¿${t}?`,
        `Ñandú ${t}`,
        `${t} 😀 ${i}`,
      );
    }
    texts.push(
      'CITA',
      'The CITA',
      'QUIERO BOOK',
      'ÁRBOL',
      `${'x'.repeat(600)} hola`,
      'hola'.padStart(499, ' '),
      'SOBRE-THE',
      'the_que',
      '',
    );
    const rows = await db.direct.transaction(async (tx) => {
      await tx.execute(DETECT_LANGUAGE_004);
      return tx.query<{ t: string; now: string; then: string }>(
        `SELECT r.t, detect_language(r.t) AS now, pg_temp.detect_language_004(r.t) AS then FROM json_to_recordset($1::json) AS r(t text)`,
        [{ sqlType: 'jsonb', value: texts.map((t) => ({ t })) }],
      );
    });
    expect(rows).toHaveLength(texts.length);
    expect(new Set(rows.map((r) => r.now))).toEqual(new Set(['spanish', 'english', 'simple']));
    expect(rows.filter((r) => r.now !== r.then)).toEqual([]);
  });

  it.each([
    ['{"text":"hi","message":"no"}', 'hi'],
    ['{"text":"","message":"from message"}', 'from message'],
    ['{"text":{"nested":1},"content":"from content"}', 'from content'],
    ['{"body":"from body"}', 'from body'],
    ['"a bare string"', 'a bare string'],
    ['{"other":[1,2]}', '{"other": [1, 2]}'],
    ['[1,"x"]', '[1, "x"]'],
    ['42', '42'],
    ['{}', null],
    ['null', null],
  ])('audit_message_text(%s) = %j', async (payload, text) => {
    const [row] = await db.sql.query<{ t: string | null }>('SELECT audit_message_text($1::jsonb) AS t', [payload]);
    expect(row?.t).toBe(text);
  });

  it('cuts the JSON fallback to 1,000 characters and maps roles as seed 003 does', async () => {
    const [row] = await db.sql.query<{ n: number; roles: string[] }>(
      `SELECT length(audit_message_text(jsonb_build_object('k', repeat('x', 5000)))) AS n,
              ARRAY[audit_message_role('customer'), audit_message_role('USER'), audit_message_role('agent'), audit_message_role('assistant'),
                    audit_message_role('system'), audit_message_role('tool'), coalesce(audit_message_role('admin'), '-'), coalesce(audit_message_role(NULL), '-')]::text AS roles`,
    );
    expect(row?.n).toBe(1000);
    expect(row?.roles).toBe('{user,user,assistant,assistant,system,tool,-,-}');
  });
});
