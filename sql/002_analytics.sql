-- Seed 001's raw events and aggregate tables, in PostgreSQL types.
-- Deviations from the seed (see docs/data-model.md): `timestamp TEXT` becomes `occurred_at timestamptz`,
-- `date_partition` is a generated UTC date, periods are timestamptz/date, JSON is jsonb,
-- and agg_response_times_hourly (scheduled by the seed, never defined) exists.

CREATE TABLE analytics_events (
  id              text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
  event_type      text NOT NULL CHECK (event_type IN (
                    'message.received', 'message.sent', 'message.delivered', 'message.read', 'message.failed',
                    'conversation.started', 'conversation.escalated', 'conversation.resolved', 'conversation.closed',
                    'response.ai_generated', 'response.staff_sent', 'response.time_recorded',
                    'task.created', 'task.assigned', 'task.completed', 'task.sla_breached',
                    'intent.classified', 'intent.confidence_low', 'intent.action_taken',
                    'satisfaction.survey_sent', 'satisfaction.rating_received', 'satisfaction.feedback_received',
                    'staff.login', 'staff.logout', 'staff.status_changed')),
  occurred_at     timestamptz NOT NULL,
  property_id     text NOT NULL CHECK (length(property_id) > 0),
  channel         text,
  guest_id        text,
  staff_id        text,
  conversation_id text,
  task_id         text,
  value           double precision,
  duration_ms     integer CHECK (duration_ms IS NULL OR duration_ms >= 0),
  metadata        jsonb NOT NULL DEFAULT '{}',
  received_at     timestamptz NOT NULL DEFAULT now(),
  date_partition  date GENERATED ALWAYS AS ((occurred_at AT TIME ZONE 'UTC')::date) STORED
);
CREATE INDEX analytics_events_type_time_idx ON analytics_events (event_type, occurred_at);
CREATE INDEX analytics_events_property_time_idx ON analytics_events (property_id, occurred_at);
CREATE INDEX analytics_events_channel_time_idx ON analytics_events (channel, occurred_at);
CREATE INDEX analytics_events_time_idx ON analytics_events (occurred_at);

CREATE TABLE agg_message_counts_hourly (
  period_start timestamptz NOT NULL,
  property_id  text NOT NULL,
  channel      text NOT NULL,
  direction    text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  count        integer NOT NULL CHECK (count >= 0),
  computed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (period_start, property_id, channel, direction)
);

-- Scheduled by seed 001 (`hourly_response_times`, :05) but never defined there.
CREATE TABLE agg_response_times_hourly (
  period_start  timestamptz NOT NULL,
  property_id   text NOT NULL,
  channel       text NOT NULL,
  responses     integer NOT NULL CHECK (responses >= 0),
  avg_ms        integer,
  p50_ms        integer,
  p95_ms        integer,
  p99_ms        integer,
  max_ms        integer,
  computed_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (period_start, property_id, channel)
);

CREATE TABLE agg_conversation_metrics_daily (
  period_date             date NOT NULL,
  property_id             text NOT NULL,
  channel                 text NOT NULL,
  conversations_started   integer NOT NULL DEFAULT 0,
  conversations_resolved  integer NOT NULL DEFAULT 0,
  conversations_escalated integer NOT NULL DEFAULT 0,
  avg_first_response_ms   integer,
  p50_first_response_ms   integer,
  p95_first_response_ms   integer,
  avg_resolution_minutes  integer,
  p50_resolution_minutes  integer,
  p95_resolution_minutes  integer,
  ai_handled_count        integer NOT NULL DEFAULT 0,
  ai_escalated_count      integer NOT NULL DEFAULT 0,
  computed_at             timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (period_date, property_id, channel)
);

CREATE TABLE agg_staff_performance_daily (
  period_date           date NOT NULL,
  property_id           text NOT NULL,
  staff_id              text NOT NULL,
  conversations_handled integer NOT NULL DEFAULT 0,
  tasks_completed       integer NOT NULL DEFAULT 0,
  avg_response_time_ms  integer,
  satisfaction_avg      double precision,
  satisfaction_count    integer NOT NULL DEFAULT 0,
  computed_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (period_date, property_id, staff_id)
);

CREATE TABLE agg_intent_distribution_daily (
  period_date        date NOT NULL,
  property_id        text NOT NULL,
  intent             text NOT NULL,
  count              integer NOT NULL DEFAULT 0,
  avg_confidence     double precision,
  action_taken_count integer NOT NULL DEFAULT 0,
  escalated_count    integer NOT NULL DEFAULT 0,
  computed_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (period_date, property_id, intent)
);

CREATE TABLE agg_satisfaction_weekly (
  period_start       date NOT NULL,   -- week start (Monday, ISO) in the aggregation time zone
  property_id        text NOT NULL,
  channel            text NOT NULL,
  surveys_sent       integer NOT NULL DEFAULT 0,
  responses_received integer NOT NULL DEFAULT 0,
  rating_1           integer NOT NULL DEFAULT 0,
  rating_2           integer NOT NULL DEFAULT 0,
  rating_3           integer NOT NULL DEFAULT 0,
  rating_4           integer NOT NULL DEFAULT 0,
  rating_5           integer NOT NULL DEFAULT 0,
  avg_rating         double precision,
  nps_score          double precision CHECK (nps_score IS NULL OR nps_score BETWEEN -100 AND 100),
  computed_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (period_start, property_id, channel)
);

CREATE TABLE agg_monthly_summary (
  period_month              text NOT NULL CHECK (period_month ~ '^\d{4}-(0[1-9]|1[0-2])$'),  -- YYYY-MM
  property_id               text NOT NULL,
  total_conversations       integer NOT NULL DEFAULT 0,
  total_messages            integer NOT NULL DEFAULT 0,
  total_tasks               integer NOT NULL DEFAULT 0,
  ai_resolution_rate        double precision,
  avg_satisfaction          double precision,
  avg_response_time_minutes double precision,
  top_intents               jsonb NOT NULL DEFAULT '[]',
  channel_breakdown         jsonb NOT NULL DEFAULT '{}',
  computed_at               timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (period_month, property_id)
);
