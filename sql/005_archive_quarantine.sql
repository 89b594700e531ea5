-- Archive (issue 13): quarantine that cannot fail. The raw value is kept as bytes (any content:
-- NUL bytes, invalid UTF-8, any size), with its size and sha256; large values arrive in pieces
-- (appended in the same transaction), so no single request exceeds the Data API's 4 MiB.
ALTER TABLE checkpoint_quarantine
  ADD COLUMN raw_bytes   bytea,
  ADD COLUMN value_bytes bigint CHECK (value_bytes >= 0),
  ADD COLUMN key_type    text;

COMMENT ON COLUMN checkpoint_quarantine.raw_value IS 'Before migration 005: the value as text. Since: NULL (see raw_bytes).';
COMMENT ON COLUMN checkpoint_quarantine.raw_bytes IS 'The value exactly as read from Redis (GET / JSON.GET / a sorted set''s members and scores).';
COMMENT ON COLUMN checkpoint_quarantine.value_bytes IS 'Size of the value in bytes; octet_length(raw_bytes) equals it once every piece is in.';
