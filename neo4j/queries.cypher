// Example queries over the cyberWatch AS graph (projection or neo4j-admin import).
// Parameters: :param asn => 64500; :param src => 64500; :param dst => 64510; :param since => '2026-01-01T00:00:00Z'

// Neighbors of an AS, with the edge statistics in both directions.
MATCH (a:AS {asn: $asn})-[e:ROUTE]-(n:AS)
RETURN n.asn AS neighbor, n.org_name AS org,
       CASE WHEN startNode(e) = a THEN 'out' ELSE 'in' END AS direction,
       e.observed_count AS observed, e.min_rtt AS min_rtt_ms, e.avg_rtt AS avg_rtt_ms, e.ixp AS ixp, e.kind AS kind
ORDER BY observed DESC;

// Shortest AS path over observed adjacencies, either direction (what GET /graph/path answers by default).
MATCH (s:AS {asn: $src}), (d:AS {asn: $dst}),
      p = shortestPath((s)-[:ROUTE*..12]-(d))
RETURN [n IN nodes(p) | n.asn] AS as_path, length(p) AS as_hops;

// The same over direct links only (GET /graph/path?links=direct): indirect ones were seen only across silent hops.
MATCH (s:AS {asn: $src}), (d:AS {asn: $dst}),
      p = shortestPath((s)-[:ROUTE*..12]-(d))
WHERE all(e IN relationships(p) WHERE e.kind = 'direct')
RETURN [n IN nodes(p) | n.asn] AS as_path, length(p) AS as_hops;

// Shortest AS path following edges only in the direction traceroutes crossed them (directed=true).
MATCH (s:AS {asn: $src}), (d:AS {asn: $dst}),
      p = shortestPath((s)-[:ROUTE*..12]->(d))
RETURN [n IN nodes(p) | n.asn] AS as_path, length(p) AS as_hops;

// All shortest paths, to see the alternatives of equal length.
MATCH (s:AS {asn: $src}), (d:AS {asn: $dst}),
      p = allShortestPaths((s)-[:ROUTE*..12]-(d))
RETURN [n IN nodes(p) | n.asn] AS as_path
LIMIT 20;

// Changes over time: edges first seen since a date (new adjacencies), newest first.
MATCH (a:AS)-[e:ROUTE]->(b:AS)
WHERE e.first_seen >= datetime($since)
RETURN a.asn AS src, b.asn AS dst, e.first_seen AS first_seen, e.observed_count AS observed, e.ixp AS ixp
ORDER BY first_seen DESC
LIMIT 100;

// Changes over time: edges not seen since a date (adjacencies that disappeared from our paths).
MATCH (a:AS)-[e:ROUTE]->(b:AS)
WHERE e.last_seen < datetime($since)
RETURN a.asn AS src, b.asn AS dst, e.last_seen AS last_seen, e.observed_count AS observed
ORDER BY last_seen ASC
LIMIT 100;

// Changes over time: per month, how many edges were first seen.
MATCH ()-[e:ROUTE]->()
RETURN date.truncate('month', e.first_seen) AS month, count(*) AS new_edges
ORDER BY month;

// Edges crossed at IXPs, per exchange.
MATCH (a:AS)-[e:ROUTE]->(b:AS)
WHERE e.ixp IS NOT NULL
RETURN e.ixp AS ixp, count(*) AS edges, collect(DISTINCT a.asn)[..20] AS some_members
ORDER BY edges DESC;

// Topology around an AS to depth 2 (what GET /graph/topology draws).
MATCH p = (a:AS {asn: $asn})-[:ROUTE*1..2]-(n:AS)
RETURN p
LIMIT 500;
