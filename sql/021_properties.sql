-- Issue 23, "each property in its own time zone": the property registry, and aggregation watermarks
-- per zone.
--
-- A registered property's hours, days, Monday-weeks and months are its zone's wall-clock periods
-- (aggregations, series, reports, the dashboard's today and open hour). An unregistered property
-- uses the deployment's configured zone (lib/config.ts `aggregation.timeZone`), as every property
-- did before. The id follows the one property id rule (lambdas/shared/property-id.ts).
CREATE TABLE properties (
  property_id  text PRIMARY KEY CHECK (property_id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'),
  display_name text CHECK (display_name IS NULL OR length(display_name) BETWEEN 1 AND 200),
  time_zone    text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Only IANA names PostgreSQL knows (not a POSIX rule such as 'UTC+3', whose sign is the reverse of
-- ISO's, nor an abbreviation): the aggregations compute in PostgreSQL, the read side in Intl, and both
-- must read the same zone. The application checks Intl knows it too (lambdas/shared/properties.ts).
CREATE FUNCTION properties_check_time_zone() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = NEW.time_zone) OR NEW.time_zone ~ '^(posix|right)/' THEN
    RAISE EXCEPTION 'unknown time zone "%": expected an IANA name such as Europe/Madrid', NEW.time_zone
      USING ERRCODE = 'check_violation';
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END $$;
CREATE TRIGGER properties_check_time_zone BEFORE INSERT OR UPDATE OF time_zone ON properties
  FOR EACH ROW EXECUTE FUNCTION properties_check_time_zone();

-- One watermark per aggregate table AND zone: a scheduled run closes each zone's periods when they
-- have ended in that zone (one schedule, per-property closing). `covers_unregistered`: the
-- configured zone's row, which also judges the late events of unregistered properties at ingest.
ALTER TABLE agg_watermarks ADD COLUMN covers_unregistered boolean NOT NULL DEFAULT true;
ALTER TABLE agg_watermarks DROP CONSTRAINT agg_watermarks_pkey;
ALTER TABLE agg_watermarks ADD PRIMARY KEY (agg_table, time_zone);

-- A late event's invalidation row names an instant INSIDE the period to recompute (the runner finds
-- the period holding it, in the property's zone): the period's start where date_trunc gives it, else
-- the event's minute — date_trunc(…, zone) cannot name the second of two repeated 02:00 hours, the
-- later piece of an hour cut by a 30-minute shift (Australia/Lord_Howe), or a day whose 00:00 the
-- zone skips (America/Santiago): it would name the neighbouring period.
CREATE FUNCTION agg_period_probe(unit text, ts timestamptz, zone text) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN date_trunc(unit, c AT TIME ZONE zone) = date_trunc(unit, ts AT TIME ZONE zone)
               AND (unit <> 'hour' OR (c AT TIME ZONE zone) - (c AT TIME ZONE 'UTC') = (ts AT TIME ZONE zone) - (ts AT TIME ZONE 'UTC'))
              THEN c ELSE date_trunc('minute', ts) END
  FROM (SELECT CASE WHEN unit = 'hour' THEN ts - ((ts AT TIME ZONE zone) - date_trunc('hour', ts AT TIME ZONE zone))
                    ELSE date_trunc(unit, ts, zone) END AS c) x
$$;
