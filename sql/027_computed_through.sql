-- What the scheduled aggregations have computed, beside what they have announced (issue 24's soak:
-- hourly buckets missing for every property over a few hours). A scheduled run commits
-- `aggregated_through` first, in a transaction of its own (ingest then logs any event for those periods
-- as late data), and computes the periods in a second transaction. When that second one failed (the
-- database killed between the two), the next run planned from `aggregated_through` and the periods in
-- between were never computed. The next run now plans from `computed_through`, advanced in the
-- computing transaction itself; `aggregated_through` keeps its meaning for ingest.
ALTER TABLE agg_watermarks ADD COLUMN computed_through timestamptz;
UPDATE agg_watermarks SET computed_through = aggregated_through;
