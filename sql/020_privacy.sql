-- One person's data: find it, export it, erase it for good (issue 25).

-- A keyed digest of an identifier: `subject_index` and `erasure_tombstones` hold digests, never
-- identifiers. The key is random, made here, readable by the master user only; the functions that
-- use it run with their owner's rights, so no role can read it (a phone number is guessable: an
-- unkeyed hash of one is not a pseudonym).
CREATE TABLE privacy_key (
  id  boolean PRIMARY KEY DEFAULT true CHECK (id),
  key bytea NOT NULL
);
INSERT INTO privacy_key (key)
VALUES (sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text || clock_timestamp()::text, 'UTF8')));
REVOKE ALL ON privacy_key FROM PUBLIC;

-- Kinds: conversation (conversation_key, thread id), conversation_id (internal uuid), customer,
-- contact (phone in E.164 or a Messenger PSID: spaces, dashes, dots and parentheses ignored),
-- lead, guest.
CREATE FUNCTION subject_digest(kind text, value text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT encode(sha256(k.key || convert_to(kind || ':' ||
           CASE WHEN kind = 'contact' THEN regexp_replace(value, '[\s().-]', '', 'g') ELSE value END, 'UTF8')), 'hex')
    FROM privacy_key k
$$;

-- Which subjects each cold object holds (written with the object's manifest row): finding a subject
-- in cold storage reads only the objects that hold it.
CREATE TABLE subject_index (
  object_key text NOT NULL,
  digest     text NOT NULL,
  PRIMARY KEY (digest, object_key)
);
CREATE INDEX subject_index_object_idx ON subject_index (object_key);

-- An erased identifier and when it was erased. Rows of it from before then cannot come back
-- (restore, backfill from old audits, a late event, an old checkpoint archived later): the triggers
-- below drop them, and count them in erasure_blocked. Rows from after (the customer came back) stay.
CREATE TABLE erasure_tombstones (
  digest     text PRIMARY KEY,
  kind       text NOT NULL,
  erased_at  timestamptz NOT NULL,
  request_id text NOT NULL
);

CREATE TABLE erasure_blocked (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  table_name text NOT NULL,
  blocked_at timestamptz NOT NULL DEFAULT now()
);

-- One row per erasure request: its progress and its receipt (no personal data: digests, counts, keys).
CREATE TABLE erasures (
  request_id   text PRIMARY KEY,
  requested_at timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz,
  status       text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done')),
  receipt      jsonb NOT NULL DEFAULT '{}'
);

-- When (kind, value) was erased, or NULL.
CREATE FUNCTION erased_at(kind text, value text) RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT t.erased_at FROM erasure_tombstones t WHERE value IS NOT NULL AND t.digest = subject_digest(kind, value)
$$;

CREATE FUNCTION erasure_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  at timestamptz;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM erasure_tombstones) THEN
    RETURN NEW;
  END IF;
  IF TG_TABLE_NAME = 'conversations' THEN
    at := greatest(erased_at('conversation', NEW.conversation_key), erased_at('conversation_id', NEW.id::text),
                   erased_at('customer', NEW.customer_id), erased_at('contact', NEW.external_id), erased_at('lead', NEW.lead_id::text));
    IF at IS NOT NULL AND coalesce(NEW.started_at, NEW.last_message_at) <= at THEN
      INSERT INTO erasure_blocked (table_name) VALUES (TG_TABLE_NAME);
      RETURN NULL;
    END IF;
  ELSIF TG_TABLE_NAME = 'leads' THEN
    at := greatest(erased_at('lead', NEW.id::text), erased_at('customer', NEW.customer_id),
                   erased_at('contact', NEW.phone), erased_at('contact', NEW.messenger_psid));
    IF at IS NOT NULL AND NEW.created_at <= at THEN
      INSERT INTO erasure_blocked (table_name) VALUES (TG_TABLE_NAME);
      RETURN NULL;
    END IF;
  ELSIF TG_TABLE_NAME = 'audits' THEN
    at := erased_at('lead', NEW.lead_id::text);
    IF at IS NOT NULL AND NEW.created_at <= at THEN
      INSERT INTO erasure_blocked (table_name) VALUES (TG_TABLE_NAME);
      RETURN NULL;
    END IF;
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER conversations_erasure_guard BEFORE INSERT ON conversations FOR EACH ROW EXECUTE FUNCTION erasure_guard();

-- Messages and events arrive by the thousand per statement (the archive, ingest): one call per
-- statement over its inserted rows (a transition table), which returns at once while there is no
-- tombstone (a row trigger would be a PL/pgSQL call per message on the archive's hot path). Rows of an erased
-- subject from before the erasure are removed again within the same statement.
CREATE FUNCTION erasure_sweep() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  n integer;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM erasure_tombstones) THEN
    RETURN NULL;
  END IF;
  IF TG_TABLE_NAME = 'messages' THEN
    DELETE FROM messages m USING new_rows r LEFT JOIN conversations c ON c.id = r.conversation_id
     WHERE m.id = r.id
       AND greatest(erased_at('conversation_id', r.conversation_id::text), erased_at('conversation', c.conversation_key)) >= r.created_at;
  ELSE
    DELETE FROM analytics_events e USING new_rows r
     WHERE e.id = r.id AND greatest(erased_at('guest', r.guest_id), erased_at('conversation', r.conversation_id)) >= r.occurred_at;
  END IF;
  GET DIAGNOSTICS n = ROW_COUNT;
  INSERT INTO erasure_blocked (table_name) SELECT TG_TABLE_NAME FROM generate_series(1, n);
  RETURN NULL;
END
$$;
CREATE TRIGGER messages_erasure_sweep AFTER INSERT ON messages REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION erasure_sweep();
CREATE TRIGGER analytics_events_erasure_sweep AFTER INSERT ON analytics_events REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION erasure_sweep();
CREATE TRIGGER leads_erasure_guard BEFORE INSERT ON leads FOR EACH ROW EXECUTE FUNCTION erasure_guard();
CREATE TRIGGER audits_erasure_guard BEFORE INSERT ON audits FOR EACH ROW EXECUTE FUNCTION erasure_guard();
