-- Analytics read side (issue 10): indexes for per-property reads. The agg_* primary keys lead with
-- the period (what the aggregation jobs write by); every dashboard, time-series and report query
-- reads ONE property over a period range, so each table gets (property_id, period).

-- The dashboard's open hour and derived figures: one property, a few event types, a time range.
CREATE INDEX analytics_events_property_type_time_idx ON analytics_events (property_id, event_type, occurred_at);

CREATE INDEX agg_message_counts_hourly_property_idx ON agg_message_counts_hourly (property_id, period_start);
CREATE INDEX agg_response_times_hourly_property_idx ON agg_response_times_hourly (property_id, period_start);
CREATE INDEX agg_conversation_metrics_daily_property_idx ON agg_conversation_metrics_daily (property_id, period_date);
CREATE INDEX agg_staff_performance_daily_property_idx ON agg_staff_performance_daily (property_id, period_date);
CREATE INDEX agg_intent_distribution_daily_property_idx ON agg_intent_distribution_daily (property_id, period_date);
CREATE INDEX agg_satisfaction_weekly_property_idx ON agg_satisfaction_weekly (property_id, period_start);
CREATE INDEX agg_monthly_summary_property_idx ON agg_monthly_summary (property_id, period_month);
