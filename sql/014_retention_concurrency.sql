-- Retention and restore while other writers and other runs are at work (issue 26).

-- 1. No cascade may delete what retention did not export. A conversation that retention found
-- empty can gain a message before its DELETE runs (the backfill inserts messages without touching
-- the conversation row); with ON DELETE CASCADE that message went with it, never exported. Now the
-- DELETE fails (foreign_key_violation), retention rolls the object back and keeps the conversation.
ALTER TABLE messages DROP CONSTRAINT messages_conversation_id_fkey;
ALTER TABLE messages ADD CONSTRAINT messages_conversation_id_fkey
  FOREIGN KEY (conversation_id) REFERENCES conversations (id) ON DELETE RESTRICT;

-- 2. One lease per job, in the database every entry point shares (Lambda, CLI, a second Lambda
-- after a timeout). `fence` grows at every acquisition; a run holds the row FOR SHARE while it
-- writes an object and commits it, so an object is written and committed only under a live lease
-- (an acquisition waits for that object's transaction). The row is never deleted: releasing
-- expires it, so the fence keeps growing.
CREATE TABLE job_leases (
  job         text PRIMARY KEY CHECK (length(job) BETWEEN 1 AND 64),
  owner       text NOT NULL,
  fence       bigint NOT NULL CHECK (fence >= 1),
  expires_at  timestamptz NOT NULL,
  acquired_at timestamptz NOT NULL DEFAULT now(),
  renewed_at  timestamptz NOT NULL DEFAULT now(),
  -- Where the holder runs (lambda, cli, …): said to whoever finds the lease taken.
  holder      text NOT NULL DEFAULT ''
);

-- 3. Restore moves rows back: an object whose rows went back to PostgreSQL (all or some) is
-- superseded — by the object holding the rows that stayed cold, or by nothing — and then removed
-- from S3 with every version. The manifest row stays as history.
ALTER TABLE archive_manifest
  ADD COLUMN superseded_at timestamptz,
  ADD COLUMN superseded_by text,
  ADD COLUMN retired_at    timestamptz,
  ADD COLUMN generation    integer NOT NULL DEFAULT 0;
CREATE INDEX archive_manifest_live_idx ON archive_manifest (table_name, range_start) WHERE superseded_at IS NULL;
CREATE INDEX archive_manifest_unretired_idx ON archive_manifest (table_name) WHERE superseded_at IS NOT NULL AND retired_at IS NULL;

-- Rows restored are held in PostgreSQL (not exported again) until `until`: one hold per restored
-- object, over the time span of the rows it gave back.
CREATE TABLE retention_holds (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  table_name  text NOT NULL,
  range_start timestamptz NOT NULL,
  range_end   timestamptz NOT NULL,
  held_until  timestamptz NOT NULL,
  object_key  text NOT NULL,
  rows        bigint NOT NULL CHECK (rows >= 0),
  created_at  timestamptz NOT NULL DEFAULT now(),
  CHECK (range_start <= range_end)
);
CREATE INDEX retention_holds_table_idx ON retention_holds (table_name, held_until);
