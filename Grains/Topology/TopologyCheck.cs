using Npgsql;

namespace CyberWatch.Topology;

/// <summary>
/// Compares the AS edges the stored measurements imply (their stored hops through <see cref="AsPathExtractor"/>,
/// as the recorder does) with the rows of <c>as_edges</c>. Reads every stored hop of every successful
/// measurement, so it is a tool for the operator and the fault suite, not for a request path.
/// </summary>
public sealed class TopologyCheck(NpgsqlDataSource dataSource, AsPathExtractor extractor)
{
    /// <summary>
    /// <paramref name="Missing"/>: implied by a stored measurement, absent from as_edges (lost). <paramref name="Extra"/>:
    /// in as_edges with no stored measurement behind it (normal once retention dropped raw measurements).
    /// <paramref name="Backlog"/>: measurements still waiting in topology_backlog. <paramref name="CrossingsMissing"/> and
    /// <paramref name="CrossingsOverCounted"/>: over the edges in both, how many of the stored measurements' crossings
    /// <c>as_edges.observed_count</c> lacks, and how many it has beyond them (a measurement counted twice).
    /// </summary>
    public sealed record Report(long Measurements, int ImpliedEdges, int StoredEdges, IReadOnlyList<(long Src, long Dst)> Missing,
        IReadOnlyList<(long Src, long Dst)> Extra, long Backlog, long CrossingsMissing, long CrossingsOverCounted);

    public async Task<Report> RunAsync(CancellationToken cancellationToken)
    {
        // Crossings per edge: each measurement counts once per edge, as the edge grains count it.
        var implied = new Dictionary<(long, long), long>();
        long measurements = 0;
        await using (var read = dataSource.CreateCommand($"""
            SELECT m.id, {StoredHops.Columns}
              FROM measurements m JOIN hops h ON h.measurement_id = m.id AND h.measured_at = m.started_at
             WHERE m.success
             ORDER BY m.id, h.ttl, h.reply_index
            """))
        {
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            long? current = null;
            var hops = new List<PathHop>();
            void Close()
            {
                if (hops.Count > 0)
                {
                    measurements++;
                    foreach (var edge in extractor.Extract(hops).Edges.Select(e => (e.SrcAsn, e.DstAsn)).Distinct())
                    {
                        implied[edge] = implied.GetValueOrDefault(edge) + 1;
                    }
                }
                hops.Clear();
            }
            while (await reader.ReadAsync(cancellationToken))
            {
                var id = reader.GetInt64(0);
                if (id != current)
                {
                    Close();
                    current = id;
                }
                hops.Add(StoredHops.Read(reader, 1));
            }
            Close();
        }
        var stored = new Dictionary<(long, long), long>();
        await using (var edges = dataSource.CreateCommand("SELECT src_asn, dst_asn, observed_count FROM as_edges"))
        {
            await using var reader = await edges.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                stored[(reader.GetInt64(0), reader.GetInt64(1))] = reader.GetInt64(2);
            }
        }
        await using var backlog = dataSource.CreateCommand("SELECT count(*) FROM topology_backlog");
        var waiting = (long)(await backlog.ExecuteScalarAsync(cancellationToken))!;
        var both = implied.Keys.Where(stored.ContainsKey).ToList();
        return new Report(measurements, implied.Count, stored.Count,
            [.. implied.Keys.Where(e => !stored.ContainsKey(e)).Order()], [.. stored.Keys.Where(e => !implied.ContainsKey(e)).Order()], waiting,
            both.Sum(e => Math.Max(0, implied[e] - stored[e])), both.Sum(e => Math.Max(0, stored[e] - implied[e])));
    }
}
