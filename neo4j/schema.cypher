// Schema for the cyberWatch AS graph in Neo4j 5. Run once before the projection or an import:
//   cypher-shell -u neo4j -p PASSWORD -f neo4j/schema.cypher

// One node per AS; MERGE on asn needs this uniqueness constraint to be fast and race-free.
CREATE CONSTRAINT as_asn_unique IF NOT EXISTS
FOR (a:AS) REQUIRE a.asn IS UNIQUE;

CREATE INDEX as_country IF NOT EXISTS
FOR (a:AS) ON (a.country);

CREATE INDEX as_last_seen IF NOT EXISTS
FOR (a:AS) ON (a.last_seen);

// Relationship property indexes (Neo4j 5): time-window and IXP queries over ROUTE.
CREATE INDEX route_last_seen IF NOT EXISTS
FOR ()-[e:ROUTE]-() ON (e.last_seen);

CREATE INDEX route_first_seen IF NOT EXISTS
FOR ()-[e:ROUTE]-() ON (e.first_seen);

CREATE INDEX route_ixp IF NOT EXISTS
FOR ()-[e:ROUTE]-() ON (e.ixp);

CREATE INDEX route_kind IF NOT EXISTS
FOR ()-[e:ROUTE]-() ON (e.kind);
