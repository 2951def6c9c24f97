// The statements cyberWatch's Neo4j projection sends to the transactional Cypher endpoint
// (POST /db/{db}/tx/commit). The silo embeds this file and sends each statement as written here, with
// $rows a list of maps (one batch, at most the configured batch size). Each statement starts with a
// "// statement: NAME" line. Direction is kept: (a)-[:ROUTE]->(b) means the path went a → b as seen
// from the vantage point. RTTs are in milliseconds to the first hop of the far AS; times are ISO-8601.

// statement: upsert_ases
UNWIND $rows AS r
MERGE (a:AS {asn: r.asn})
SET a.org_name = coalesce(r.org_name, a.org_name),
    a.country = coalesce(r.country, a.country),
    a.measurement_count = r.measurement_count,
    a.avg_rtt = r.avg_rtt,
    a.first_seen = CASE WHEN r.first_seen IS NULL THEN a.first_seen ELSE datetime(r.first_seen) END,
    a.last_seen = CASE WHEN r.last_seen IS NULL THEN a.last_seen ELSE datetime(r.last_seen) END

// statement: upsert_routes
UNWIND $rows AS r
MERGE (a:AS {asn: r.src_asn})
MERGE (b:AS {asn: r.dst_asn})
MERGE (a)-[e:ROUTE]->(b)
SET e.observed_count = r.observed_count,
    e.min_rtt = r.min_rtt,
    e.avg_rtt = r.avg_rtt,
    e.max_rtt = r.max_rtt,
    e.first_seen = datetime(r.first_seen),
    e.last_seen = datetime(r.last_seen),
    e.ixp = r.ixp,
    e.vantages = r.vantages,
    e.kind = r.kind,
    e.direct_count = r.direct_count,
    e.indirect_count = r.indirect_count,
    e.min_gap_hops = r.min_gap_hops,
    e.relationship = coalesce(r.relationship, e.relationship, 'unknown'),
    e.relationship_source = coalesce(r.relationship_source, e.relationship_source, 'none'),
    e.relationship_confidence = coalesce(r.relationship_confidence, e.relationship_confidence, 0.0)
