-- Operations: retention settings, the hourly per-target aggregate that outlives raw measurements,
-- the roll-up bookkeeping, and the selection test the Grafana dashboards use for their variables.

INSERT INTO settings (key, value) VALUES
('retention_settings', '{"raw_months": 6, "aggregate_months": 24}')
ON CONFLICT (key) DO NOTHING;

-- One row per target, vantage point and hour; RTT is the destination's (dest_rtt_ms) of successful
-- measurements, hop counts are those of successful measurements.
CREATE TABLE target_hourly_stats (
    target            inet             NOT NULL,
    vantage           text             NOT NULL,
    hour              timestamptz      NOT NULL,
    measurement_count integer          NOT NULL,
    success_count     integer          NOT NULL,
    min_rtt_ms        double precision,
    avg_rtt_ms        double precision,
    p95_rtt_ms        double precision,
    max_rtt_ms        double precision,
    avg_hop_count     real,
    max_hop_count     smallint,
    PRIMARY KEY (target, vantage, hour)
);
CREATE INDEX target_hourly_stats_hour ON target_hourly_stats (hour);
CREATE INDEX asn_stats_hour ON asn_stats (hour);

-- How far each hourly aggregate has been computed from the raw tables (exclusive upper bound).
CREATE TABLE aggregate_rollups (
    name          text        PRIMARY KEY,
    rolled_up_to  timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Grafana variables: an empty selection, "All" (custom all value '*') or Grafana's empty value ('')
-- select everything; otherwise the value must be one of those selected. Written as an inlinable SQL
-- function so a panel's WHERE clause stays one readable call and indexes still apply.
CREATE FUNCTION cw_selected(selection text[], value text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT cardinality(selection) = 0 OR selection && ARRAY['*', ''] OR value = ANY (selection)
$$;
