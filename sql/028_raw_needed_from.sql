-- Retention waits for the aggregations (issue 24's soak, L; docs/decisions.md "Retention waits for the
-- aggregations"). Retention exported raw events of hours no aggregation had computed yet (the hourly
-- job behind, or run after retention); the aggregations then found those hours beyond the raw horizon
-- (sql/015) and left them uncounted for good. Retention now exports analytics_events only up to the
-- earliest instant an aggregation still needs raw events from: the `computed_through` of every
-- watermark of the aggregations it is given (the first period not yet computed, per zone), and the
-- first period of each one's pending late-data invalidations. A zone no property is in any more
-- (every property moved away, or the deployment's zone changed) keeps its watermark row, which no run
-- advances: it holds nothing back (sql/021's zones: the deployment's, `covers_unregistered`, and the
-- registered properties').
--
-- One row: that instant and who needs it (no row: no aggregation has a watermark or an invalidation,
-- so none would ever compute those periods on its schedule and nothing is held back).
-- SECURITY DEFINER: dlc_retention learns one instant and a name, not the aggregations' tables.
CREATE FUNCTION raw_needed_from(tables text[])
RETURNS TABLE (agg_table text, time_zone text, needed_from timestamptz, invalidated boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT x.t, x.z, x.f, x.i FROM (
    SELECT w.agg_table, w.time_zone, COALESCE(w.computed_through, w.aggregated_through), false
      FROM agg_watermarks w
     WHERE w.agg_table = ANY (tables)
       -- a zone the aggregations still run: the deployment's (covers_unregistered) or a registered property's
       AND (w.covers_unregistered OR EXISTS (SELECT 1 FROM properties p WHERE p.time_zone = w.time_zone))
    UNION ALL
    SELECT v.agg_table, NULL::text, min(v.period_start), true
      FROM agg_invalidations v WHERE v.agg_table = ANY (tables) GROUP BY v.agg_table
  ) x (t, z, f, i)
  ORDER BY x.f, x.t LIMIT 1
$$;
REVOKE EXECUTE ON FUNCTION raw_needed_from(text[]) FROM PUBLIC;
