using Npgsql;

namespace CyberWatch.Topology;

/// <summary>A row of <c>asns</c> as the exports and the Neo4j resync read it.</summary>
public sealed record AsnRow(
    long Asn,
    string? OrgName,
    string? Country,
    int? NeighborCount,
    long MeasurementCount,
    double? AvgRttMs,
    DateTimeOffset? FirstSeen,
    DateTimeOffset? LastSeen);

/// <summary>A row of <c>as_paths</c>.</summary>
public sealed record AsPathRow(
    long?[] Path,
    long ObservedCount,
    DateTimeOffset FirstSeen,
    DateTimeOffset LastSeen,
    string[] Vantages,
    DateTimeOffset UpdatedAt);

/// <summary>Read side of the topology tables, streamed (the whole graph can be millions of rows).</summary>
public sealed class TopologyQueries(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Whether the node has a row for the AS (observed in a measurement, or its metadata fetched earlier): only such
    /// an AS is worth an activation and an outside metadata fetch when someone asks for it.
    /// </summary>
    public async Task<bool> IsKnownAsnAsync(long asn, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM asns WHERE asn = $1)");
        command.Parameters.Add(new NpgsqlParameter { Value = asn });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Edges changed after <paramref name="since"/> (all when null), with the largest change stamp seen.</summary>
    public async IAsyncEnumerable<(AsEdgeStats Edge, DateTimeOffset UpdatedAt)> EdgesAsync(DateTimeOffset? since,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT e.src_asn, e.dst_asn, e.observed_count, e.min_rtt_ms, e.avg_rtt_ms, e.max_rtt_ms, e.first_seen, e.last_seen, e.ixp, e.vantages, e.updated_at,
                   e.direct_count, e.indirect_count, e.min_gap_hops,
                   r.relationship, r.source, r.confidence, r.basis, e.src_asn = r.asn_a
              FROM as_edges e
              LEFT JOIN as_relationships r ON r.asn_a = LEAST(e.src_asn, e.dst_asn) AND r.asn_b = GREATEST(e.src_asn, e.dst_asn)
             WHERE @since::timestamptz IS NULL OR e.updated_at > @since ORDER BY e.src_asn, e.dst_asn
            """, connection);
        command.Parameters.Add(new NpgsqlParameter("since", NpgsqlTypes.NpgsqlDbType.TimestampTz) { Value = (object?)since?.UtcDateTime ?? DBNull.Value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return (new AsEdgeStats(
                reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2),
                reader.IsDBNull(3) ? null : reader.GetDouble(3),
                reader.IsDBNull(4) ? null : reader.GetDouble(4),
                reader.IsDBNull(5) ? null : reader.GetDouble(5),
                reader.GetFieldValue<DateTimeOffset>(6), reader.GetFieldValue<DateTimeOffset>(7),
                reader.IsDBNull(8) ? null : reader.GetString(8),
                reader.GetFieldValue<string[]>(9), reader.GetInt64(11), reader.GetInt64(12),
                reader.IsDBNull(13) ? null : reader.GetInt32(13), Relationship(reader)), reader.GetFieldValue<DateTimeOffset>(10));
        }
    }

    /// <summary>The edge's relationship from its src side (the row is stored from the lower ASN's side).</summary>
    private static AsEdgeRelationship Relationship(NpgsqlDataReader reader)
    {
        if (reader.IsDBNull(14))
        {
            return AsEdgeRelationship.Unknown;
        }
        var kind = Relationships.AsRelationship.ParseKind(reader.GetString(14));
        var fromSrc = reader.GetBoolean(18) ? kind : Relationships.AsRelationship.Mirror(kind);
        return new AsEdgeRelationship(Relationships.AsRelationship.WireName(fromSrc), reader.GetString(15), reader.GetDouble(16), reader.GetString(17));
    }

    /// <summary>Observed AS paths changed after <paramref name="since"/> (all when null).</summary>
    public async IAsyncEnumerable<AsPathRow> PathsAsync(DateTimeOffset? since,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT path, observed_count, first_seen, last_seen, vantages, updated_at
              FROM as_paths WHERE @since::timestamptz IS NULL OR updated_at > @since
            """, connection);
        command.Parameters.Add(new NpgsqlParameter("since", NpgsqlTypes.NpgsqlDbType.TimestampTz) { Value = (object?)since?.UtcDateTime ?? DBNull.Value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (!AsPathText.TryParse(reader.GetString(0), out var path))
            {
                continue; // written by something else than TopologyTables; not ours to interpret
            }
            yield return new AsPathRow(path, reader.GetInt64(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetFieldValue<DateTimeOffset>(3),
                reader.GetFieldValue<string[]>(4), reader.GetFieldValue<DateTimeOffset>(5));
        }
    }

    /// <summary>Every AS of <c>asns</c>, and every ASN that appears only in <c>as_edges</c> (with no metadata).</summary>
    public async IAsyncEnumerable<AsnRow> AsnsAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT asn, org_name, country, neighbor_count, measurement_count, avg_rtt_ms, first_seen, last_seen FROM asns
            UNION ALL
            SELECT e.asn, NULL, NULL, NULL, 0, NULL, NULL, NULL
              FROM (SELECT src_asn AS asn FROM as_edges UNION SELECT dst_asn FROM as_edges) e
             WHERE NOT EXISTS (SELECT 1 FROM asns a WHERE a.asn = e.asn)
            ORDER BY 1
            """, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return new AsnRow(reader.GetInt64(0),
                reader.IsDBNull(1) ? null : reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetInt32(3),
                reader.GetInt64(4),
                reader.IsDBNull(5) ? null : reader.GetDouble(5),
                reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6),
                reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7));
        }
    }
}
