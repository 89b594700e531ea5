-- Database roles (issue 12). The roles themselves and their grants are NOT written here: they
-- come from one registry in code (lambdas/shared/db-roles.ts), applied after every migration by
-- the reconcile step (lambdas/shared/db-role-reconcile.ts), because a role's grants may name
-- tables that later migrations create. This file holds what that step and the backfill's
-- rollback need inside the database.

-- The lead a backfilled conversation was created for, from its key `lead:<uuid>` (what the backfill
-- wrote and nobody changes; `lead_id` becomes NULL when the lead is deleted). NULL for any other key.
CREATE FUNCTION backfill_lead_of(conversation_key text) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN conversation_key ~ '^lead:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
              THEN substr(conversation_key, 6)::uuid END
$$;

-- The backfill's rollback: the backfill role holds no DELETE privilege (only retention deletes
-- history); it may call this, which deletes exactly what the backfill created in one range of
-- leads — messages marked as the backfill's (source and `audit:` key), then the backfill's
-- conversations left empty — and nothing else, whatever it is passed.
CREATE FUNCTION backfill_rollback_batch(lead uuid, after_lead uuid, last_lead uuid, from_ts timestamptz, to_ts timestamptz)
RETURNS TABLE (messages_deleted integer, conversations_deleted integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  DELETE FROM messages m USING conversations c
  WHERE m.conversation_id = c.id
    AND backfill_lead_of(c.conversation_key) IS NOT NULL
    AND (lead IS NULL OR backfill_lead_of(c.conversation_key) = lead)
    AND (after_lead IS NULL OR backfill_lead_of(c.conversation_key) > after_lead)
    AND backfill_lead_of(c.conversation_key) <= last_lead
    AND m.source = 'audit_backfill' AND m.message_key LIKE 'audit:%'
    AND (from_ts IS NULL OR m.created_at >= from_ts) AND (to_ts IS NULL OR m.created_at < to_ts);
  GET DIAGNOSTICS messages_deleted = ROW_COUNT;
  DELETE FROM conversations c
  WHERE backfill_lead_of(c.conversation_key) IS NOT NULL
    AND (lead IS NULL OR backfill_lead_of(c.conversation_key) = lead)
    AND (after_lead IS NULL OR backfill_lead_of(c.conversation_key) > after_lead)
    AND backfill_lead_of(c.conversation_key) <= last_lead
    AND c.source = 'audit_backfill'
    AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id);
  GET DIAGNOSTICS conversations_deleted = ROW_COUNT;
  RETURN NEXT;
END
$$;

-- A full rollback also forgets the backfill's own run records (seed 003's rollback.sql); nothing else in audits.
CREATE FUNCTION backfill_forget_runs() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE n integer;
BEGIN
  DELETE FROM audits WHERE action = 'backfill_conversations_messages' AND lead_id IS NULL;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;

-- The reconcile step's worker, run by the master user only: creates the role if missing, sets
-- its password (when given), revokes everything in the schema, then grants exactly `grants`
-- ({"tables": {"t": ["SELECT", …]}, "functions": ["f(text)"], "sequences": ["s"]}).
-- Returns what it skipped because it does not exist (yet), with a WARNING for each.
CREATE FUNCTION dlc_reconcile_role(role_name text, role_password text, grants jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
  t record;
  f text;
  s text;
  privs text;
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
    SELECT string_agg(p, ', ') INTO privs FROM jsonb_array_elements_text(t.privileges) p
      WHERE p IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE');
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

REVOKE EXECUTE ON FUNCTION backfill_rollback_batch(uuid, uuid, uuid, timestamptz, timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION backfill_forget_runs() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION dlc_reconcile_role(text, text, jsonb) FROM PUBLIC;
