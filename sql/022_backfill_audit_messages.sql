-- The backfill makes each message-bearing audit one message, wherever that message lives (soak bug A).
--
-- `(conversation_id, message_key)` is unique in PostgreSQL only: once retention exported and deleted a
-- backfilled message (and its emptied `lead:<id>` conversation), a re-run found nothing to conflict
-- with and wrote the audit's message again, so it ended up in a cold object and in PostgreSQL (and
-- in two objects after the next export). This table is the backfill's durable record of every audit
-- whose message it created: written by the same statement as the message (the record is inserted
-- first, and only audits whose record was inserted get a message), consulted by every later run, and
-- never touched by retention, restore or the archive. Its primary key makes "one message per audit"
-- hold across runs, concurrent runs and storage tiers.
--
-- The backfill's rollback removes the records of the messages it deletes (a rolled-back audit may be
-- backfilled again); records of messages already in cold storage stay, because the rollback cannot
-- delete those messages. The erasure deletes a subject's records with the subject's audits.
CREATE TABLE backfill_audit_messages (
  audit_id         uuid PRIMARY KEY,
  -- `lead:<lead id>`: the conversation the message went to
  conversation_key text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX backfill_audit_messages_conversation_idx ON backfill_audit_messages (conversation_key);

-- Messages backfilled before this migration, still in PostgreSQL, are recorded now. (Those a
-- retention run already exported are not visible from here: see docs/soak.md, bug A.)
INSERT INTO backfill_audit_messages (audit_id, conversation_key, created_at)
SELECT DISTINCT ON (substr(m.message_key, 7)) substr(m.message_key, 7)::uuid, c.conversation_key, m.inserted_at
FROM messages m JOIN conversations c ON c.id = m.conversation_id
WHERE m.source = 'audit_backfill'
  AND m.message_key ~ '^audit:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
ORDER BY substr(m.message_key, 7), m.inserted_at
ON CONFLICT (audit_id) DO NOTHING;

-- The rollback (sql/009), now also forgetting the records of the messages it deletes, in the same
-- statement. Same signature: its owner, SECURITY DEFINER and EXECUTE grants are kept.
CREATE OR REPLACE FUNCTION backfill_rollback_batch(lead uuid, after_lead uuid, last_lead uuid, from_ts timestamptz, to_ts timestamptz)
RETURNS TABLE (messages_deleted integer, conversations_deleted integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  WITH gone AS (
    DELETE FROM messages m USING conversations c
    WHERE m.conversation_id = c.id
      AND backfill_lead_of(c.conversation_key) IS NOT NULL
      AND (lead IS NULL OR backfill_lead_of(c.conversation_key) = lead)
      AND (after_lead IS NULL OR backfill_lead_of(c.conversation_key) > after_lead)
      AND backfill_lead_of(c.conversation_key) <= last_lead
      AND m.source = 'audit_backfill' AND m.message_key LIKE 'audit:%'
      AND (from_ts IS NULL OR m.created_at >= from_ts) AND (to_ts IS NULL OR m.created_at < to_ts)
    RETURNING m.message_key
  ), forgotten AS (
    DELETE FROM backfill_audit_messages b
    WHERE b.audit_id IN (SELECT substr(g.message_key, 7)::uuid FROM gone g WHERE g.message_key ~ '^audit:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM gone)::int INTO messages_deleted;
  DELETE FROM conversations c
  WHERE backfill_lead_of(c.conversation_key) IS NOT NULL
    AND (lead IS NULL OR backfill_lead_of(c.conversation_key) = lead)
    AND (after_lead IS NULL OR backfill_lead_of(c.conversation_key) > after_lead)
    AND backfill_lead_of(c.conversation_key) <= last_lead
    AND c.source = 'audit_backfill'
    AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id);
  GET DIAGNOSTICS conversations_deleted = ROW_COUNT;
  RETURN NEXT;
END
$$;
