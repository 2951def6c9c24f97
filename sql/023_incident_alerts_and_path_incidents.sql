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

-- AS-path incidents (issue 15): path changes of targets grouped by the AS edge where they changed.
-- Their subject is that edge; before/after hold each (target, vantage)'s AS path before and now.
ALTER TABLE incidents DROP CONSTRAINT incidents_kind_check;
ALTER TABLE incidents ADD CONSTRAINT incidents_kind_check CHECK (kind IN ('loss', 'unreachable', 'latency_shift', 'as_path', 'vantage_down'));
UPDATE settings SET value = '{"path_settle_seconds": 86400}'::jsonb || value WHERE key = 'incident_settings';

-- How far the path-incident watch has read path_changes: one row, locked by the silo that reads,
-- so silos take turns and each change is applied once.
CREATE TABLE path_incident_cursor (
    only_row       boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last_change_id bigint  NOT NULL
);
-- Changes from before this migration are history, not news.
INSERT INTO path_incident_cursor (last_change_id) SELECT coalesce(max(id), 0) FROM path_changes;
-- vantage_down incidents (allowed by the kind check above): the subject is the vantage point's name, targets are empty.
