-- Issue 23: a property's zone change re-derives its aggregates wherever the change is made. The
-- change (CLI `npm run properties -- set`, or the deployed API's PUT /properties/{id}) records, in the
-- statement's transaction, one row per aggregate table; the aggregation of that table re-derives the
-- property (its closed periods in the new zone, recomputed from the raw events after the raw horizon,
-- and its rows keyed by the former zone's periods zeroed) and removes the row. The CLI does it at
-- once; the deployed system at the table's next scheduled run (within 15 minutes for the hourly
-- tables, an hour for the others). A row stays until its re-derivation succeeds: a failed one is
-- retried by the next run. Two changes before a run (A → B → C) leave two rows: both former zones' keys
-- are swept.
CREATE TABLE property_rederivations (
  property_id   text NOT NULL REFERENCES properties (property_id) ON DELETE CASCADE,
  agg_table     text NOT NULL,
  previous_zone text NOT NULL,
  requested_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (property_id, agg_table, previous_zone)
);
