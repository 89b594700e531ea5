-- Late events and the raw horizon (issue 26.10; docs/decisions.md "Late events and the raw horizon").
--
-- A table's raw horizon is the time of the newest row retention has exported from it: the latest
-- `range_end` of its objects in archive_manifest (every object, superseded or restored ones too: a
-- restore is partial and temporary, so it never moves the horizon back). Raw rows at or before the
-- horizon may exist only in cold storage, so an aggregate whose period starts at or before it can
-- no longer be recomputed from PostgreSQL; the aggregations leave such buckets as they are, and
-- ingest refuses late events that would fall in them. NULL: nothing exported yet.
--
-- STABLE, so a statement that calls it sees the horizon of its own snapshot: the same snapshot in
-- which it reads the raw rows (retention deletes rows and records their object in one transaction).
-- SECURITY DEFINER: the roles that need the horizon (dlc_ingest, dlc_aggregate) learn one
-- timestamp, not the manifest.
CREATE INDEX archive_manifest_table_range_end_idx ON archive_manifest (table_name, range_end);

CREATE FUNCTION raw_horizon(tbl text) RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT range_end FROM archive_manifest WHERE table_name = tbl ORDER BY range_end DESC LIMIT 1
$$;
REVOKE EXECUTE ON FUNCTION raw_horizon(text) FROM PUBLIC;
