using CyberWatch.Storage;
using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Topology;

/// <summary>
/// Keeps <c>as_edges</c>, <c>asns</c> and <c>as_paths</c> (what SQL, Grafana and the other silos' graph
/// indexes read) in step with the topology grains, which own the truth. Changes are coalesced per key and
/// written every 250 ms; while PostgreSQL is down they wait in memory (one row per edge or AS at most, path
/// counts summed) and are written once it is back. A row PostgreSQL refuses is quarantined, the rest stored.
/// Measurements whose topology the recorder handed over (<see cref="MarkRecorded"/>) leave <c>topology_backlog</c>
/// once the rows they produced are stored: until then a crash leaves them for <see cref="TopologyCatchUp"/>.
/// </summary>
public sealed partial class TopologyTables(NpgsqlDataSource dataSource, ILogger<TopologyTables> logger)
    : BatchedTableWriter(TimeSpan.FromMilliseconds(250))
{

    // Vantage names are joined with the ASCII unit separator: PostgreSQL's unnest flattens arrays of arrays.
    private const char Separator = '\u001f';

    private readonly RowQuarantine quarantine = new(dataSource, logger);
    private readonly object gate = new();
    private Dictionary<(long, long), AsEdgeStats> edges = new();
    private Dictionary<long, AsnInfo> asns = new();
    private Dictionary<string, PathDelta> paths = new(StringComparer.Ordinal);
    private List<long> recorded = [];

    private sealed class PathDelta(string path)
    {
        public string Path { get; } = path;
        public long Count { get; set; }
        public DateTimeOffset FirstSeen { get; set; } = DateTimeOffset.MaxValue;
        public DateTimeOffset LastSeen { get; set; } = DateTimeOffset.MinValue;
        public SortedSet<string> Vantages { get; } = new(StringComparer.Ordinal);
        public string? LastTarget { get; set; }
        public long? LastMeasurementId { get; set; }

        public void Merge(PathDelta other)
        {
            Count += other.Count;
            FirstSeen = other.FirstSeen < FirstSeen ? other.FirstSeen : FirstSeen;
            if (other.LastSeen >= LastSeen)
            {
                LastSeen = other.LastSeen;
                LastTarget = other.LastTarget ?? LastTarget;
                LastMeasurementId = other.LastMeasurementId ?? LastMeasurementId;
            }
            Vantages.UnionWith(other.Vantages);
        }
    }

    /// <summary>Rows waiting to be written.</summary>
    public override int Pending
    {
        get
        {
            lock (gate)
            {
                return edges.Count + asns.Count + paths.Count + recorded.Count;
            }
        }
    }

    /// <summary>
    /// The measurement's edges, ASes and path have been handed to this writer (call after them): its
    /// <c>topology_backlog</c> row goes once they are stored.
    /// </summary>
    public void MarkRecorded(long measurementId)
    {
        lock (gate)
        {
            recorded.Add(measurementId);
        }
    }

    public void Upsert(AsEdgeStats edge)
    {
        lock (gate)
        {
            if (!edges.TryGetValue((edge.SrcAsn, edge.DstAsn), out var held) || held.ObservedCount <= edge.ObservedCount)
            {
                edges[(edge.SrcAsn, edge.DstAsn)] = edge;
            }
        }
    }

    public void Upsert(AsnInfo asn)
    {
        lock (gate)
        {
            if (!asns.TryGetValue(asn.Asn, out var held) || held.MeasurementCount <= asn.MeasurementCount)
            {
                asns[asn.Asn] = asn;
            }
        }
    }

    /// <summary>
    /// Adds one observation of the path; with <paramref name="counted"/> false (a measurement the ASN grains had
    /// counted already: a retry or a replay after a crash) the row is made sure to exist but its count stays.
    /// </summary>
    public void AddPath(PathObservation observation, bool counted = true)
    {
        var key = AsPathText.Format(observation.Path);
        var delta = new PathDelta(key)
        {
            Count = counted ? 1 : 0, FirstSeen = observation.ObservedAt, LastSeen = observation.ObservedAt,
            LastTarget = observation.Target, LastMeasurementId = observation.MeasurementId,
        };
        delta.Vantages.Add(observation.Vantage);
        lock (gate)
        {
            MergePath(delta);
        }
    }

    private void MergePath(PathDelta delta)
    {
        if (paths.TryGetValue(delta.Path, out var held))
        {
            held.Merge(delta);
        }
        else
        {
            paths[delta.Path] = delta;
        }
    }

    /// <summary>Writes everything pending now.</summary>
    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        Dictionary<(long, long), AsEdgeStats> edgeBatch;
        Dictionary<long, AsnInfo> asnBatch;
        Dictionary<string, PathDelta> pathBatch;
        List<long> recordedBatch;
        lock (gate)
        {
            if (edges.Count + asns.Count + paths.Count + recorded.Count == 0)
            {
                return;
            }
            (edgeBatch, asnBatch, pathBatch, recordedBatch) = (edges, asns, paths, recorded);
            edges = new();
            asns = new();
            paths = new(StringComparer.Ordinal);
            recorded = [];
        }
        var rows = new List<object>(edgeBatch.Count + asnBatch.Count + pathBatch.Count);
        rows.AddRange(edgeBatch.Values);
        rows.AddRange(asnBatch.Values);
        rows.AddRange(pathBatch.Values);
        var settled = new HashSet<object>(ReferenceEqualityComparer.Instance);
        try
        {
            if (rows.Count > 0)
            {
                await quarantine.StoreAsync(TableOf, rows,
                    (part, ct) => WriteAsync(part.OfType<AsEdgeStats>().ToList(), part.OfType<AsnInfo>().ToList(), part.OfType<PathDelta>().ToList(), ct),
                    row => row, (part, _) => settled.UnionWith(part), cancellationToken);
            }
            // After the rows, on its own: a crash in between replays the measurements, which the grains recognise.
            await ForgetBacklogAsync(recordedBatch, cancellationToken);
        }
        catch
        {
            // What is not stored yet goes back under anything newer that arrived meanwhile; path counts add up,
            // so a path stored by half of a split batch must not go back.
            lock (gate)
            {
                foreach (var (key, edge) in edgeBatch)
                {
                    if (!settled.Contains(edge))
                    {
                        edges.TryAdd(key, edge);
                    }
                }
                foreach (var (key, asn) in asnBatch)
                {
                    if (!settled.Contains(asn))
                    {
                        asns.TryAdd(key, asn);
                    }
                }
                foreach (var delta in pathBatch.Values)
                {
                    if (!settled.Contains(delta))
                    {
                        MergePath(delta);
                    }
                }
                recorded.AddRange(recordedBatch);
            }
            throw;
        }
    }

    private async Task ForgetBacklogAsync(List<long> measurementIds, CancellationToken cancellationToken)
    {
        if (measurementIds.Count == 0)
        {
            return;
        }
        await using var delete = dataSource.CreateCommand("DELETE FROM topology_backlog WHERE measurement_id = ANY(@ids)");
        delete.Parameters.Add(new NpgsqlParameter<long[]>("ids", measurementIds.ToArray()));
        await delete.ExecuteNonQueryAsync(cancellationToken);
    }

    protected override void ReportWriteFailed(int pending, string error) => LogWriteFailed(pending, error);

    private static string TableOf(object row) => row switch
    {
        AsEdgeStats => "as_edges",
        AsnInfo => "asns",
        _ => "as_paths",
    };

    private async Task WriteAsync(ICollection<AsEdgeStats> edgeRows, ICollection<AsnInfo> asnRows, ICollection<PathDelta> pathRows,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (edgeRows.Count > 0)
        {
            await using var upsert = new NpgsqlCommand("""
                INSERT INTO as_edges (src_asn, dst_asn, observed_count, min_rtt_ms, avg_rtt_ms, max_rtt_ms, first_seen, last_seen, ixp, vantages,
                                      direct_count, indirect_count, min_gap_hops, updated_at)
                SELECT u.src, u.dst, u.n, u.min, u.avg, u.max, u.first, u.last, u.ixp, string_to_array(u.vantages, chr(31)),
                       u.direct, u.indirect, u.gap, now()
                  FROM unnest(@src, @dst, @n, @min, @avg, @max, @first, @last, @ixp, @vantages, @direct, @indirect, @gap)
                       AS u(src, dst, n, min, avg, max, first, last, ixp, vantages, direct, indirect, gap)
                ON CONFLICT (src_asn, dst_asn) DO UPDATE SET
                    observed_count = excluded.observed_count, min_rtt_ms = excluded.min_rtt_ms, avg_rtt_ms = excluded.avg_rtt_ms,
                    max_rtt_ms = excluded.max_rtt_ms, first_seen = excluded.first_seen, last_seen = excluded.last_seen,
                    ixp = excluded.ixp, vantages = excluded.vantages, direct_count = excluded.direct_count,
                    indirect_count = excluded.indirect_count, min_gap_hops = excluded.min_gap_hops, updated_at = now()
                  WHERE as_edges.observed_count <= excluded.observed_count
                """, connection, transaction);
            upsert.Parameters.Add(new NpgsqlParameter<long[]>("src", edgeRows.Select(e => e.SrcAsn).ToArray()));
            upsert.Parameters.Add(new NpgsqlParameter<long[]>("dst", edgeRows.Select(e => e.DstAsn).ToArray()));
            upsert.Parameters.Add(new NpgsqlParameter<long[]>("n", edgeRows.Select(e => e.ObservedCount).ToArray()));
            upsert.Parameters.Add(Doubles("min", edgeRows.Select(e => e.MinRttMs)));
            upsert.Parameters.Add(Doubles("avg", edgeRows.Select(e => e.AvgRttMs)));
            upsert.Parameters.Add(Doubles("max", edgeRows.Select(e => e.MaxRttMs)));
            upsert.Parameters.Add(Times("first", edgeRows.Select(e => (DateTimeOffset?)e.FirstSeen)));
            upsert.Parameters.Add(Times("last", edgeRows.Select(e => (DateTimeOffset?)e.LastSeen)));
            upsert.Parameters.Add(Texts("ixp", edgeRows.Select(e => e.Ixp)));
            upsert.Parameters.Add(Texts("vantages", edgeRows.Select(e => string.Join(Separator, e.Vantages))));
            upsert.Parameters.Add(new NpgsqlParameter<long[]>("direct", edgeRows.Select(e => e.DirectCount).ToArray()));
            upsert.Parameters.Add(new NpgsqlParameter<long[]>("indirect", edgeRows.Select(e => e.IndirectCount).ToArray()));
            upsert.Parameters.Add(new NpgsqlParameter("gap", NpgsqlDbType.Array | NpgsqlDbType.Integer)
            {
                Value = edgeRows.Select(e => (object?)e.MinGapHops ?? DBNull.Value).ToArray(),
            });
            await upsert.ExecuteNonQueryAsync(cancellationToken);
        }
        if (asnRows.Count > 0)
        {
            // org_name and country are filled only when unknown: richer sources (registries) may own them.
            await using var upsert = new NpgsqlCommand("""
                INSERT INTO asns (asn, org_name, country, neighbor_count, measurement_count, avg_rtt_ms, first_seen, last_seen)
                SELECT * FROM unnest(@asn, @org, @country, @neighbors, @n, @avg, @first, @last)
                ON CONFLICT (asn) DO UPDATE SET
                    org_name = COALESCE(asns.org_name, excluded.org_name), country = COALESCE(asns.country, excluded.country),
                    neighbor_count = excluded.neighbor_count, measurement_count = excluded.measurement_count,
                    avg_rtt_ms = excluded.avg_rtt_ms, first_seen = excluded.first_seen, last_seen = excluded.last_seen
                  WHERE asns.measurement_count <= excluded.measurement_count
                """, connection, transaction);
            upsert.Parameters.Add(new NpgsqlParameter<long[]>("asn", asnRows.Select(a => a.Asn).ToArray()));
            upsert.Parameters.Add(Texts("org", asnRows.Select(a => a.OrgName)));
            upsert.Parameters.Add(Texts("country", asnRows.Select(a => a.Country)));
            upsert.Parameters.Add(new NpgsqlParameter<int[]>("neighbors", asnRows.Select(a => a.InNeighbors.Union(a.OutNeighbors).Count()).ToArray()));
            upsert.Parameters.Add(new NpgsqlParameter<long[]>("n", asnRows.Select(a => a.MeasurementCount).ToArray()));
            upsert.Parameters.Add(Doubles("avg", asnRows.Select(a => a.AvgRttMs)));
            upsert.Parameters.Add(Times("first", asnRows.Select(a => a.FirstSeen)));
            upsert.Parameters.Add(Times("last", asnRows.Select(a => a.LastSeen)));
            await upsert.ExecuteNonQueryAsync(cancellationToken);
        }
        if (pathRows.Count > 0)
        {
            await using var upsert = new NpgsqlCommand("""
                INSERT INTO as_paths (path, asns, observed_count, first_seen, last_seen, vantages, last_target, last_measurement_id, updated_at)
                SELECT u.path, array_remove(string_to_array(u.path, ' '), '*')::bigint[], u.n, u.first, u.last,
                       string_to_array(u.vantages, chr(31)), u.target::inet, u.measurement, now()
                  FROM unnest(@path, @n, @first, @last, @vantages, @target, @measurement) AS u(path, n, first, last, vantages, target, measurement)
                ON CONFLICT (path) DO UPDATE SET
                    observed_count = as_paths.observed_count + excluded.observed_count,
                    first_seen = LEAST(as_paths.first_seen, excluded.first_seen),
                    last_seen = GREATEST(as_paths.last_seen, excluded.last_seen),
                    vantages = ARRAY(SELECT DISTINCT v FROM unnest(as_paths.vantages || excluded.vantages) AS v ORDER BY v),
                    last_target = CASE WHEN excluded.last_seen >= as_paths.last_seen THEN excluded.last_target ELSE as_paths.last_target END,
                    last_measurement_id = CASE WHEN excluded.last_seen >= as_paths.last_seen THEN excluded.last_measurement_id
                                               ELSE as_paths.last_measurement_id END,
                    updated_at = now()
                """, connection, transaction);
            upsert.Parameters.Add(new NpgsqlParameter<string[]>("path", pathRows.Select(p => p.Path).ToArray()));
            upsert.Parameters.Add(new NpgsqlParameter<long[]>("n", pathRows.Select(p => p.Count).ToArray()));
            upsert.Parameters.Add(Times("first", pathRows.Select(p => (DateTimeOffset?)p.FirstSeen)));
            upsert.Parameters.Add(Times("last", pathRows.Select(p => (DateTimeOffset?)p.LastSeen)));
            upsert.Parameters.Add(Texts("vantages", pathRows.Select(p => string.Join(Separator, p.Vantages))));
            upsert.Parameters.Add(Texts("target", pathRows.Select(p => p.LastTarget is { } t && IPAddress.TryParse(t, out _) ? t : null)));
            upsert.Parameters.Add(new NpgsqlParameter("measurement", NpgsqlDbType.Array | NpgsqlDbType.Bigint)
            {
                Value = pathRows.Select(p => (object?)p.LastMeasurementId ?? DBNull.Value).ToArray(),
            });
            await upsert.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    private static NpgsqlParameter Doubles(string name, IEnumerable<double?> values) =>
        new(name, NpgsqlDbType.Array | NpgsqlDbType.Double) { Value = values.Select(v => (object?)v ?? DBNull.Value).ToArray() };

    private static NpgsqlParameter Texts(string name, IEnumerable<string?> values) =>
        new(name, NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = values.Select(v => (object?)v ?? DBNull.Value).ToArray() };

    private static NpgsqlParameter Times(string name, IEnumerable<DateTimeOffset?> values) =>
        new(name, NpgsqlDbType.Array | NpgsqlDbType.TimestampTz)
        {
            Value = values.Select(v => v is { } t ? (object)t.UtcDateTime : DBNull.Value).ToArray(),
        };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot write {Pending} topology row(s) to PostgreSQL ({Error}); keeping them and retrying")]
    private partial void LogWriteFailed(int pending, string error);
}
