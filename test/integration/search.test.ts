import { SEARCH_SQL, searchMessages } from '../../lambdas/backfill/search';
import { DRIVERS, type TestDb, testDb } from '../support/db';

describe.each(DRIVERS)('full-text search through the %s driver', (driver) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await testDb(driver);
    await db.direct.execute(`INSERT INTO conversations (conversation_key, source, customer_id, started_at) VALUES
      ('conv-es', 'live', 'cust-es', '2025-01-01T00:00:00Z'), ('conv-en', 'live', 'cust-en', '2025-01-01T00:00:00Z'), ('filler', 'live', NULL, '2025-01-01T00:00:00Z')`);
    const add = (conv: string, key: string, content: string, at: string) =>
      db.direct.execute(
        `INSERT INTO messages (conversation_id, message_key, role, content, created_at, source, language)
         SELECT id, $2::text, 'user', $3::text, $4::timestamptz, 'live', detect_language($3::text) FROM conversations WHERE conversation_key = $1::text`,
        [conv, key, content, at],
      );
    await add('conv-es', 'es1', 'Quiero reservar una cita para cortarme el pelo. ¿Puedo reservar mañana?', '2025-01-01T10:00:00Z');
    await add('conv-es', 'es2', '¿Cuánto cuesta el corte de pelo?', '2025-01-01T10:01:00Z');
    await add('conv-es', 'es3', 'Lo siento, las reservas del sábado están completas', '2025-01-01T10:02:00Z');
    await add('conv-en', 'en1', 'I would like to book a haircut for tomorrow morning', '2025-01-02T10:00:00Z');
    await add('conv-en', 'en2', 'How much does a haircut cost?', '2025-01-02T10:01:00Z');
    await add('conv-en', 'en3', 'Booking confirmed: your haircut is booked for the morning', '2025-01-02T10:02:00Z');
    // filler, so the planner has a reason to use the index
    await db.direct.execute(`INSERT INTO messages (conversation_id, message_key, role, content, created_at, source, language)
      SELECT c.id, 'f' || g, 'assistant', 'mensaje de relleno número ' || g || ' sobre horarios y precios generales', now(), 'live', 'spanish'
      FROM conversations c, generate_series(1, 100000) g WHERE c.conversation_key = 'filler'`);
    await db.direct.execute('ANALYZE messages');
  });
  afterAll(() => db.close());

  it('stems Spanish: "reservar" finds reservar and reservas, the message saying it twice first', async () => {
    const hits = await searchMessages(db.sql, { text: 'reservar' });
    expect(hits.map((h) => h.snippet)).toEqual([expect.stringContaining('«reservar»'), expect.stringContaining('«reservas»')]);
    expect(hits[0]?.snippet).toMatch(/«reservar».*«reservar»/);
    expect(hits[0]?.rank).toBeGreaterThan(hits[1]?.rank ?? 1);
    expect(hits[0]).toMatchObject({
      conversationId: 'conv-es',
      customerId: 'cust-es',
      role: 'user',
      createdAt: '2025-01-01T10:00:00.000Z',
    });
  });

  it('stems English and honours web-search syntax: phrases, OR, exclusion', async () => {
    expect((await searchMessages(db.sql, { text: 'booking' })).map((h) => h.createdAt)).toEqual([
      '2025-01-02T10:02:00.000Z',
      '2025-01-02T10:00:00.000Z',
    ]);
    expect((await searchMessages(db.sql, { text: 'haircut -cost' })).map((h) => h.createdAt).sort()).toEqual([
      '2025-01-02T10:00:00.000Z',
      '2025-01-02T10:02:00.000Z',
    ]);
    // a Spanish phrase matches its stemmed variants too ("cortarme el pelo"), the exact one first
    expect((await searchMessages(db.sql, { text: '"corte de pelo"' })).map((h) => h.snippet)).toEqual([
      expect.stringContaining('«corte» de «pelo»'),
      expect.stringContaining('«cortarme» el «pelo»'),
    ]);
    expect((await searchMessages(db.sql, { text: 'cuesta OR cost' })).map((h) => h.conversationId).sort()).toEqual(['conv-en', 'conv-es']);
  });

  it('filters by conversation, customer and time', async () => {
    expect(await searchMessages(db.sql, { text: 'haircut', customerId: 'cust-es' })).toEqual([]);
    expect((await searchMessages(db.sql, { text: 'haircut', conversationId: 'conv-en', from: '2025-01-02T10:01:00Z' })).length).toBe(2);
    expect((await searchMessages(db.sql, { text: 'haircut', to: '2025-01-02T10:00:30Z' })).length).toBe(1);
  });

  it('refuses empty or absurd queries clearly', async () => {
    await expect(searchMessages(db.sql, { text: '   ' })).rejects.toThrow('Empty search');
    await expect(searchMessages(db.sql, { text: 'x', limit: 0 })).rejects.toThrow('limit must be 1–500');
    await expect(searchMessages(db.sql, { text: 'x', from: 'ayer' })).rejects.toThrow('from "ayer" is not a date');
    expect(await searchMessages(db.sql, { text: '&|!:*()' })).toEqual([]); // operators alone: no error, no hit
  });

  it('uses the GIN index', async () => {
    const sql = SEARCH_SQL.replace(/\$1::text/g, "'reservar'")
      .replace(/\$2::text|\$3::text/g, 'NULL::text')
      .replace(/\$4::timestamptz|\$5::timestamptz/g, 'NULL::timestamptz')
      .replace('$6::int', '20')
      .replace('$7::int', '1000');
    const plan = (await db.direct.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`)).map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toMatch(/Bitmap Index Scan on messages_search_idx/);
  });
});
