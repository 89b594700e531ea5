-- The role registry (lambdas/shared/db-roles.ts) may grant SELECT on some columns only:
-- `SELECT (id, property_id)`. Ingest's statement reads back the columns of its ON CONFLICT targets
-- and RETURNING list (PostgreSQL requires SELECT on them), and nothing else of the raw events.
-- Same function as 009 otherwise. `REVOKE ALL ON ALL TABLES` (below) also takes back column
-- privileges, so a column removed from the registry is removed from the database.
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
      WHERE p !~ '^(SELECT|INSERT|UPDATE|DELETE|SELECT \([a-z_][a-z0-9_]*(, [a-z_][a-z0-9_]*)*\))$' LIMIT 1;
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'role %: privilege % on % is not SELECT|INSERT|UPDATE|DELETE or SELECT (col, ...)', role_name, bad, t.name;
    END IF;
    -- Column lists are quoted column by column (%I), whatever the registry holds.
    SELECT string_agg(
             CASE WHEN p LIKE 'SELECT (%'
                  THEN 'SELECT (' || (SELECT string_agg(format('%I', btrim(c)), ', ')
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
