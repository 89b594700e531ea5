/**
 * Full-text search over messages, Spanish and English: web-search syntax ("quoted phrases",
 * OR, -excluded), ranked, filtered by conversation, customer and time, with highlighted snippets.
 *
 * Each message is indexed with its own language's stemmer (`messages.language`). The query is
 * parsed once per configuration; their OR is a constant tsquery the GIN index can use (a superset
 * of the answer), then each candidate is checked and ranked with the query of its own language,
 * so stemming and exclusions are exact. At most MAX_CANDIDATES index matches are ranked: below
 * that the ranking is exact; a broader query (a very common word) is ranked among the first
 * MAX_CANDIDATES found — narrow it with a filter (time, conversation, customer) for exactness.
 */
import { p, type Sql } from '../shared/sql/types';

export interface SearchQuery {
  readonly text: string;
  readonly conversationId?: string;
  readonly customerId?: string;
  readonly from?: string;
  readonly to?: string;
  /** @default 20 */
  readonly limit?: number;
}

export interface SearchHit {
  readonly messageId: number;
  readonly conversationId: string;
  readonly customerId: string | null;
  readonly role: string;
  readonly createdAt: string;
  readonly rank: number;
  /** The matching fragments, terms between «…». */
  readonly snippet: string;
}

/** Candidates ranked per query: exact ranking below this many matches, a bounded cost above. */
export const MAX_CANDIDATES = 1_000;

export const SEARCH_SQL = `
  WITH q AS (
    SELECT websearch_to_tsquery('spanish', $1::text) AS es, websearch_to_tsquery('english', $1::text) AS en,
           websearch_to_tsquery('simple', $1::text) AS si
  ), cand AS (
    SELECT m.id, m.conversation_id, m.role, m.created_at, m.content, m.language, m.search_vector,
           CASE m.language WHEN 'spanish' THEN q.es WHEN 'english' THEN q.en ELSE q.si END AS lq
    FROM q, messages m
    WHERE m.search_vector @@ (q.es || q.en || q.si)
      AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM conversations c WHERE c.id = m.conversation_id AND c.conversation_key = $2::text))
      AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM conversations c WHERE c.id = m.conversation_id AND c.customer_id = $3::text))
      AND ($4::timestamptz IS NULL OR m.created_at >= $4::timestamptz)
      AND ($5::timestamptz IS NULL OR m.created_at < $5::timestamptz)
    LIMIT $7::int
  ), ranked AS (
    SELECT cand.*, ts_rank_cd(search_vector, lq, 32)::float8 AS rank
    FROM cand WHERE search_vector @@ lq
    ORDER BY rank DESC, created_at DESC, id DESC
    LIMIT $6::int
  )
  SELECT r.id AS "messageId", c.conversation_key AS "conversationId", c.customer_id AS "customerId",
         r.role, r.created_at AS "createdAt", r.rank,
         ts_headline(r.language::regconfig, left(r.content, 10000), r.lq,
                     'StartSel=«, StopSel=», MaxFragments=2, MaxWords=18, MinWords=6, FragmentDelimiter=" … "') AS snippet
  FROM ranked r JOIN conversations c ON c.id = r.conversation_id
  ORDER BY r.rank DESC, r.created_at DESC, r.id DESC`;

export class SearchError extends Error {
  override readonly name = 'SearchError';
}

export async function searchMessages(sql: Sql, q: SearchQuery): Promise<SearchHit[]> {
  const text = q.text.trim();
  if (!text) throw new SearchError('Empty search: give one or more words, "a phrase", or -word to exclude');
  if (text.length > 1_000) throw new SearchError('Search text is longer than 1,000 characters');
  const limit = q.limit ?? 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new SearchError('limit must be 1–500');
  for (const [k, v] of [
    ['from', q.from],
    ['to', q.to],
  ] as const) {
    if (v !== undefined && Number.isNaN(Date.parse(v))) throw new SearchError(`${k} "${v}" is not a date`);
  }
  return sql.query<SearchHit & Record<string, unknown>>(SEARCH_SQL, [
    text,
    p.text(q.conversationId ?? null),
    p.text(q.customerId ?? null),
    p.ts(q.from ?? null),
    p.ts(q.to ?? null),
    limit,
    MAX_CANDIDATES,
  ]);
}
