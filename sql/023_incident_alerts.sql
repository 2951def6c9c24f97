-- Alerts delivered (issue 15): one row per (incident, status, receiver) that the notifier has to
-- deliver, or has delivered, or gave up on. The primary key is what makes "never twice for one
-- incident" hold across silos and restarts: a notification is queued once, and a delivered one is
-- never queued again.
CREATE TABLE incident_notifications (
    incident_id   bigint      NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    status        text        NOT NULL CHECK (status IN ('firing', 'resolved')),
    -- 'webhook <url>' or 'alertmanager <url>': where it goes and in which format.
    receiver      text        NOT NULL,
    queued_at     timestamptz NOT NULL,
    -- A silo delivering it holds it until then; one that died mid-delivery lets it go.
    claimed_until timestamptz,
    attempts      int         NOT NULL DEFAULT 0,
    delivered_at  timestamptz,
    -- The dead letters: given up after the retries; last_error says why.
    dead_at       timestamptz,
    last_error    text,
    PRIMARY KEY (incident_id, status, receiver),
    CHECK (delivered_at IS NULL OR dead_at IS NULL)
);
CREATE INDEX incident_notifications_pending ON incident_notifications (incident_id)
    WHERE delivered_at IS NULL AND dead_at IS NULL;
