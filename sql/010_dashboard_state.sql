-- The dashboard's derived figures (issue 10: active conversations, staff online, pending tasks) read
-- a small state per conversation, staff member and task instead of scanning each property's recent
-- raw events (which grew with the event volume). The state is a pure function of analytics_events:
-- triggers keep it in the same statement as every INSERT (ingest, restore) and DELETE (retention),
-- so it is idempotent on SQS redelivery (ON CONFLICT (id) DO NOTHING: a duplicate is not in the
-- transition table) and order-independent (latest by occurred_at, then id; counts are sums).
-- Windows are applied when reading (lambdas/analytics-api/dashboard.ts), as before.

-- Per conversation: its latest conversation.started and its latest resolved/closed, with how many
-- events of each kind analytics_events holds (so a delete knows when none is left).
CREATE TABLE analytics_conversation_state (
  property_id     text NOT NULL,
  conversation_id text NOT NULL,
  started_at      timestamptz,
  started_events  integer NOT NULL CHECK (started_events >= 0),
  ended_at        timestamptz,
  ended_events    integer NOT NULL CHECK (ended_events >= 0),
  PRIMARY KEY (property_id, conversation_id)
);
-- The open ones (not ended since their latest start): what "active" counts within its window
-- (covering: an index-only scan).
CREATE INDEX analytics_conversation_state_open_idx ON analytics_conversation_state (property_id, started_at) INCLUDE (conversation_id)
  WHERE ended_at IS NULL OR ended_at < started_at;

-- Per staff member: the latest staff.login / staff.logout / staff.status_changed (by occurred_at, then id).
CREATE TABLE analytics_staff_state (
  property_id   text NOT NULL,
  staff_id      text NOT NULL,
  latest_at     timestamptz NOT NULL,
  latest_id     text NOT NULL,
  latest_type   text NOT NULL,
  -- lower(metadata->>'status'), '' when absent (read only for staff.status_changed)
  latest_status text NOT NULL,
  events        integer NOT NULL CHECK (events > 0),
  PRIMARY KEY (property_id, staff_id)
);

-- Per task: its latest task.created and latest task.completed.
CREATE TABLE analytics_task_state (
  property_id      text NOT NULL,
  task_id          text NOT NULL,
  created_at       timestamptz,
  created_events   integer NOT NULL CHECK (created_events >= 0),
  completed_at     timestamptz,
  completed_events integer NOT NULL CHECK (completed_events >= 0),
  PRIMARY KEY (property_id, task_id)
);
-- Not completed since their latest creation: what "pending" counts within its window (covering).
CREATE INDEX analytics_task_state_open_idx ON analytics_task_state (property_id, created_at) INCLUDE (completed_at, task_id)
  WHERE completed_at IS NULL OR completed_at < created_at;

-- ONE statement adding the events of `src` (a relation or a parenthesised query of analytics_events
-- rows) to the state: used by the insert trigger (src = its transition table) and below to fill the
-- state from the events already there. Rows are upserted in key order (no deadlock between two
-- concurrent ingests touching the same keys).
CREATE FUNCTION analytics_state_add_sql(src text) RETURNS text
LANGUAGE sql IMMUTABLE AS $f$
SELECT format($q$
WITH conv AS (
  INSERT INTO analytics_conversation_state AS s (property_id, conversation_id, started_at, started_events, ended_at, ended_events)
  SELECT property_id, conversation_id,
         max(occurred_at) FILTER (WHERE event_type = 'conversation.started'), count(*) FILTER (WHERE event_type = 'conversation.started'),
         max(occurred_at) FILTER (WHERE event_type <> 'conversation.started'), count(*) FILTER (WHERE event_type <> 'conversation.started')
  FROM %1$s e
  WHERE event_type IN ('conversation.started', 'conversation.resolved', 'conversation.closed') AND conversation_id IS NOT NULL
  GROUP BY property_id, conversation_id
  ORDER BY property_id, conversation_id
  ON CONFLICT (property_id, conversation_id) DO UPDATE SET
    started_at = GREATEST(s.started_at, EXCLUDED.started_at), started_events = s.started_events + EXCLUDED.started_events,
    ended_at = GREATEST(s.ended_at, EXCLUDED.ended_at), ended_events = s.ended_events + EXCLUDED.ended_events
  RETURNING 1
), staff AS (
  INSERT INTO analytics_staff_state AS s (property_id, staff_id, latest_at, latest_id, latest_type, latest_status, events)
  SELECT DISTINCT ON (property_id, staff_id) property_id, staff_id, occurred_at, id, event_type,
         lower(COALESCE(metadata->>'status', '')), count(*) OVER (PARTITION BY property_id, staff_id)
  FROM %1$s e
  WHERE event_type IN ('staff.login', 'staff.logout', 'staff.status_changed') AND staff_id IS NOT NULL
  ORDER BY property_id, staff_id, occurred_at DESC, id DESC
  ON CONFLICT (property_id, staff_id) DO UPDATE SET
    latest_at = CASE WHEN (EXCLUDED.latest_at, EXCLUDED.latest_id) > (s.latest_at, s.latest_id) THEN EXCLUDED.latest_at ELSE s.latest_at END,
    latest_id = CASE WHEN (EXCLUDED.latest_at, EXCLUDED.latest_id) > (s.latest_at, s.latest_id) THEN EXCLUDED.latest_id ELSE s.latest_id END,
    latest_type = CASE WHEN (EXCLUDED.latest_at, EXCLUDED.latest_id) > (s.latest_at, s.latest_id) THEN EXCLUDED.latest_type ELSE s.latest_type END,
    latest_status = CASE WHEN (EXCLUDED.latest_at, EXCLUDED.latest_id) > (s.latest_at, s.latest_id) THEN EXCLUDED.latest_status ELSE s.latest_status END,
    events = s.events + EXCLUDED.events
  RETURNING 1
), task AS (
  INSERT INTO analytics_task_state AS s (property_id, task_id, created_at, created_events, completed_at, completed_events)
  SELECT property_id, task_id,
         max(occurred_at) FILTER (WHERE event_type = 'task.created'), count(*) FILTER (WHERE event_type = 'task.created'),
         max(occurred_at) FILTER (WHERE event_type = 'task.completed'), count(*) FILTER (WHERE event_type = 'task.completed')
  FROM %1$s e
  WHERE event_type IN ('task.created', 'task.completed') AND task_id IS NOT NULL
  GROUP BY property_id, task_id
  ORDER BY property_id, task_id
  ON CONFLICT (property_id, task_id) DO UPDATE SET
    created_at = GREATEST(s.created_at, EXCLUDED.created_at), created_events = s.created_events + EXCLUDED.created_events,
    completed_at = GREATEST(s.completed_at, EXCLUDED.completed_at), completed_events = s.completed_events + EXCLUDED.completed_events
  RETURNING 1
)
SELECT (SELECT count(*) FROM conv) + (SELECT count(*) FROM staff) + (SELECT count(*) FROM task)$q$, src)
$f$;

CREATE FUNCTION analytics_state_after_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE analytics_state_add_sql('new_rows');
  RETURN NULL;
END
$$;

-- A delete subtracts its events; a kind with none left is NULL (a row with none at all goes); a kind
-- whose latest event went while older ones remain is read again from analytics_events (rare:
-- retention deletes the oldest first, so what it deletes is normally all that was left).
CREATE FUNCTION analytics_state_after_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  WITH d AS (
    SELECT property_id, conversation_id,
           count(*) FILTER (WHERE event_type = 'conversation.started') AS sn, max(occurred_at) FILTER (WHERE event_type = 'conversation.started') AS smax,
           count(*) FILTER (WHERE event_type <> 'conversation.started') AS en, max(occurred_at) FILTER (WHERE event_type <> 'conversation.started') AS emax
    FROM old_rows
    WHERE event_type IN ('conversation.started', 'conversation.resolved', 'conversation.closed') AND conversation_id IS NOT NULL
    GROUP BY property_id, conversation_id
  )
  UPDATE analytics_conversation_state s SET
    started_events = s.started_events - d.sn,
    started_at = CASE WHEN s.started_events = d.sn THEN NULL WHEN d.smax >= s.started_at THEN
      (SELECT max(e.occurred_at) FROM analytics_events e WHERE e.property_id = s.property_id AND e.event_type = 'conversation.started'
         AND e.conversation_id = s.conversation_id) ELSE s.started_at END,
    ended_events = s.ended_events - d.en,
    ended_at = CASE WHEN s.ended_events = d.en THEN NULL WHEN d.emax >= s.ended_at THEN
      (SELECT max(e.occurred_at) FROM analytics_events e WHERE e.property_id = s.property_id
         AND e.event_type IN ('conversation.resolved', 'conversation.closed') AND e.conversation_id = s.conversation_id) ELSE s.ended_at END
  FROM d WHERE s.property_id = d.property_id AND s.conversation_id = d.conversation_id;
  DELETE FROM analytics_conversation_state s USING old_rows o
  WHERE s.property_id = o.property_id AND s.conversation_id = o.conversation_id AND s.started_events = 0 AND s.ended_events = 0;

  WITH d AS (
    SELECT property_id, task_id,
           count(*) FILTER (WHERE event_type = 'task.created') AS cn, max(occurred_at) FILTER (WHERE event_type = 'task.created') AS cmax,
           count(*) FILTER (WHERE event_type = 'task.completed') AS dn, max(occurred_at) FILTER (WHERE event_type = 'task.completed') AS dmax
    FROM old_rows
    WHERE event_type IN ('task.created', 'task.completed') AND task_id IS NOT NULL
    GROUP BY property_id, task_id
  )
  UPDATE analytics_task_state s SET
    created_events = s.created_events - d.cn,
    created_at = CASE WHEN s.created_events = d.cn THEN NULL WHEN d.cmax >= s.created_at THEN
      (SELECT max(e.occurred_at) FROM analytics_events e WHERE e.property_id = s.property_id AND e.event_type = 'task.created'
         AND e.task_id = s.task_id) ELSE s.created_at END,
    completed_events = s.completed_events - d.dn,
    completed_at = CASE WHEN s.completed_events = d.dn THEN NULL WHEN d.dmax >= s.completed_at THEN
      (SELECT max(e.occurred_at) FROM analytics_events e WHERE e.property_id = s.property_id AND e.event_type = 'task.completed'
         AND e.task_id = s.task_id) ELSE s.completed_at END
  FROM d WHERE s.property_id = d.property_id AND s.task_id = d.task_id;
  DELETE FROM analytics_task_state s USING old_rows o
  WHERE s.property_id = o.property_id AND s.task_id = o.task_id AND s.created_events = 0 AND s.completed_events = 0;

  WITH d AS (
    SELECT property_id, staff_id, count(*) AS n FROM old_rows
    WHERE event_type IN ('staff.login', 'staff.logout', 'staff.status_changed') AND staff_id IS NOT NULL
    GROUP BY property_id, staff_id
  )
  DELETE FROM analytics_staff_state s USING d
  WHERE s.property_id = d.property_id AND s.staff_id = d.staff_id AND s.events = d.n;
  WITH d AS (
    SELECT property_id, staff_id, count(*) AS n FROM old_rows
    WHERE event_type IN ('staff.login', 'staff.logout', 'staff.status_changed') AND staff_id IS NOT NULL
    GROUP BY property_id, staff_id
  )
  UPDATE analytics_staff_state s SET events = s.events - d.n
  FROM d WHERE s.property_id = d.property_id AND s.staff_id = d.staff_id;
  -- the latest event of a staff member went and older ones remain: read the latest again
  UPDATE analytics_staff_state s SET (latest_at, latest_id, latest_type, latest_status) = (
    SELECT e.occurred_at, e.id, e.event_type, lower(COALESCE(e.metadata->>'status', '')) FROM analytics_events e
    WHERE e.property_id = s.property_id AND e.staff_id = s.staff_id AND e.event_type IN ('staff.login', 'staff.logout', 'staff.status_changed')
    ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1)
  FROM old_rows o WHERE o.id = s.latest_id AND o.property_id = s.property_id AND o.staff_id = s.staff_id;
  RETURN NULL;
END
$$;

CREATE FUNCTION analytics_state_after_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE analytics_conversation_state, analytics_staff_state, analytics_task_state;
  RETURN NULL;
END
$$;

CREATE TRIGGER analytics_events_state_insert AFTER INSERT ON analytics_events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_state_after_insert();
CREATE TRIGGER analytics_events_state_delete AFTER DELETE ON analytics_events
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_state_after_delete();
CREATE TRIGGER analytics_events_state_truncate AFTER TRUNCATE ON analytics_events
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_state_after_truncate();

-- The events already there.
DO $$ BEGIN EXECUTE analytics_state_add_sql('analytics_events'); END $$;
