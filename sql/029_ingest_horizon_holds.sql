-- Late events and retention at the same time (issue 26.10's race; docs/decisions.md "The race between
-- ingest and retention, closed"). Ingest judges a batch against the raw horizon it read, then inserts:
-- its insert statement calls this first. It takes the raw horizon's lock shared, for the statement's
-- transaction (retention takes it alone to commit an object of raw events: lambdas/aggregate/horizon.ts
-- lockRawHorizon, the same key), then checks that the horizon and the aggregation zones the events were
-- judged against still hold. If they do not, it raises, the statement writes nothing, and ingest judges
-- the records again. VOLATILE: each statement here takes a fresh snapshot, after the lock (the insert's
-- own snapshot was taken before it). SECURITY INVOKER: dlc_ingest already reads both.
CREATE FUNCTION ingest_horizon_holds(seen_horizon timestamptz, seen_zones jsonb)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = public, pg_temp AS $$
DECLARE
  seen text[] := ARRAY(SELECT jsonb_array_elements_text(seen_zones));
  now_horizon timestamptz;
  now_zones text[];
BEGIN
  PERFORM pg_advisory_xact_lock_shared(hashtext('raw_horizon:analytics_events'));
  SELECT raw_horizon('analytics_events') INTO now_horizon;
  SELECT ARRAY(SELECT DISTINCT time_zone FROM agg_watermarks) INTO now_zones;
  IF now_horizon IS DISTINCT FROM seen_horizon OR NOT (now_zones @> seen AND seen @> now_zones) THEN
    RAISE EXCEPTION 'raw horizon moved: the events were judged against %, it is now %', seen_horizon, now_horizon;
  END IF;
  RETURN true;
END
$$;
REVOKE EXECUTE ON FUNCTION ingest_horizon_holds(timestamptz, jsonb) FROM PUBLIC;
