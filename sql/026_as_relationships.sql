-- Inferred business relationships of AS pairs (Topology/Relationships: valley-free inference over the
-- trace AS paths and the loaded RIB's AS_PATHs), one row per unordered pair, read from asn_a's side.
-- Replaced whole by the silo that recomputes it (docs/topology.md); the graph reads it with as_edges.

CREATE TABLE as_relationships (
    asn_a        bigint           NOT NULL CHECK (asn_a BETWEEN 0 AND 4294967295),
    asn_b        bigint           NOT NULL CHECK (asn_b BETWEEN 0 AND 4294967295),
    relationship text             NOT NULL CHECK (relationship IN ('p2c', 'c2p', 'p2p', 'unknown')),
    source       text             NOT NULL CHECK (source IN ('traces', 'bgp', 'both')),
    confidence   double precision NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    basis        text             NOT NULL,
    paths        integer          NOT NULL CHECK (paths >= 0),
    computed_at  timestamptz      NOT NULL,
    PRIMARY KEY (asn_a, asn_b),
    CHECK (asn_a < asn_b)
);
