-- A message in two places (issue 24, soak bug C). The archive writes a message row that is new to
-- PostgreSQL; but retention may have moved an earlier version of that message (same conversation key,
-- same message key) to cold storage: a thread that came back after months and edited, or simply
-- carried, an old message. Left alone, the message would then be in PostgreSQL and in a cold object.
--
-- The archive notes such conversations here (note_conversation_returns, called by its upsert for the
-- conversations it inserted new message rows into, when the subject index says a live cold object
-- holds that conversation's id or key). The next retention run, under its lease and before it
-- exports messages, reads those objects, and every cold row whose message key is now in PostgreSQL
-- leaves its object (a successor keeps the rest) and is kept in the live row's
-- metadata.previous_versions (restore.ts, foldReturned). The row goes with its conversation.
CREATE TABLE conversation_returns (
  conversation_id uuid PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
  noticed_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Runs as its owner: the archive's role reads neither the subject index nor the manifest.
CREATE FUNCTION note_conversation_returns(ids uuid[]) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH hit AS (
    SELECT c.id FROM conversations c
     WHERE c.id = ANY (ids)
       AND (EXISTS (SELECT 1 FROM subject_index i JOIN archive_manifest m ON m.object_key = i.object_key
                     WHERE i.digest = subject_digest('conversation_id', c.id::text)
                       AND m.table_name = 'messages' AND m.superseded_at IS NULL)
            OR EXISTS (SELECT 1 FROM subject_index i JOIN archive_manifest m ON m.object_key = i.object_key
                        WHERE i.digest = subject_digest('conversation', c.conversation_key)
                          AND m.table_name = 'conversations' AND m.superseded_at IS NULL))),
  noted AS (
    INSERT INTO conversation_returns (conversation_id) SELECT id FROM hit
    ON CONFLICT (conversation_id) DO UPDATE SET noticed_at = EXCLUDED.noticed_at
    RETURNING 1)
  SELECT count(*)::int FROM noted
$$;
REVOKE EXECUTE ON FUNCTION note_conversation_returns(uuid[]) FROM PUBLIC;

-- Retention keeps a cold message's earlier version in its live row's metadata: UPDATE on those
-- columns only. The role registry may now grant `UPDATE (col, …)` as it grants `SELECT (col, …)`;
-- same function as 013 otherwise.
CREATE OR REPLACE FUNCTION dlc_reconcile_role(role_name text, role_password text, grants jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
  t record;
  f text;
  s text;
  privs text;
  bad text;
  skipped jsonb := '[]'::jsonb;
BEGIN
  IF role_name !~ '^dlc_[a-z0-9_]{1,59}$' THEN
    RAISE EXCEPTION 'role name % is not dlc_[a-z0-9_]+', role_name;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
    EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS', role_name);
  END IF;
  IF role_password IS NOT NULL THEN
    EXECUTE format('ALTER ROLE %I WITH LOGIN PASSWORD %L', role_name, role_password);
  END IF;
  EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', role_name);
  EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %I', role_name);
  EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM %I', role_name);
  EXECUTE format('REVOKE CREATE ON SCHEMA public FROM %I', role_name);
  EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', role_name);
  FOR t IN SELECT key AS name, value AS privileges FROM jsonb_each(COALESCE(grants -> 'tables', '{}'::jsonb)) LOOP
    IF to_regclass(format('public.%I', t.name)) IS NULL THEN
      RAISE WARNING 'role %: table % does not exist (yet): grant skipped', role_name, t.name;
      skipped := skipped || jsonb_build_array('table ' || t.name);
      CONTINUE;
    END IF;
    SELECT p INTO bad FROM jsonb_array_elements_text(t.privileges) p
      WHERE p !~ '^(SELECT|INSERT|UPDATE|DELETE|(SELECT|UPDATE) \([a-z_][a-z0-9_]*(, [a-z_][a-z0-9_]*)*\))$' LIMIT 1;
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'role %: privilege % on % is not SELECT|INSERT|UPDATE|DELETE or SELECT|UPDATE (col, ...)', role_name, bad, t.name;
    END IF;
    -- Column lists are quoted column by column (%I), whatever the registry holds.
    SELECT string_agg(
             CASE WHEN p ~ '^(SELECT|UPDATE) \('
                  THEN substring(p FROM '^[A-Z]+') || ' (' || (SELECT string_agg(format('%I', btrim(c)), ', ')
                                        FROM unnest(string_to_array(substring(p FROM '\((.*)\)'), ',')) c) || ')'
                  ELSE p END, ', ')
      INTO privs FROM jsonb_array_elements_text(t.privileges) p;
    IF privs IS NOT NULL THEN
      EXECUTE format('GRANT %s ON public.%I TO %I', privs, t.name, role_name);
    END IF;
  END LOOP;
  FOR f IN SELECT jsonb_array_elements_text(COALESCE(grants -> 'functions', '[]'::jsonb)) LOOP
    IF to_regprocedure('public.' || f) IS NULL THEN
      RAISE WARNING 'role %: function % does not exist (yet): grant skipped', role_name, f;
      skipped := skipped || jsonb_build_array('function ' || f);
      CONTINUE;
    END IF;
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', to_regprocedure('public.' || f)::text, role_name);
  END LOOP;
  FOR s IN SELECT jsonb_array_elements_text(COALESCE(grants -> 'sequences', '[]'::jsonb)) LOOP
    IF to_regclass(format('public.%I', s)) IS NULL THEN
      RAISE WARNING 'role %: sequence % does not exist (yet): grant skipped', role_name, s;
      skipped := skipped || jsonb_build_array('sequence ' || s);
      CONTINUE;
    END IF;
    EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE public.%I TO %I', s, role_name);
  END LOOP;
  RETURN skipped;
END
$$;

REVOKE EXECUTE ON FUNCTION dlc_reconcile_role(text, text, jsonb) FROM PUBLIC;
