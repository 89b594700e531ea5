-- Core conversation model: one source of truth for every conversation and message,
-- whatever brought it (live app, Redis archive, audit backfill). See docs/data-model.md.

-- Seed 003's source records (Prisma "Lead"/"Audit" in snake_case).
CREATE TABLE leads (
  id             uuid PRIMARY KEY,
  customer_id    text,
  channel        text,
  messenger_psid text,
  phone          text,
  stage          text,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX leads_customer_idx ON leads (customer_id);

-- No foreign key to leads on purpose: the audit log keeps rows of deleted leads (orphans),
-- which the backfill must count and report, not lose.
CREATE TABLE audits (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  lead_id    uuid,
  actor      text,
  action     text NOT NULL,
  payload    jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audits_lead_created_idx ON audits (lead_id, created_at, id);
CREATE INDEX audits_created_id_idx ON audits (created_at, id);

-- Seed 002's observability_events with its `agents` JSON (source of analytics_agent_steps_view).
CREATE TABLE observability_events (
  event_id                  text PRIMARY KEY,
  app_source                text,
  user_id                   text,
  username                  text,
  repo                      text,
  classification_type       text,
  classification_confidence double precision,
  agents                    jsonb CHECK (agents IS NULL OR jsonb_typeof(agents) = 'array'),
  input_tokens              integer NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
  output_tokens             integer NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
  model                     text,
  status                    text,
  triggered_at              timestamptz,
  completed_at              timestamptz,
  metadata                  jsonb NOT NULL DEFAULT '{}',
  created_at                timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX observability_events_created_idx ON observability_events (created_at);
CREATE INDEX observability_events_user_idx ON observability_events (user_id, created_at DESC);
CREATE INDEX observability_events_with_agents_idx ON observability_events (event_id) WHERE agents IS NOT NULL;

CREATE TABLE conversations (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- The conversation's own id where it came from: LangGraph thread id, seed 000's
  -- conversation_id, or `lead:<lead id>` for the audit backfill. Unique: upserts key on it.
  conversation_key text NOT NULL UNIQUE CHECK (length(conversation_key) BETWEEN 1 AND 512),
  source           text NOT NULL CHECK (source IN ('live', 'redis_archive', 'audit_backfill')),
  channel          text,
  customer_id      text,          -- NULL until the customer is identified (seed 000)
  lead_id          uuid REFERENCES leads (id) ON DELETE SET NULL,
  external_id      text,          -- messenger PSID or phone (seed 003)
  platform         text,          -- seed 002
  user_id          text,
  username         text,
  title            text,
  summary          text,
  visibility       text NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'public', 'shared')),
  is_archived      boolean NOT NULL DEFAULT false,
  started_at       timestamptz NOT NULL,
  last_message_at  timestamptz,
  metadata         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_customer_idx ON conversations (customer_id, last_message_at DESC);
CREATE INDEX conversations_lead_idx ON conversations (lead_id);
CREATE INDEX conversations_user_idx ON conversations (user_id);
CREATE INDEX conversations_source_idx ON conversations (source, started_at);

CREATE TABLE messages (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  conversation_id  uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  -- Idempotency key, unique per conversation: LangChain message id, `audit:<id>`,
  -- or a deterministic content hash. Re-archiving or re-backfilling adds nothing twice.
  message_key      text NOT NULL CHECK (length(message_key) BETWEEN 1 AND 512),
  seq              integer NOT NULL DEFAULT 0,
  role             text NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
  content          text NOT NULL,
  created_at       timestamptz NOT NULL,   -- when the message was said
  source           text NOT NULL CHECK (source IN ('live', 'redis_archive', 'audit_backfill')),
  input_tokens     integer NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
  output_tokens    integer NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
  cached_tokens    integer NOT NULL DEFAULT 0 CHECK (cached_tokens >= 0),
  reasoning_tokens integer NOT NULL DEFAULT 0 CHECK (reasoning_tokens >= 0),
  model            text,
  event_id         text REFERENCES observability_events (event_id) ON DELETE SET NULL,
  visibility       text NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'public', 'shared')),
  is_archived      boolean NOT NULL DEFAULT false,
  is_pinned        boolean NOT NULL DEFAULT false,
  metadata         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
  inserted_at      timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz,
  -- Full text: one stemmer per message, the message's language (detected when written; the
  -- product speaks Spanish and English). 'simple' (no stemming) for anything else. Capped so a
  -- huge tool output cannot exceed tsvector's 1 MB limit and make the insert fail.
  language         text NOT NULL DEFAULT 'simple' CHECK (language IN ('spanish', 'english', 'simple')),
  search_vector    tsvector GENERATED ALWAYS AS (
                     CASE language
                       WHEN 'spanish' THEN to_tsvector('spanish', left(content, 100000))
                       WHEN 'english' THEN to_tsvector('english', left(content, 100000))
                       ELSE to_tsvector('simple', left(content, 100000))
                     END
                   ) STORED,
  CONSTRAINT messages_conversation_key_uq UNIQUE (conversation_id, message_key)
);
CREATE INDEX messages_conversation_order_idx ON messages (conversation_id, created_at, seq);
CREATE INDEX messages_created_idx ON messages (created_at);
CREATE INDEX messages_search_idx ON messages USING gin (search_vector);
CREATE INDEX messages_event_idx ON messages (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX messages_public_idx ON messages (visibility) WHERE visibility = 'public';

-- Malformed or unrecognised Redis checkpoints: kept here (and left in Redis), once per key and version.
CREATE TABLE checkpoint_quarantine (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  redis_key     text NOT NULL,
  value_sha256  text NOT NULL CHECK (value_sha256 ~ '^[0-9a-f]{64}$'),
  layout        text,
  error         text NOT NULL,
  raw_value     text,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  seen_count    integer NOT NULL DEFAULT 1,
  run_id        text,
  CONSTRAINT checkpoint_quarantine_key_version_uq UNIQUE (redis_key, value_sha256)
);

-- One row per object written to cold storage by retention (invariant 3).
CREATE TABLE archive_manifest (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  table_name   text NOT NULL,
  bucket       text NOT NULL,
  object_key   text NOT NULL UNIQUE,
  row_count    bigint NOT NULL CHECK (row_count >= 0),
  bytes        bigint NOT NULL CHECK (bytes >= 0),
  sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  range_start  timestamptz NOT NULL,
  range_end    timestamptz NOT NULL,
  run_id       text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  verified_at  timestamptz,
  deleted_at   timestamptz,
  restored_at  timestamptz,
  CHECK (range_start <= range_end)
);
CREATE INDEX archive_manifest_table_range_idx ON archive_manifest (table_name, range_start);
