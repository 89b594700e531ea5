-- A rejected event is kept once per delivery source, not once per delivery: SQS redelivers a
-- message whose batch partly failed (or whose Lambda timed out), and every redelivery used to add
-- its rejected events again. The key is a digest of (source, record id — the SQS message id, the
-- same on every redelivery —, the event's position in the record, its raw text): a redelivery
-- conflicts and is skipped; the same bad event sent again in a new message is a new occurrence and
-- is kept. Rows from before this migration have no key (NULLs never conflict).
ALTER TABLE analytics_events_rejected ADD COLUMN dedup_key text;
CREATE UNIQUE INDEX analytics_events_rejected_dedup_key_uq ON analytics_events_rejected (dedup_key);
