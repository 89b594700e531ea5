-- Objects a run is writing (issue 24's soak): recorded before the upload, in a statement of its own,
-- and removed in the transaction that records the object in the manifest. A row left behind names an
-- object whose run died or rolled back between its upload and its commit: if no later run recovers
-- it (same first row, same key), the next run removes it (retire.ts), so nothing outside the
-- manifest stays under the prefixes the readers query.
CREATE TABLE archive_pending (
  object_key text PRIMARY KEY,
  table_name text NOT NULL,
  run_id     text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
