-- Issue 23, defects 1 and 2: every mean an aggregate row holds is stored with the count it was taken
-- over and the exact sum behind it, so a roll-up (a week of days, a day of hours) is Σ sum ÷ Σ count:
-- exactly the mean over the raw events of the longer period. The rounded averages stay (the seed's
-- columns, what a person reads per row); nothing is renamed or dropped.
--
-- Before: first-response means were weighted by conversations started (not the conversations whose
-- first response was measured), staff response times by conversations handled (not the timed
-- responses: a day of timed responses without a staff message dropped out), resolution minutes by
-- every resolution (measured or not), classifier confidence by every classification (with or
-- without a confidence), and rounded averages were multiplied back.
--
-- The daily table per channel also counts what the report summaries need from every day, so that a
-- figure means the same in a daily, weekly and monthly report (defect 2): tasks created, and ratings
-- (all of them, not only those that name a staff member).

ALTER TABLE agg_response_times_hourly
  ADD COLUMN duration_sum_ms bigint;                                  -- Σ duration_ms of the `responses` timed responses

ALTER TABLE agg_conversation_metrics_daily
  ADD COLUMN first_responses        integer NOT NULL DEFAULT 0 CHECK (first_responses >= 0),  -- conversations whose first response was measured
  ADD COLUMN first_response_sum_ms  bigint,                                                    -- Σ of those first responses
  ADD COLUMN resolutions_timed      integer NOT NULL DEFAULT 0 CHECK (resolutions_timed >= 0), -- resolutions with a duration
  ADD COLUMN resolution_sum_ms      bigint,                                                    -- Σ of those durations (ms)
  ADD COLUMN tasks_created          integer NOT NULL DEFAULT 0 CHECK (tasks_created >= 0),     -- task.created events
  ADD COLUMN ratings                integer NOT NULL DEFAULT 0 CHECK (ratings >= 0),           -- satisfaction.rating_received events
  ADD COLUMN rating_sum             double precision;                                          -- Σ of their values

ALTER TABLE agg_staff_performance_daily
  ADD COLUMN responses_timed  integer NOT NULL DEFAULT 0 CHECK (responses_timed >= 0),  -- the member's response.time_recorded events with a duration
  ADD COLUMN response_sum_ms  bigint;                                                   -- Σ of those durations

ALTER TABLE agg_intent_distribution_daily
  ADD COLUMN confidence_count integer NOT NULL DEFAULT 0 CHECK (confidence_count >= 0);  -- classifications with a confidence (`value`)

-- Rows aggregated before this migration: the weights the read side used until now (so no figure
-- changes or disappears until the row is recomputed), sums from the rounded means. Recompute the
-- periods whose raw events are still in PostgreSQL for exact figures (`npm run aggregate -- --all
-- --from … --to …`; docs/decisions.md, "Analytics: one definition per figure").
UPDATE agg_response_times_hourly SET duration_sum_ms = avg_ms::bigint * responses WHERE avg_ms IS NOT NULL;
UPDATE agg_conversation_metrics_daily SET
  first_responses = CASE WHEN avg_first_response_ms IS NOT NULL THEN conversations_started ELSE 0 END,
  first_response_sum_ms = avg_first_response_ms::bigint * conversations_started,
  resolutions_timed = CASE WHEN avg_resolution_minutes IS NOT NULL THEN conversations_resolved ELSE 0 END,
  resolution_sum_ms = avg_resolution_minutes::bigint * 60000 * conversations_resolved;
UPDATE agg_staff_performance_daily SET
  responses_timed = CASE WHEN avg_response_time_ms IS NOT NULL THEN conversations_handled ELSE 0 END,
  response_sum_ms = avg_response_time_ms::bigint * conversations_handled;
UPDATE agg_intent_distribution_daily SET confidence_count = CASE WHEN avg_confidence IS NOT NULL THEN count ELSE 0 END;
