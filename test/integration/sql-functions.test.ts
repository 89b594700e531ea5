import { DRIVERS, type TestDb, testDb } from '../support/db';

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
