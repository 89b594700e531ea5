-- Issue 14: analytics ingestion (SQS → ingest Lambda) and the seven aggregation jobs.
-- Adds tables only; no existing agg_* column is renamed or dropped.

-- Events that failed validation: kept with the raw text and the reason, never dropped.
-- (Migration 007, retention, creates the same table IF NOT EXISTS: keep the definitions identical.)
CREATE TABLE IF NOT EXISTS analytics_events_rejected (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id    text,
  raw         text NOT NULL,
  reason      text NOT NULL,
  source      text NOT NULL DEFAULT 'sqs',
  rejected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS analytics_events_rejected_at_idx ON analytics_events_rejected (rejected_at);

-- Per aggregate table: how far its closed periods have been aggregated, in which zone, from which
-- event types. Ingest reads it (FOR SHARE) to know whether an event lands in an aggregated period.
CREATE TABLE agg_watermarks (
  agg_table          text PRIMARY KEY,
  unit               text NOT NULL CHECK (unit IN ('hour', 'day', 'week', 'month')),
  time_zone          text NOT NULL,
  event_types        text[] NOT NULL,
  aggregated_through timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL DEFAULT now()
);

-- The late-data invalidation log: one row per (aggregate table, property, period) whose events
-- changed after the period was aggregated. `period_start` is the period's first instant in the
-- aggregation time zone. Each job claims (deletes) its rows in the transaction that recomputes them.
CREATE TABLE agg_invalidations (
  agg_table      text NOT NULL,
  property_id    text NOT NULL,
  period_start   timestamptz NOT NULL,
  invalidated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agg_table, property_id, period_start)
);

-- Seed 002's cost: USD per million tokens per model (input excludes cached tokens, which have their price).
CREATE TABLE analytics_cost_config (
  model                   text PRIMARY KEY CHECK (length(model) > 0),
  input_usd_per_million   numeric(12, 6) NOT NULL CHECK (input_usd_per_million >= 0),
  output_usd_per_million  numeric(12, 6) NOT NULL CHECK (output_usd_per_million >= 0),
  cached_usd_per_million  numeric(12, 6) NOT NULL CHECK (cached_usd_per_million >= 0),
  updated_at              timestamptz NOT NULL DEFAULT now()
);
INSERT INTO analytics_cost_config (model, input_usd_per_million, output_usd_per_million, cached_usd_per_million) VALUES
  ('gpt-4o-mini', 0.15, 0.60, 0.075),
  ('gpt-4o', 2.50, 10.00, 1.25);

-- Seed 002's per-user and per-platform daily token figures (UTC days), refreshed incrementally by
-- the hourly job. `user_key`/`platform_key` are '' when the conversation has none (NULL in the views).
CREATE TABLE analytics_token_user_daily (
  period_date             date NOT NULL,
  user_key                text NOT NULL,
  input_tokens            bigint NOT NULL DEFAULT 0,
  output_tokens           bigint NOT NULL DEFAULT 0,
  cached_tokens           bigint NOT NULL DEFAULT 0,
  reasoning_tokens        bigint NOT NULL DEFAULT 0,
  message_count           integer NOT NULL DEFAULT 0,
  user_message_count      integer NOT NULL DEFAULT 0,
  assistant_message_count integer NOT NULL DEFAULT 0,
  event_count             integer NOT NULL DEFAULT 0,
  session_count           integer NOT NULL DEFAULT 0,
  estimated_cost_usd      numeric(18, 6) NOT NULL DEFAULT 0,
  unpriced_messages       integer NOT NULL DEFAULT 0,
  last_message_inserted_at timestamptz,
  computed_at             timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (period_date, user_key)
);

CREATE TABLE analytics_token_platform_daily (
  period_date        date NOT NULL,
  platform_key       text NOT NULL,
  input_tokens       bigint NOT NULL DEFAULT 0,
  output_tokens      bigint NOT NULL DEFAULT 0,
  cached_tokens      bigint NOT NULL DEFAULT 0,
  reasoning_tokens   bigint NOT NULL DEFAULT 0,
  message_count      integer NOT NULL DEFAULT 0,
  user_count         integer NOT NULL DEFAULT 0,
  session_count      integer NOT NULL DEFAULT 0,
  estimated_cost_usd numeric(18, 6) NOT NULL DEFAULT 0,
  unpriced_messages  integer NOT NULL DEFAULT 0,
  computed_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (period_date, platform_key)
);

-- Which messages changed since the last refresh (written or edited), for the incremental refresh.
CREATE INDEX messages_changed_at_idx ON messages ((COALESCE(updated_at, inserted_at)));

-- The seed-named views keep their names and columns; they now read the rollups, with a real cost.
DROP VIEW analytics_user_daily_view;
CREATE VIEW analytics_user_daily_view AS
SELECT 'user_daily'                                        AS aggregate_type,
       NULLIF(t.user_key, '')                              AS aggregate_key,
       'day'                                               AS period_type,
       t.period_date,
       (extract(epoch FROM t.period_date) * 1000)::bigint   AS period_start,
       (extract(epoch FROM t.period_date + 1) * 1000)::bigint AS period_end,
       t.input_tokens,
       t.output_tokens,
       t.input_tokens + t.output_tokens                    AS total_tokens,
       t.cached_tokens,
       t.reasoning_tokens,
       t.message_count,
       t.user_message_count,
       t.assistant_message_count,
       t.event_count,
       t.session_count,
       t.estimated_cost_usd,
       t.computed_at                                       AS last_computed_at,
       t.last_message_inserted_at                          AS created_at
FROM analytics_token_user_daily t
WHERE t.message_count > 0;

DROP VIEW analytics_platform_daily_view;
CREATE VIEW analytics_platform_daily_view AS
SELECT 'platform_daily'                                    AS aggregate_type,
       NULLIF(t.platform_key, '')                          AS aggregate_key,
       'day'                                               AS period_type,
       t.period_date,
       (extract(epoch FROM t.period_date) * 1000)::bigint   AS period_start,
       (extract(epoch FROM t.period_date + 1) * 1000)::bigint AS period_end,
       t.input_tokens,
       t.output_tokens,
       t.input_tokens + t.output_tokens                    AS total_tokens,
       t.message_count,
       t.user_count,
       t.session_count,
       t.estimated_cost_usd
FROM analytics_token_platform_daily t
WHERE t.message_count > 0;
