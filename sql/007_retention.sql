-- Retention to S3 cold storage (lambdas/retention): what a manifest row must say to restore and
-- to prove what was deleted, and the rejected-events table that has a retention policy.

-- Created by the ingest migration (006) too; the same statement, so whichever runs first wins.
CREATE TABLE IF NOT EXISTS analytics_events_rejected (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id text, raw text NOT NULL, reason text NOT NULL, source text NOT NULL DEFAULT 'sqs', rejected_at timestamptz NOT NULL DEFAULT now()); CREATE INDEX IF NOT EXISTS analytics_events_rejected_time_idx ON analytics_events_rejected (rejected_at);

ALTER TABLE archive_manifest
  ADD COLUMN format         text NOT NULL DEFAULT 'parquet' CHECK (format IN ('parquet')),
  -- The UTC day of the object's partition (s3://bucket/{table}/day=YYYY-MM-DD/…).
  ADD COLUMN day            date,
  -- Columns as exported: [{"name": …, "type": …}] (every value is its PostgreSQL text form).
  ADD COLUMN columns        jsonb,
  ADD COLUMN time_columns   jsonb,
  ADD COLUMN key_columns    jsonb,
  -- First and last (time, key…) of the object, as text: the delete's range.
  ADD COLUMN key_min        jsonb,
  ADD COLUMN key_max        jsonb,
  -- md5 over the rows' own md5(row::text), in order: the delete proves the rows did not change.
  ADD COLUMN rows_md5       text,
  ADD COLUMN schema_version integer NOT NULL DEFAULT 1;

CREATE INDEX archive_manifest_table_day_idx ON archive_manifest (table_name, day);
