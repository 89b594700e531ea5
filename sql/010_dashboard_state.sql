-- The dashboard's derived figures (issue 10: active conversations, staff online, pending tasks) read
-- a small state per conversation, staff member and task instead of scanning each property's recent
-- raw events (which grew with the event volume). The state is a pure function of analytics_events:
-- triggers keep it in the same statement as every INSERT (ingest, restore) and DELETE (retention),
-- so it is idempotent on SQS redelivery (ON CONFLICT (id) DO NOTHING: a duplicate is not in the
-- transition table) and order-independent (latest by occurred_at, then id; counts are sums).
-- Windows are applied when reading (lambdas/analytics-api/dashboard.ts), as before.

-- Conversations and tasks live the same way: one event type opens them (conversation.started,
-- task.created), others close them (conversation.resolved / .closed, task.completed). Per entity: its
-- latest opening and latest closing, with how many events of each analytics_events holds (so a
-- delete knows when none is left).
CREATE TABLE analytics_lifecycle_state (
  property_id   text NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('conversation', 'task')),
  entity_id     text NOT NULL,
  opened_at     timestamptz,
  opened_events integer NOT NULL CHECK (opened_events >= 0),
  closed_at     timestamptz,
  closed_events integer NOT NULL CHECK (closed_events >= 0),
  PRIMARY KEY (property_id, kind, entity_id)
);
-- The open ones (not closed since their latest opening): what "active" and "pending" count within
-- their windows (covering: an index-only scan).
CREATE INDEX analytics_lifecycle_state_open_idx ON analytics_lifecycle_state (property_id, kind, opened_at) INCLUDE (closed_at, entity_id)
  WHERE closed_at IS NULL OR closed_at < opened_at;

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

-- The lifecycle events of `src` (a relation of analytics_events rows): (property_id, kind, entity_id, opens, occurred_at).
CREATE FUNCTION analytics_lifecycle_events_sql(src text) RETURNS text
LANGUAGE sql IMMUTABLE AS $f$
SELECT format($q$(
  SELECT property_id, kind, entity_id, opens, occurred_at FROM (
    SELECT property_id, occurred_at, split_part(event_type, '.', 1) AS kind,
           CASE WHEN event_type LIKE 'task.%%' THEN task_id ELSE conversation_id END AS entity_id,
           event_type IN ('conversation.started', 'task.created') AS opens
    FROM %1$s e
    WHERE event_type IN ('conversation.started', 'conversation.resolved', 'conversation.closed', 'task.created', 'task.completed')
  ) l WHERE entity_id IS NOT NULL)$q$, src)
$f$;

-- ONE statement adding the events of `src` (a relation or a parenthesised query of analytics_events
-- rows) to the state: used by the insert trigger (src = its transition table) and below to fill the
-- state from the events already there. Rows are upserted in key order (no deadlock between two
-- concurrent ingests touching the same keys).
CREATE FUNCTION analytics_state_add_sql(src text) RETURNS text
LANGUAGE sql IMMUTABLE AS $f$
SELECT format($q$
WITH life AS (
  INSERT INTO analytics_lifecycle_state AS s (property_id, kind, entity_id, opened_at, opened_events, closed_at, closed_events)
  SELECT property_id, kind, entity_id, max(occurred_at) FILTER (WHERE opens), count(*) FILTER (WHERE opens),
         max(occurred_at) FILTER (WHERE NOT opens), count(*) FILTER (WHERE NOT opens)
  FROM %2$s l
  GROUP BY property_id, kind, entity_id
  ORDER BY property_id, kind, entity_id
  ON CONFLICT (property_id, kind, entity_id) DO UPDATE SET
    opened_at = GREATEST(s.opened_at, EXCLUDED.opened_at), opened_events = s.opened_events + EXCLUDED.opened_events,
    closed_at = GREATEST(s.closed_at, EXCLUDED.closed_at), closed_events = s.closed_events + EXCLUDED.closed_events
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
)
SELECT (SELECT count(*) FROM life) + (SELECT count(*) FROM staff)$q$, src, analytics_lifecycle_events_sql(src))
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
  EXECUTE format($q$
  WITH d AS (
    SELECT property_id, kind, entity_id,
           count(*) FILTER (WHERE opens) AS o_n, max(occurred_at) FILTER (WHERE opens) AS o_max,
           count(*) FILTER (WHERE NOT opens) AS c_n, max(occurred_at) FILTER (WHERE NOT opens) AS c_max
    FROM %s l GROUP BY property_id, kind, entity_id
  )
  UPDATE analytics_lifecycle_state s SET
    opened_events = s.opened_events - d.o_n,
    opened_at = CASE WHEN s.opened_events = d.o_n THEN NULL WHEN d.o_max >= s.opened_at THEN
      (SELECT max(occurred_at) FROM %s r WHERE r.property_id = s.property_id AND r.kind = s.kind AND r.entity_id = s.entity_id AND r.opens)
      ELSE s.opened_at END,
    closed_events = s.closed_events - d.c_n,
    closed_at = CASE WHEN s.closed_events = d.c_n THEN NULL WHEN d.c_max >= s.closed_at THEN
      (SELECT max(occurred_at) FROM %s r WHERE r.property_id = s.property_id AND r.kind = s.kind AND r.entity_id = s.entity_id AND NOT r.opens)
      ELSE s.closed_at END
  FROM d WHERE s.property_id = d.property_id AND s.kind = d.kind AND s.entity_id = d.entity_id$q$,
    analytics_lifecycle_events_sql('old_rows'), analytics_lifecycle_events_sql('analytics_events'), analytics_lifecycle_events_sql('analytics_events'));
  DELETE FROM analytics_lifecycle_state s
  WHERE s.opened_events = 0 AND s.closed_events = 0 AND (s.property_id, s.entity_id) IN (
    SELECT property_id, conversation_id FROM old_rows UNION ALL SELECT property_id, task_id FROM old_rows);

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
  TRUNCATE analytics_lifecycle_state, analytics_staff_state;
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
