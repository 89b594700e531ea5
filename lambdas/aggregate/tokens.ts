/**
 * Seed 002's per-user and per-platform daily token figures (UTC days, as the seed's views) as
 * tables, refreshed incrementally: only the days of messages written or edited since the last
 * refresh are recomputed (with a 5-minute overlap for transactions that committed late), with the
 * cost from analytics_cost_config. Rows of a recomputed day that lost all their messages are zeroed.
 */
import type { SqlExecutor } from '../shared/sql/types';

export const TOKEN_MARK = 'analytics_token_daily';

const COST = `(GREATEST(m.input_tokens - m.cached_tokens, 0) * p.input_usd_per_million
             + m.cached_tokens * p.cached_usd_per_million + m.output_tokens * p.output_usd_per_million) / 1000000.0`;
const UNPRICED = '(p.model IS NULL AND m.input_tokens + m.output_tokens > 0)';

/** `$1`: only messages changed after this instant (NULL: every day). `$2`: changed up to this mark. */
const REFRESH = `
WITH days AS (
  SELECT DISTINCT (created_at AT TIME ZONE 'UTC')::date AS day FROM messages
  WHERE ($1::text IS NULL OR COALESCE(updated_at, inserted_at) > $1::text::timestamptz - interval '5 minutes')
    AND COALESCE(updated_at, inserted_at) <= $2::text::timestamptz
), src AS (
  SELECT d.day, m.*, c.user_id, c.platform, ${COST} AS cost, ${UNPRICED} AS unpriced
  FROM days d
  JOIN messages m ON m.created_at >= d.day::timestamp AT TIME ZONE 'UTC' AND m.created_at < (d.day + 1)::timestamp AT TIME ZONE 'UTC'
  JOIN conversations c ON c.id = m.conversation_id
  LEFT JOIN analytics_cost_config p ON p.model = m.model
  WHERE NOT m.is_archived
), u AS (
  SELECT day AS period_date, COALESCE(user_id, '') AS user_key,
         sum(input_tokens)::bigint AS input_tokens, sum(output_tokens)::bigint AS output_tokens,
         sum(cached_tokens)::bigint AS cached_tokens, sum(reasoning_tokens)::bigint AS reasoning_tokens,
         count(*)::int AS message_count, count(*) FILTER (WHERE role = 'user')::int AS user_message_count,
         count(*) FILTER (WHERE role = 'assistant')::int AS assistant_message_count,
         count(DISTINCT event_id)::int AS event_count, count(DISTINCT conversation_id)::int AS session_count,
         COALESCE(round(sum(cost), 6), 0) AS estimated_cost_usd, count(*) FILTER (WHERE unpriced)::int AS unpriced_messages,
         max(inserted_at) AS last_message_inserted_at
  FROM src GROUP BY 1, 2
), pl AS (
  SELECT day AS period_date, COALESCE(platform, '') AS platform_key,
         sum(input_tokens)::bigint AS input_tokens, sum(output_tokens)::bigint AS output_tokens,
         sum(cached_tokens)::bigint AS cached_tokens, sum(reasoning_tokens)::bigint AS reasoning_tokens,
         count(*)::int AS message_count, count(DISTINCT user_id)::int AS user_count,
         count(DISTINCT conversation_id)::int AS session_count,
         COALESCE(round(sum(cost), 6), 0) AS estimated_cost_usd, count(*) FILTER (WHERE unpriced)::int AS unpriced_messages
  FROM src GROUP BY 1, 2
), up_u AS (
  INSERT INTO analytics_token_user_daily AS t (period_date, user_key, input_tokens, output_tokens, cached_tokens, reasoning_tokens,
    message_count, user_message_count, assistant_message_count, event_count, session_count, estimated_cost_usd, unpriced_messages,
    last_message_inserted_at, computed_at)
  SELECT *, now() FROM u
  ON CONFLICT (period_date, user_key) DO UPDATE SET input_tokens = EXCLUDED.input_tokens, output_tokens = EXCLUDED.output_tokens,
    cached_tokens = EXCLUDED.cached_tokens, reasoning_tokens = EXCLUDED.reasoning_tokens, message_count = EXCLUDED.message_count,
    user_message_count = EXCLUDED.user_message_count, assistant_message_count = EXCLUDED.assistant_message_count,
    event_count = EXCLUDED.event_count, session_count = EXCLUDED.session_count, estimated_cost_usd = EXCLUDED.estimated_cost_usd,
    unpriced_messages = EXCLUDED.unpriced_messages, last_message_inserted_at = EXCLUDED.last_message_inserted_at, computed_at = now()
  RETURNING 1
), up_p AS (
  INSERT INTO analytics_token_platform_daily AS t (period_date, platform_key, input_tokens, output_tokens, cached_tokens, reasoning_tokens,
    message_count, user_count, session_count, estimated_cost_usd, unpriced_messages, computed_at)
  SELECT *, now() FROM pl
  ON CONFLICT (period_date, platform_key) DO UPDATE SET input_tokens = EXCLUDED.input_tokens, output_tokens = EXCLUDED.output_tokens,
    cached_tokens = EXCLUDED.cached_tokens, reasoning_tokens = EXCLUDED.reasoning_tokens, message_count = EXCLUDED.message_count,
    user_count = EXCLUDED.user_count, session_count = EXCLUDED.session_count, estimated_cost_usd = EXCLUDED.estimated_cost_usd,
    unpriced_messages = EXCLUDED.unpriced_messages, computed_at = now()
  RETURNING 1
), zero_u AS (
  UPDATE analytics_token_user_daily t SET input_tokens = 0, output_tokens = 0, cached_tokens = 0, reasoning_tokens = 0, message_count = 0,
    user_message_count = 0, assistant_message_count = 0, event_count = 0, session_count = 0, estimated_cost_usd = 0, unpriced_messages = 0,
    computed_at = now()
  FROM days WHERE t.period_date = days.day AND t.message_count > 0
    AND NOT EXISTS (SELECT 1 FROM u WHERE u.period_date = t.period_date AND u.user_key = t.user_key)
  RETURNING 1
), zero_p AS (
  UPDATE analytics_token_platform_daily t SET input_tokens = 0, output_tokens = 0, cached_tokens = 0, reasoning_tokens = 0, message_count = 0,
    user_count = 0, session_count = 0, estimated_cost_usd = 0, unpriced_messages = 0, computed_at = now()
  FROM days WHERE t.period_date = days.day AND t.message_count > 0
    AND NOT EXISTS (SELECT 1 FROM pl WHERE pl.period_date = t.period_date AND pl.platform_key = t.platform_key)
  RETURNING 1
)
SELECT (SELECT count(*) FROM days)::int AS days, (SELECT count(*) FROM up_u)::int AS user_rows, (SELECT count(*) FROM up_p)::int AS platform_rows,
       (SELECT count(*) FROM zero_u)::int + (SELECT count(*) FROM zero_p)::int AS zeroed`;

export interface TokenRefresh {
  days: number;
  userRows: number;
  platformRows: number;
  zeroed: number;
}

/** One refresh, in the caller's transaction (which holds the job's advisory lock). `full`: every day. */
export async function refreshTokenRollups(tx: SqlExecutor, options: { full?: boolean } = {}): Promise<TokenRefresh> {
  const [w] = await tx.query<{ through: string | null }>(
    'SELECT aggregated_through::text AS through FROM agg_watermarks WHERE agg_table = $1::text FOR UPDATE',
    [TOKEN_MARK],
  );
  const [m] = await tx.query<{ mark: string | null }>(
    'SELECT max(COALESCE(updated_at, inserted_at))::text AS mark FROM messages' /* text: keeps the microseconds */,
  );
  const mark = m?.mark ?? new Date(0).toISOString();
  const since = options.full ? null : (w?.through ?? null);
  const [r] = await tx.query<{ days: number; user_rows: number; platform_rows: number; zeroed: number }>(REFRESH, [
    { sqlType: 'text', value: since },
    { sqlType: 'text', value: mark },
  ]);
  await tx.execute(
    `INSERT INTO agg_watermarks (agg_table, unit, time_zone, event_types, aggregated_through) VALUES ($1::text, 'day', 'UTC', '{}', $2::text::timestamptz)
     ON CONFLICT (agg_table, time_zone) DO UPDATE SET aggregated_through = GREATEST(agg_watermarks.aggregated_through, EXCLUDED.aggregated_through), updated_at = now()`,
    [
      { sqlType: 'text', value: TOKEN_MARK },
      { sqlType: 'text', value: mark },
    ],
  );
  return { days: r?.days ?? 0, userRows: r?.user_rows ?? 0, platformRows: r?.platform_rows ?? 0, zeroed: r?.zeroed ?? 0 };
}
