-- Functions shared by the jobs that write messages (archive, backfill), so every writer agrees.

-- The stemmer of a text: Spanish, English, or 'simple' (no stemming) when unsure or mixed.
-- Spanish-only characters, then a few frequent function words of each language; boolean
-- matches only (cheap: ~8 µs per message, half the cost of the tsvector itself).
CREATE FUNCTION detect_language(content text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN s ~ '[ñ¿¡áéíóú]' THEN 'spanish'
    WHEN s ~ '\m(que|el|los|del|se|las|por|para|con|una|su|al|lo|como|pero|porque|esta|cuando|muy|sin|sobre|hay|donde|hola|gracias|quiero|puedo|tengo|buenos|buenas|cita|favor)\M'
      THEN CASE WHEN s ~ '\m(the|and|you|that|was|for|are|with|this|have|from|what|your|hello|thanks|please|want|need|would|could)\M' THEN 'simple' ELSE 'spanish' END
    WHEN s ~ '\m(the|and|you|that|was|for|are|with|this|have|from|what|your|hello|thanks|please|want|need|would|could|like|book|can)\M' THEN 'english'
    ELSE 'simple'
  END
  FROM (SELECT lower(left(content, 500)) AS s) x
$$;

-- Seed 003's role table: customer/user → user, agent/assistant → assistant, system, tool.
CREATE FUNCTION audit_message_role(actor text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE lower(actor)
    WHEN 'customer' THEN 'user' WHEN 'user' THEN 'user'
    WHEN 'agent' THEN 'assistant' WHEN 'assistant' THEN 'assistant'
    WHEN 'system' THEN 'system' WHEN 'tool' THEN 'tool'
  END
$$;

-- Seed 003's text priority: payload.text, .message, .content, .body (non-empty strings), else the
-- payload as JSON text cut to 1,000 characters. NULL (no text) for a null/empty payload.
-- A payload that is itself a JSON string is that string.
CREATE FUNCTION audit_message_text(payload jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN payload IS NULL OR payload = 'null'::jsonb OR payload = '{}'::jsonb OR payload = '[]'::jsonb THEN NULL
    WHEN jsonb_typeof(payload) = 'string' THEN NULLIF(payload #>> '{}', '')
    WHEN jsonb_typeof(payload) = 'object' THEN COALESCE(
      CASE WHEN jsonb_typeof(payload -> 'text') = 'string' THEN NULLIF(payload ->> 'text', '') END,
      CASE WHEN jsonb_typeof(payload -> 'message') = 'string' THEN NULLIF(payload ->> 'message', '') END,
      CASE WHEN jsonb_typeof(payload -> 'content') = 'string' THEN NULLIF(payload ->> 'content', '') END,
      CASE WHEN jsonb_typeof(payload -> 'body') = 'string' THEN NULLIF(payload ->> 'body', '') END,
      left(payload::text, 1000))
    ELSE left(payload::text, 1000)
  END
$$;
