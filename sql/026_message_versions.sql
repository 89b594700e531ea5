-- The time of the checkpoint a message row's content comes from (the archive; NULL for rows the
-- backfill wrote and for rows archived before this column). An older checkpoint archived after a
-- newer one (a key the app wrote again after a fault, a thread read late) must not take a message back
-- to an earlier version (issue 24's soak: "cold holds an earlier version"): the archive's upsert
-- replaces a row only with a version at least as new, and retention's fold (sql/024) keeps the newer
-- of a cold row and a live one. Adding a nullable column without a default rewrites nothing.
ALTER TABLE messages ADD COLUMN version_at timestamptz;
