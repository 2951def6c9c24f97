-- Network watch: a ping series per (target, vantage) — SmokePing-style rounds of pings on a fixed
-- schedule — with hourly roll-ups and the same monthly partitions and retention as measurements.

INSERT INTO settings (key, value) VALUES
('ping_settings',
 '{"enabled": true, "interval_seconds": 300, "pings_per_round": 20, "spacing_seconds": 1, "method": "icmp",
   "sources": ["static", "api"], "max_concurrent_rounds": 500}')
ON CONFLICT (key) DO NOTHING;

-- NULL: the target has a ping series when one of its sources is in ping_settings.sources; true or
-- false overrides that for this target.
ALTER TABLE targets ADD COLUMN ping boolean;

-- The ping schedule, one row per (target, vantage) pair of the trace schedule. A round is taken on a
-- fixed grid (due + interval), not an interval after the previous round ended, so the series keeps
-- its cadence however long a round takes.
CREATE TABLE ping_schedule (
    ip             inet        NOT NULL,
    vantage        text        NOT NULL,
    next_due_at    timestamptz NOT NULL,
    last_round_at  timestamptz,
    PRIMARY KEY (ip, vantage),
    FOREIGN KEY (ip, vantage) REFERENCES target_vantages (ip, vantage) ON DELETE CASCADE
);
CREATE INDEX ping_schedule_due ON ping_schedule (vantage, next_due_at);

-- One row per round. rtts_ms holds the first reply's RTT of every answered ping, sorted, so a chart
-- can draw the distribution (the "smoke"); loss_pct is NULL when the round failed for a reason of our
-- own (scamper not answering), which is not loss on the network.
CREATE TABLE ping_rounds (
    target          inet             NOT NULL,
    vantage         text             NOT NULL,
    started_at      timestamptz      NOT NULL,
    method          text             NOT NULL CHECK (method IN ('icmp', 'udp', 'tcp')),
    sent            smallint         NOT NULL CHECK (sent >= 0),
    received        smallint         NOT NULL CHECK (received >= 0 AND received <= sent),
    loss_pct        real             CHECK (loss_pct BETWEEN 0 AND 100),
    min_rtt_ms      double precision,
    median_rtt_ms   double precision,
    max_rtt_ms      double precision,
    mean_rtt_ms     double precision,
    stdev_rtt_ms    double precision,
    iqr_rtt_ms      double precision,
    rtts_ms         real[]           NOT NULL DEFAULT '{}',
    failure_reason  text,
    PRIMARY KEY (target, vantage, started_at)
) PARTITION BY RANGE (started_at);
CREATE INDEX ping_rounds_started ON ping_rounds (started_at);
CREATE TABLE ping_rounds_default PARTITION OF ping_rounds DEFAULT;

-- One row per target, vantage and hour of rounds; outlives the raw rounds (aggregate_months).
CREATE TABLE ping_rounds_hourly (
    target             inet             NOT NULL,
    vantage            text             NOT NULL,
    hour               timestamptz      NOT NULL,
    rounds             integer          NOT NULL,
    failed_rounds      integer          NOT NULL,
    sent               integer          NOT NULL,
    received           integer          NOT NULL,
    loss_pct           real,
    min_rtt_ms         double precision,
    median_rtt_ms      double precision,
    p10_rtt_ms         double precision,
    p90_rtt_ms         double precision,
    max_rtt_ms         double precision,
    mean_stdev_rtt_ms  double precision,
    mean_iqr_rtt_ms    double precision,
    PRIMARY KEY (target, vantage, hour)
);
CREATE INDEX ping_rounds_hourly_hour ON ping_rounds_hourly (hour);

-- The monthly partitions now include ping_rounds (same contract as in 004: idempotent, called at
-- start-up and hourly so rounds never land in the default partition).
CREATE OR REPLACE FUNCTION cw_ensure_month_partitions(from_month date, months integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', from_month)::date;
    created integer := 0;
    t text;
BEGIN
    FOR i IN 1..months LOOP
        FOREACH t IN ARRAY ARRAY['measurements', 'hops', 'ping_rounds'] LOOP
            IF to_regclass(format('%s_%s', t, to_char(m, 'YYYY_MM'))) IS NULL THEN
                EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                               format('%s_%s', t, to_char(m, 'YYYY_MM')), t, m, (m + interval '1 month')::date);
                created := created + 1;
            END IF;
        END LOOP;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN created;
END $$;

SELECT cw_ensure_month_partitions((now() - interval '1 month')::date, 4);

-- Incidents of the network watch. One row per incident: opened when its condition held for
-- open_after rounds, resolved when clear for resolve_after (incident_settings).
INSERT INTO settings (key, value) VALUES
('incident_settings',
 '{"open_after": 2, "resolve_after": 3, "loss_threshold_pct": 5, "latency_shift_ms": 10,
   "latency_shift_fraction": 0.25, "baseline_rounds": 12}')
ON CONFLICT (key) DO NOTHING;

CREATE TABLE incidents (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text        NOT NULL CHECK (kind IN ('loss', 'unreachable', 'latency_shift')),
    -- What the incident is about: the target address for the ping kinds.
    subject      text        NOT NULL,
    vantages     text[]      NOT NULL,
    targets      inet[]      NOT NULL,
    opened_at    timestamptz NOT NULL,
    resolved_at  timestamptz,
    -- Baseline vs now at opening, and what the rounds showed when it resolved.
    before       jsonb,
    after        jsonb,
    CHECK (resolved_at IS NULL OR resolved_at >= opened_at)
);
-- Never two open incidents for one cause: the store's insert relies on it.
CREATE UNIQUE INDEX incidents_one_open ON incidents (kind, subject, vantages) WHERE resolved_at IS NULL;
CREATE INDEX incidents_opened ON incidents (opened_at DESC);
