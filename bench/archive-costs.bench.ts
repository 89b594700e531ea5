/**
 * Where an archived message row's database time goes: the archive's own INSERT … SELECT, on one
 * backend, in statements of 4,000 rows (as the job writes them), against the schema as deployed and
 * against the same schema without one part at a time (a fresh database each, the faster of two runs).
 * Work PostgreSQL defers (GIN pending-list merges by autovacuum) is not in these figures. A benchmark of the
 * schema, not of the client: the rows are staged server-side first, so only the insert is timed.
 */
import { jsonChunks } from '../lambdas/shared/sql/bulk';
import { HOUR_MS, sentence } from '../local/fixtures';
import { withMigratedDatabase } from './db';

interface Variant {
  readonly name: string;
  readonly ddl: readonly string[];
  /** The job detects each message's language in SQL; here it can be given instead. */
  readonly languageGiven?: boolean;
}

const DROP_GIN = 'DROP INDEX messages_search_idx';
const DROP_TSVECTOR = 'ALTER TABLE messages DROP COLUMN search_vector';
const DROP_FK = 'ALTER TABLE messages DROP CONSTRAINT messages_conversation_id_fkey';
const DROP_ORDER = 'DROP INDEX messages_conversation_order_idx';
const DROP_CREATED = 'DROP INDEX messages_created_idx';

export const VARIANTS: readonly Variant[] = [
  { name: 'as deployed', ddl: [] },
  { name: 'without the GIN index', ddl: [DROP_GIN] },
  { name: 'without full text (tsvector + GIN)', ddl: [DROP_GIN, DROP_TSVECTOR] },
  { name: 'without detect_language()', ddl: [], languageGiven: true },
  { name: 'without the foreign key', ddl: [DROP_FK] },
  { name: 'without the (conversation, time, seq) index', ddl: [DROP_ORDER] },
  { name: 'without the created_at index', ddl: [DROP_CREATED] },
  {
    name: 'none of these (primary and idempotency keys only)',
    ddl: [DROP_GIN, DROP_TSVECTOR, DROP_FK, DROP_ORDER, DROP_CREATED],
    languageGiven: true,
  },
];

const ROWS_PER_STATEMENT = 4_000;

async function costOf(adminUrl: string, variant: Variant, conversations: number, perConversation: number): Promise<number> {
  return withMigratedDatabase(adminUrl, { prefix: 'costs', maxConnections: 1 }, async (sql) => {
    for (const statement of variant.ddl) await sql.execute(statement);
    await sql.execute(
      `INSERT INTO conversations (conversation_key, source, customer_id, started_at)
       SELECT 'c-' || g, 'redis_archive', 'cust-' || g % 5000, now() - interval '23 hours 30 minutes'
       FROM generate_series(0, $1::int - 1) g`,
      [conversations],
    );
    await sql.execute(`CREATE UNLOGGED TABLE stage (batch int, ck text, k text, s int, r text, c text, t timestamptz, lang text)`);
    const ts = Date.now() - 23.5 * HOUR_MS;
    const rows = function* () {
      for (let i = 0; i < conversations; i++)
        for (let j = 0; j < perConversation; j++)
          yield {
            batch: Math.floor((i * perConversation + j) / ROWS_PER_STATEMENT),
            ck: `c-${i}`,
            k: `m-${j}`,
            s: j,
            r: j % 2 ? 'assistant' : 'user',
            c: sentence(i * 31 + j, 14),
            t: new Date(ts + j * 20_000).toISOString(),
          };
    };
    for (const chunk of jsonChunks(rows()))
      await sql.execute(
        `INSERT INTO stage SELECT r.*, detect_language(r.c)
         FROM jsonb_to_recordset($1::jsonb) AS r(batch int, ck text, k text, s int, r text, c text, t timestamptz)`,
        [chunk.param],
      );
    await sql.execute('ANALYZE stage');
    const batches = Math.ceil((conversations * perConversation) / ROWS_PER_STATEMENT);
    const language = variant.languageGiven ? 'x.lang' : 'detect_language(x.c)';
    let ms = 0;
    for (let b = 0; b < batches; b++) {
      const t = performance.now();
      await sql.execute(
        `INSERT INTO messages (conversation_id, message_key, seq, role, content, created_at, source, language)
         SELECT c.id, x.k, x.s, x.r, x.c, x.t, 'redis_archive', ${language}
         FROM stage x JOIN conversations c ON c.conversation_key = x.ck
         WHERE x.batch = $1::int ORDER BY x.ck, x.s
         ON CONFLICT (conversation_id, message_key) DO NOTHING`,
        [b],
      );
      ms += performance.now() - t;
    }
    return (ms * 1000) / (conversations * perConversation);
  });
}

export async function benchArchiveCosts(
  adminUrl: string,
  conversations: number,
  perConversation: number,
): Promise<{ variant: string; microsPerRow: number }[]> {
  // Each variant twice (fresh databases), keeping the faster: run-to-run noise is a few µs.
  const out: { variant: string; microsPerRow: number }[] = [];
  for (const variant of VARIANTS) {
    const first = await costOf(adminUrl, variant, conversations, perConversation);
    const second = await costOf(adminUrl, variant, conversations, perConversation);
    out.push({ variant: variant.name, microsPerRow: Math.min(first, second) });
  }
  return out;
}
