-- detect_language (004), same decisions, about half the CPU: written as one expression so the
-- planner inlines it into the INSERT that calls it (a SQL function with a FROM clause runs through
-- the function executor for every row), and matched case-insensitively (`~*`) on the first 500
-- characters instead of lowering them first (`lower()` once per test). Every message the archive
-- and the backfill write calls it: it was ~10 µs of the ~55 µs PostgreSQL spends per message row.
-- The words and their order of tests are unchanged. `~*` folds case per character, `lower()` per
-- string under the database's locale: they differ only on characters whose lower case is another
-- letter of the word lists (the Kelvin sign K, the dotted capital İ) — see docs/decisions.md.
-- Numbered 011: 010 is the dashboard state (developed alongside).
CREATE OR REPLACE FUNCTION detect_language(content text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN left(content, 500) ~* '[ñ¿¡áéíóú]' THEN 'spanish'
    WHEN left(content, 500) ~* '\m(?:que|el|los|del|se|las|por|para|con|una|su|al|lo|como|pero|porque|esta|cuando|muy|sin|sobre|hay|donde|hola|gracias|quiero|puedo|tengo|buenos|buenas|cita|favor)\M'
      THEN CASE WHEN left(content, 500) ~* '\m(?:the|and|you|that|was|for|are|with|this|have|from|what|your|hello|thanks|please|want|need|would|could)\M' THEN 'simple' ELSE 'spanish' END
    WHEN left(content, 500) ~* '\m(?:the|and|you|that|was|for|are|with|this|have|from|what|your|hello|thanks|please|want|need|would|could|like|book|can)\M' THEN 'english'
    ELSE 'simple'
  END
$$;
