-- Views with the seeds' names, over the single source of truth (seed 002's principle).

-- A text → bigint that yields NULL instead of failing the whole view on a junk JSON value.
CREATE FUNCTION safe_bigint(value text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN value ~ '^\s*-?\d{1,18}(\.\d+)?\s*$' THEN round(value::numeric)::bigint END
$$;

-- Seed 000's table, with the original worker's columns. Its operator SQL runs unchanged:
--   SELECT * FROM conversation_history WHERE conversation_id = '...';
CREATE VIEW conversation_history AS
SELECT m.id,
       c.customer_id,
       c.conversation_key AS conversation_id,
       m.created_at       AS "timestamp",
       m.role             AS message_role,
       m.content          AS message_content,
       m.metadata
FROM messages m
JOIN conversations c ON c.id = m.conversation_id;

-- Seed 000's manual `DELETE FROM conversation_history WHERE timestamp < ...` would bypass the
-- export to cold storage (invariant 3). Refuse it with a message saying what to do instead.
CREATE FUNCTION conversation_history_refuse_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'conversation_history is a read-only view: delete old history with the retention job, which exports to S3 and verifies before deleting'
    USING ERRCODE = 'object_not_in_prerequisite_state';
END
$$;
CREATE TRIGGER conversation_history_no_write
INSTEAD OF INSERT OR UPDATE OR DELETE ON conversation_history
FOR EACH ROW EXECUTE FUNCTION conversation_history_refuse_write();

-- Seed 002: analytics_messages_view (chat_messages → messages + conversations).
CREATE VIEW analytics_messages_view AS
SELECT m.id,
       m.message_key                        AS message_id,
       c.conversation_key                   AS session_id,
       c.conversation_key                   AS conversation_id,
       NULL::bigint                         AS parent_message_id,
       m.seq                                AS sequence,
       m.role,
       m.content,
       NULL::text                           AS content_hash,
       m.visibility,
       m.is_archived,
       m.is_pinned,
       m.event_id,
       NULL::text                           AS trigger_message_id,
       NULL::text                           AS platform_message_id,
       c.platform,
       c.user_id,
       c.username,
       c.external_id                        AS chat_id,
       oe.repo,
       m.input_tokens,
       m.output_tokens,
       m.cached_tokens,
       m.reasoning_tokens,
       m.model,
       m.created_at,
       COALESCE(m.updated_at, m.created_at) AS updated_at,
       m.metadata
FROM messages m
JOIN conversations c ON c.id = m.conversation_id
LEFT JOIN observability_events oe ON oe.event_id = m.event_id;

-- Seed 002: analytics_agent_steps_view, one row per element of observability_events.agents,
-- numbered with ORDINALITY (sequence 0-based as in the seed's json_each key).
CREATE VIEW analytics_agent_steps_view AS
SELECT oe.event_id || '-' || (a.ord - 1)                      AS step_id,
       oe.event_id,
       NULL::text                                             AS message_id,
       NULL::text                                             AS parent_step_id,
       a.agent ->> 'name'                                     AS agent_name,
       a.agent ->> 'type'                                     AS agent_type,
       (a.ord - 1)::integer                                   AS sequence,
       oe.triggered_at                                        AS started_at,
       oe.completed_at,
       COALESCE(safe_bigint(a.agent ->> 'duration_ms'), 0)     AS duration_ms,
       0                                                      AS queue_time_ms,
       CASE WHEN oe.status = 'success' THEN 'success' ELSE 'error' END AS status,
       COALESCE(safe_bigint(a.agent ->> 'input_tokens'), 0)    AS input_tokens,
       COALESCE(safe_bigint(a.agent ->> 'output_tokens'), 0)   AS output_tokens,
       COALESCE(safe_bigint(a.agent ->> 'cached_tokens'), 0)   AS cached_tokens,
       COALESCE(safe_bigint(a.agent ->> 'reasoning_tokens'), 0) AS reasoning_tokens,
       a.agent ->> 'model'                                    AS model,
       a.agent -> 'tools'                                     AS tools_used,
       COALESCE(safe_bigint(a.agent ->> 'tool_calls'), 0)      AS tool_calls_count,
       a.agent -> 'workers'                                   AS workers_json,
       NULL::text                                             AS error_type,
       NULL::text                                             AS error_message,
       0                                                      AS retry_count,
       NULL::jsonb                                            AS metadata,
       oe.created_at
FROM observability_events oe
CROSS JOIN LATERAL jsonb_array_elements(oe.agents) WITH ORDINALITY AS a (agent, ord)
WHERE oe.agents IS NOT NULL
  AND jsonb_typeof(a.agent) = 'object';

-- Seed 002: analytics_conversations_view, per-conversation statistics of non-archived messages.
CREATE VIEW analytics_conversations_view AS
SELECT c.conversation_key                              AS conversation_id,
       c.user_id,
       c.platform,
       c.title,
       c.summary,
       c.visibility,
       c.is_archived,
       false                                           AS is_starred,
       count(m.id)::integer                            AS message_count,
       1                                               AS session_count,
       COALESCE(sum(m.input_tokens + m.output_tokens), 0)::bigint AS total_tokens,
       min(m.created_at)                               AS first_message_at,
       max(m.created_at)                               AS last_message_at,
       c.created_at,
       GREATEST(c.updated_at, max(COALESCE(m.updated_at, m.created_at))) AS updated_at,
       c.metadata
FROM conversations c
JOIN messages m ON m.conversation_id = c.id AND NOT m.is_archived
GROUP BY c.id;

-- Seed 002: token aggregates per user and per platform and UTC day (period bounds in epoch ms,
-- as the seed's consumers expect; `period_date` added for humans).
CREATE VIEW analytics_user_daily_view AS
SELECT 'user_daily'                                       AS aggregate_type,
       c.user_id                                          AS aggregate_key,
       'day'                                              AS period_type,
       d.day                                              AS period_date,
       (extract(epoch FROM d.day) * 1000)::bigint          AS period_start,
       (extract(epoch FROM d.day + 1) * 1000)::bigint      AS period_end,
       sum(m.input_tokens)::bigint                        AS input_tokens,
       sum(m.output_tokens)::bigint                       AS output_tokens,
       sum(m.input_tokens + m.output_tokens)::bigint      AS total_tokens,
       sum(m.cached_tokens)::bigint                       AS cached_tokens,
       sum(m.reasoning_tokens)::bigint                    AS reasoning_tokens,
       count(*)::integer                                  AS message_count,
       count(*) FILTER (WHERE m.role = 'user')::integer      AS user_message_count,
       count(*) FILTER (WHERE m.role = 'assistant')::integer AS assistant_message_count,
       count(DISTINCT m.event_id)::integer                AS event_count,
       count(DISTINCT m.conversation_id)::integer         AS session_count,
       0                                                  AS estimated_cost_usd,
       max(m.inserted_at)                                 AS last_computed_at,
       max(m.inserted_at)                                 AS created_at
FROM messages m
JOIN conversations c ON c.id = m.conversation_id
CROSS JOIN LATERAL (SELECT (m.created_at AT TIME ZONE 'UTC')::date AS day) d
WHERE NOT m.is_archived
GROUP BY c.user_id, d.day;

CREATE VIEW analytics_platform_daily_view AS
SELECT 'platform_daily'                                   AS aggregate_type,
       c.platform                                         AS aggregate_key,
       'day'                                              AS period_type,
       d.day                                              AS period_date,
       (extract(epoch FROM d.day) * 1000)::bigint          AS period_start,
       (extract(epoch FROM d.day + 1) * 1000)::bigint      AS period_end,
       sum(m.input_tokens)::bigint                        AS input_tokens,
       sum(m.output_tokens)::bigint                       AS output_tokens,
       sum(m.input_tokens + m.output_tokens)::bigint      AS total_tokens,
       count(*)::integer                                  AS message_count,
       count(DISTINCT c.user_id)::integer                 AS user_count,
       count(DISTINCT m.conversation_id)::integer         AS session_count
FROM messages m
JOIN conversations c ON c.id = m.conversation_id
CROSS JOIN LATERAL (SELECT (m.created_at AT TIME ZONE 'UTC')::date AS day) d
WHERE NOT m.is_archived
GROUP BY c.platform, d.day;
