using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Topology.Relationships;

/// <summary>What the traces give the inference, and a stamp that changes when they change.</summary>
public sealed record TraceRelationshipInputs(IReadOnlyList<string> Paths, IReadOnlyList<(long A, long B)> IxpLinks, string Stamp);

/// <summary>
/// Reads the trace side of the inference (<c>as_paths</c>, the IXP tags of <c>as_edges</c>) and replaces
/// <c>as_relationships</c> with a new result. Edges whose relationship changed get a new <c>updated_at</c>,
/// so every silo's graph index (which follows <c>as_edges</c>) picks the change up in its next poll.
/// </summary>
public sealed class AsRelationshipStore(NpgsqlDataSource dataSource)
{
    /// <summary>Held for the replacement, so two silos recomputing at once write one after the other.</summary>
    private const long ReplaceLock = 0x41_5352_454c; // "ASREL"

    /// <summary>The stamp alone: one small query, so an unchanged round costs nothing more.</summary>
    public async Task<string> TraceStampAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT count(*) || '/' || coalesce(max(updated_at)::text, '') FROM as_paths");
        var paths = (string)(await command.ExecuteScalarAsync(cancellationToken))!;
        await using var ixps = dataSource.CreateCommand("SELECT count(*) FROM as_edges WHERE ixp IS NOT NULL");
        return $"{paths}/{(long)(await ixps.ExecuteScalarAsync(cancellationToken))!}";
    }

    public async Task<TraceRelationshipInputs> ReadTraceInputsAsync(CancellationToken cancellationToken)
    {
        var stamp = await TraceStampAsync(cancellationToken);
        var paths = new List<string>();
        await using (var command = dataSource.CreateCommand("SELECT path FROM as_paths"))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                paths.Add(reader.GetString(0));
            }
        }
        var ixps = new List<(long, long)>();
        await using (var command = dataSource.CreateCommand("SELECT src_asn, dst_asn FROM as_edges WHERE ixp IS NOT NULL"))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                ixps.Add((reader.GetInt64(0), reader.GetInt64(1)));
            }
        }
        return new TraceRelationshipInputs(paths, ixps, stamp);
    }

    /// <summary>Replaces every row with <paramref name="relationships"/>; returns how many pairs changed (added, altered or gone).</summary>
    public async Task<int> ReplaceAsync(IReadOnlyList<AsRelationship> relationships, DateTimeOffset computedAt, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand($"""
            SELECT pg_advisory_xact_lock({ReplaceLock});
            CREATE TEMP TABLE new_relationships (LIKE as_relationships INCLUDING DEFAULTS) ON COMMIT DROP;
            """, connection, transaction))
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var import = await connection.BeginBinaryImportAsync(
            "COPY new_relationships (asn_a, asn_b, relationship, source, confidence, basis, paths, computed_at) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            foreach (var r in relationships)
            {
                await import.StartRowAsync(cancellationToken);
                await import.WriteAsync(r.A, NpgsqlDbType.Bigint, cancellationToken);
                await import.WriteAsync(r.B, NpgsqlDbType.Bigint, cancellationToken);
                await import.WriteAsync(AsRelationship.WireName(r.Kind), NpgsqlDbType.Text, cancellationToken);
                await import.WriteAsync(AsRelationship.WireName(r.Source), NpgsqlDbType.Text, cancellationToken);
                await import.WriteAsync(r.Confidence, NpgsqlDbType.Double, cancellationToken);
                await import.WriteAsync(BasisName(r.Basis), NpgsqlDbType.Text, cancellationToken);
                await import.WriteAsync(r.Paths, NpgsqlDbType.Integer, cancellationToken);
                await import.WriteAsync(computedAt, NpgsqlDbType.TimestampTz, cancellationToken);
            }
            await import.CompleteAsync(cancellationToken);
        }
        int changed;
        await using (var command = new NpgsqlCommand("""
            CREATE TEMP TABLE changed_pairs ON COMMIT DROP AS
            SELECT n.asn_a, n.asn_b FROM new_relationships n
             WHERE NOT EXISTS (SELECT 1 FROM as_relationships o
                                WHERE (o.asn_a, o.asn_b, o.relationship, o.source, o.confidence, o.basis)
                                    = (n.asn_a, n.asn_b, n.relationship, n.source, n.confidence, n.basis))
            UNION
            SELECT o.asn_a, o.asn_b FROM as_relationships o
             WHERE NOT EXISTS (SELECT 1 FROM new_relationships n WHERE (n.asn_a, n.asn_b) = (o.asn_a, o.asn_b));
            UPDATE as_edges e SET updated_at = now() FROM changed_pairs c
             WHERE LEAST(e.src_asn, e.dst_asn) = c.asn_a AND GREATEST(e.src_asn, e.dst_asn) = c.asn_b;
            DELETE FROM as_relationships;
            INSERT INTO as_relationships SELECT * FROM new_relationships;
            SELECT count(*)::int FROM changed_pairs;
            """, connection, transaction))
        {
            changed = (int)(await command.ExecuteScalarAsync(cancellationToken))!;
        }
        await transaction.CommitAsync(cancellationToken);
        return changed;
    }

    /// <summary>The basis as stored and shown (<c>top-only</c>, <c>transit</c>, ...).</summary>
    public static string BasisName(AsRelationshipBasis basis) => basis switch
    {
        AsRelationshipBasis.TopOnly => "top-only",
        _ => basis.ToString().ToLowerInvariant(),
    };
}
