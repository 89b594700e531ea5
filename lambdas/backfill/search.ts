/**
 * Full-text search over messages, Spanish and English: web-search syntax ("quoted phrases",
 * OR, -excluded), ranked, filtered by conversation, customer and time, with highlighted snippets.
 *
 * Each message is indexed with its own language's stemmer (`messages.language`). The query is
 * parsed with the three configurations OR'ed together — a constant tsquery the GIN index can
 * use, and a superset of the answer — then each row is checked and ranked with the query parsed
 * in that row's own language, so stemming and exclusions are exact.
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

export const SEARCH_SQL = `
  WITH q AS (
    SELECT websearch_to_tsquery('spanish', $1::text) || websearch_to_tsquery('english', $1::text)
           || websearch_to_tsquery('simple', $1::text) AS any_lang
  )
  SELECT m.id AS "messageId", c.conversation_key AS "conversationId", c.customer_id AS "customerId",
         m.role, m.created_at AS "createdAt",
         ts_rank_cd(m.search_vector, websearch_to_tsquery(m.language::regconfig, $1::text), 32)::float8 AS rank,
         ts_headline(m.language::regconfig, left(m.content, 10000), websearch_to_tsquery(m.language::regconfig, $1::text),
                     'StartSel=«, StopSel=», MaxFragments=2, MaxWords=18, MinWords=6, FragmentDelimiter=" … "') AS snippet
  FROM q, messages m
  JOIN conversations c ON c.id = m.conversation_id
  WHERE m.search_vector @@ q.any_lang
    AND m.search_vector @@ websearch_to_tsquery(m.language::regconfig, $1::text)
    AND ($2::text IS NULL OR c.conversation_key = $2::text)
    AND ($3::text IS NULL OR c.customer_id = $3::text)
    AND ($4::timestamptz IS NULL OR m.created_at >= $4::timestamptz)
    AND ($5::timestamptz IS NULL OR m.created_at < $5::timestamptz)
  ORDER BY rank DESC, m.created_at DESC, m.id DESC
  LIMIT $6::int`;

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
  ]);
}
