-- Observed AS paths, and a change stamp on as_edges so every silo's in-memory graph index can follow
-- the table incrementally (last_seen is the measurement's time, which can be older than the write).

ALTER TABLE as_edges ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX as_edges_updated ON as_edges (updated_at);

-- One row per distinct AS path seen from a vantage point, in path order; '*' marks a gap (silent,
-- private or unmapped hops between two different ASes, across which no edge is inferred).
CREATE TABLE as_paths (
    path                text        PRIMARY KEY,
    asns                bigint[]    NOT NULL,
    observed_count      bigint      NOT NULL DEFAULT 0,
    first_seen          timestamptz NOT NULL,
    last_seen           timestamptz NOT NULL,
    vantages            text[]      NOT NULL DEFAULT '{}',
    last_target         inet,
    last_measurement_id bigint,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX as_paths_asns ON as_paths USING gin (asns);
CREATE INDEX as_paths_updated ON as_paths (updated_at);
