namespace CyberWatch.Topology;

/// <summary>One AS path seen by one measurement, in path order (null = gap).</summary>
public sealed record PathObservation(
    IReadOnlyList<long?> Path,
    DateTimeOffset ObservedAt,
    string Vantage,
    string Target,
    long MeasurementId);

/// <summary>
/// Where topology changes go once a grain has them: this silo's graph index (at once), the
/// <c>as_edges</c>/<c>asns</c>/<c>as_paths</c> tables (batched) and, when configured, the Neo4j projection.
/// None of them blocks the caller.
/// </summary>
public sealed class TopologyFeed(AsGraphIndex index, TopologyTables tables, Neo4jProjection? neo4j = null)
{
    public void EdgeChanged(AsEdgeStats edge)
    {
        index.Apply(edge);
        tables.Upsert(edge);
        neo4j?.Enqueue(edge);
    }

    public void AsnChanged(AsnInfo asn)
    {
        tables.Upsert(asn);
        neo4j?.Enqueue(asn);
    }

    public void PathObserved(PathObservation path)
    {
        index.ApplyPath(path.Path, 1, path.ObservedAt, path.ObservedAt, [path.Vantage], increment: true);
        tables.AddPath(path);
    }
}
