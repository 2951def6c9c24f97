-- Direct and indirect AS links (CAIDA's split for traceroute-derived links), and the AS path of each
-- measurement stored with it, computed once by the extractor the graph uses.

-- An edge's crossings split by how they were seen: direct (consecutive responding hops, or only IXP hops
-- between) or indirect (only silent, private or unmapped hops between; min_gap_hops is the fewest seen).
-- An edge seen directly once is direct. Rows from before this migration were all direct.
ALTER TABLE as_edges
    ADD COLUMN direct_count   bigint  NOT NULL DEFAULT 0 CHECK (direct_count >= 0),
    ADD COLUMN indirect_count bigint  NOT NULL DEFAULT 0 CHECK (indirect_count >= 0),
    ADD COLUMN min_gap_hops   integer CHECK (min_gap_hops >= 0);
UPDATE as_edges SET direct_count = observed_count;
ALTER TABLE as_edges
    ADD COLUMN kind text GENERATED ALWAYS AS (CASE WHEN direct_count = 0 AND indirect_count > 0 THEN 'indirect' ELSE 'direct' END) STORED;

-- The measurement's AS path in the form of as_paths.path ('1100 1200 * 1500': '*' marks an indirect step),
-- written with the measurement and again when a late enrichment maps its hops. NULL: no path computed
-- (failed probes, measurements stored before this migration).
ALTER TABLE measurements ADD COLUMN as_path text;
