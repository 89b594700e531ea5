-- Retention waits for the aggregations (issue 24's soak, L; docs/decisions.md "Retention waits for the
-- aggregations"). Retention exported raw events of hours no aggregation had computed yet (the hourly
-- job behind, or run after retention); the aggregations then found those hours beyond the raw horizon
-- (sql/015) and left them uncounted for good. Retention now exports analytics_events only up to the
-- earliest instant one of the aggregations it is given still needs raw events from:
-- - `computed`: a watermark's `computed_through` (the first period not computed yet in that zone), for
--   the zones the aggregations still run (sql/021: the deployment's, `covers_unregistered`, and the
--   registered properties'). A zone every property has left keeps its row, which no run advances any
--   more: it holds nothing back;
-- - `invalidated`: the first period of the aggregation's pending late-data invalidations;
-- - `rederivation`: the first raw event of a property whose zone changed and whose aggregates are still
--   to be re-derived (sql/025).
--
-- One row: that instant, who needs it and why (no row: nothing is waited for — an aggregation with no
-- watermark computes only the last closed period on its schedule, never older ones).
-- SECURITY DEFINER: dlc_retention learns one instant and a name, not the aggregations' tables.
CREATE FUNCTION raw_needed_from(tables text[])
RETURNS TABLE (agg_table text, time_zone text, property_id text, needed_from timestamptz, kind text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT x.t, x.z, x.p, x.f, x.k FROM (
    SELECT w.agg_table, w.time_zone, NULL::text, COALESCE(w.computed_through, w.aggregated_through), 'computed'
      FROM agg_watermarks w
     WHERE w.agg_table = ANY (tables)
       AND (w.covers_unregistered OR EXISTS (SELECT 1 FROM properties p WHERE p.time_zone = w.time_zone))
    UNION ALL
    SELECT v.agg_table, NULL::text, NULL::text, min(v.period_start), 'invalidated'
      FROM agg_invalidations v WHERE v.agg_table = ANY (tables) GROUP BY v.agg_table
    UNION ALL
    SELECT r.agg_table, NULL::text, r.property_id,
           (SELECT min(e.occurred_at) FROM analytics_events e WHERE e.property_id = r.property_id), 'rederivation'
      FROM property_rederivations r WHERE r.agg_table = ANY (tables)
  ) x (t, z, p, f, k)
  WHERE x.f IS NOT NULL
  ORDER BY x.f, x.t LIMIT 1
$$;
REVOKE EXECUTE ON FUNCTION raw_needed_from(text[]) FROM PUBLIC;
