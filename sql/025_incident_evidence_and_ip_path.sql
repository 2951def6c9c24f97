-- Evidence at opening (issue 15): a fresh traceroute and an MTR of each affected target from each affected
-- vantage, taken when an incident opens. One row per (incident, vantage, target, tool): queued once by
-- whichever silo sees the incident first (the primary key makes a second queueing nothing), claimed by one
-- silo with a lease, then linked to the stored measurement or marked failed with the reason.
CREATE TABLE incident_evidence (
    incident_id    bigint      NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    vantage        text        NOT NULL,
    target         inet        NOT NULL,
    tool           text        NOT NULL CHECK (tool IN ('scamper', 'mtr')),
    queued_at      timestamptz NOT NULL,
    -- A silo taking it holds it until then; one that died mid-probe lets it go.
    claimed_until  timestamptz,
    attempts       int         NOT NULL DEFAULT 0,
    -- measurements.id (partitioned, so no foreign key): the trace or MTR that is the evidence.
    measurement_id bigint,
    taken_at       timestamptz,
    failed_at      timestamptz,
    failure_reason text,
    PRIMARY KEY (incident_id, vantage, target, tool),
    CHECK (measurement_id IS NULL OR failed_at IS NULL)
);
CREATE INDEX incident_evidence_pending ON incident_evidence (queued_at) WHERE measurement_id IS NULL AND failed_at IS NULL;

-- IP-path incidents beyond ECMP (issue 15): IP-path changes confirmed by the traces that followed them, grouped
-- by the changed hop. Subject: that hop, e.g. '10.0.0.1>10.0.1.1 => 10.0.0.1>10.0.2.1'.
ALTER TABLE incidents DROP CONSTRAINT incidents_kind_check;
ALTER TABLE incidents ADD CONSTRAINT incidents_kind_check
    CHECK (kind IN ('loss', 'unreachable', 'latency_shift', 'as_path', 'ip_path', 'vantage_down'));
-- The IP-path watch looks for the changes of its window by time.
CREATE INDEX IF NOT EXISTS path_changes_kind_time ON path_changes (kind, detected_at);

-- Adaptive remeasurement (issue 15): while an incident is open its targets are traced at least every
-- remeasure_seconds from its vantages (0: off).
UPDATE settings SET value = '{"remeasure_seconds": 60}'::jsonb || value WHERE key = 'incident_settings';
