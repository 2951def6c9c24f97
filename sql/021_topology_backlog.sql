-- Topology at least once (issue 13). A stored measurement with hops implies AS edges, ASN observations
-- and an AS path; those went through an in-memory queue, so a crash or an overflow lost them. Now the
-- measurement's row here is written in the transaction that stores the measurement, and deleted in the
-- transaction that stores its topology rows (as_edges, asns, as_paths): whatever is still here after a
-- grace period was lost on the way, and the silos' catch-up records it again from the stored hops.
-- Measurements stored before this migration are not listed: their topology was recorded then (or lost),
-- and replaying them would count them twice.
CREATE TABLE topology_backlog (
    measurement_id bigint      PRIMARY KEY,
    -- The measurement's partition key: its hops are read from one partition.
    started_at     timestamptz NOT NULL,
    stored_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX topology_backlog_stored ON topology_backlog (stored_at);
