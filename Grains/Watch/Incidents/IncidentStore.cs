using System.Net;
using System.Text.Json;
using CyberWatch.Storage;
using Npgsql;

namespace CyberWatch.Watch.Incidents;

/// <summary>An incident as <c>GET /incidents</c> shows it.</summary>
public sealed record Incident(long Id, string Kind, string Subject, IReadOnlyList<string> Vantages, IReadOnlyList<string> Targets,
    DateTimeOffset OpenedAt, DateTimeOffset? ResolvedAt, JsonElement? Before, JsonElement? After)
{
    public string State => ResolvedAt is null ? "open" : "resolved";

    /// <summary>The trace and MTR taken at opening (<see cref="IncidentEvidence"/>); only <c>GET /incidents/{id}</c> fills it in.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<IncidentEvidenceItem>? Evidence { get; init; }
}

/// <summary>The <c>incidents</c> table: the one writer of incidents, and their reader for the API.</summary>
public sealed class IncidentStore(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Opens an incident of one pair; returns its id. Should one be open for the same cause already (another
    /// silo, a grain activated twice), that one is kept and its id returned: never two for one cause.
    /// </summary>
    public async Task<long> OpenAsync(IncidentKind kind, IPAddress target, string vantage, DateTimeOffset at, object before,
        CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            WITH opened AS (
                INSERT INTO incidents (kind, subject, vantages, targets, opened_at, before)
                VALUES (@kind, @subject, ARRAY[@vantage], ARRAY[@target], @at, @before::jsonb)
                ON CONFLICT (kind, subject, vantages) WHERE resolved_at IS NULL DO NOTHING
                RETURNING id)
            SELECT id FROM opened
            UNION ALL
            SELECT id FROM incidents WHERE kind = @kind AND subject = @subject AND vantages = ARRAY[@vantage] AND resolved_at IS NULL
            LIMIT 1
            """);
        Bind(command, kind, target, vantage, at);
        command.Parameters.AddWithValue("before", JsonSerializer.Serialize(before, NodeSettings.Json));
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Resolves the pair's open incident of <paramref name="kind"/>; false when none was open.</summary>
    public async Task<bool> ResolveAsync(IncidentKind kind, IPAddress target, string vantage, DateTimeOffset at, object after,
        CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE incidents SET resolved_at = greatest(@at, opened_at), after = @after::jsonb
             WHERE kind = @kind AND subject = @subject AND vantages = ARRAY[@vantage] AND resolved_at IS NULL
            """);
        Bind(command, kind, target, vantage, at);
        command.Parameters.AddWithValue("after", JsonSerializer.Serialize(after, NodeSettings.Json));
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    /// <summary>
    /// Opens an incident of a cause that is not a (target, vantage) pair — a vantage point down — unless one is
    /// open for it already; returns its id.
    /// </summary>
    public async Task<long> OpenAsync(string kind, string subject, IReadOnlyList<string> vantages, DateTimeOffset at, object before,
        CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            WITH opened AS (
                INSERT INTO incidents (kind, subject, vantages, targets, opened_at, before)
                VALUES (@kind, @subject, @vantages, '{}', @at, @before::jsonb)
                ON CONFLICT (kind, subject, vantages) WHERE resolved_at IS NULL DO NOTHING
                RETURNING id)
            SELECT id FROM opened
            UNION ALL
            SELECT id FROM incidents WHERE kind = @kind AND subject = @subject AND vantages = @vantages AND resolved_at IS NULL
            LIMIT 1
            """);
        command.Parameters.AddWithValue("kind", kind);
        command.Parameters.AddWithValue("subject", subject);
        command.Parameters.AddWithValue("vantages", vantages.ToArray());
        command.Parameters.AddWithValue("at", at.UtcDateTime);
        command.Parameters.AddWithValue("before", JsonSerializer.Serialize(before, NodeSettings.Json));
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Resolves the open incident of <paramref name="kind"/> about <paramref name="subject"/>; false when none was open.</summary>
    public async Task<bool> ResolveAsync(string kind, string subject, DateTimeOffset at, object after, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE incidents SET resolved_at = greatest(@at, opened_at), after = @after::jsonb
             WHERE kind = @kind AND subject = @subject AND resolved_at IS NULL
            """);
        command.Parameters.AddWithValue("kind", kind);
        command.Parameters.AddWithValue("subject", subject);
        command.Parameters.AddWithValue("at", at.UtcDateTime);
        command.Parameters.AddWithValue("after", JsonSerializer.Serialize(after, NodeSettings.Json));
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    /// <summary>The subjects with an open incident of <paramref name="kind"/>.</summary>
    public async Task<IReadOnlySet<string>> OpenSubjectsAsync(string kind, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT subject FROM incidents WHERE kind = @kind AND resolved_at IS NULL");
        command.Parameters.AddWithValue("kind", kind);
        var subjects = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            subjects.Add(reader.GetString(0));
        }
        return subjects;
    }

    /// <summary>The kinds of incident open for one pair.</summary>
    public async Task<IReadOnlySet<string>> OpenKindsAsync(IPAddress target, string vantage, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT kind FROM incidents WHERE subject = @subject AND vantages = ARRAY[@vantage] AND resolved_at IS NULL");
        command.Parameters.AddWithValue("subject", target.ToString());
        command.Parameters.AddWithValue("vantage", vantage);
        var kinds = new HashSet<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            kinds.Add(reader.GetString(0));
        }
        return kinds;
    }

    /// <summary>
    /// Incidents opened in [from, to) (open ones whatever their opening when <paramref name="state"/> is open), newest
    /// first, as <paramref name="scope"/> may see them (<see cref="Columns"/>).
    /// </summary>
    public async Task<IReadOnlyList<Incident>> ListAsync(string? state, DateTimeOffset from, DateTimeOffset to, string? kind, string? vantage,
        int limit, TargetScope scope, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {Columns(scope)} FROM incidents
             WHERE (@state::text IS NULL AND opened_at >= @from AND opened_at < @to
                    OR @state = 'open' AND resolved_at IS NULL
                    OR @state = 'resolved' AND resolved_at IS NOT NULL AND opened_at >= @from AND opened_at < @to)
               AND (@kind::text IS NULL OR kind = @kind)
               AND (@vantage::text IS NULL OR @vantage = ANY (vantages))
               AND {Shown(scope)}
             ORDER BY opened_at DESC, id DESC
             LIMIT @limit
            """);
        command.Parameters.AddWithValue("state", (object?)state ?? DBNull.Value);
        command.Parameters.AddWithValue("from", from.UtcDateTime);
        command.Parameters.AddWithValue("to", to.UtcDateTime);
        command.Parameters.AddWithValue("kind", (object?)kind ?? DBNull.Value);
        command.Parameters.AddWithValue("vantage", (object?)vantage ?? DBNull.Value);
        command.Parameters.AddWithValue("limit", limit);
        return await ReadAsync(command, cancellationToken);
    }

    /// <summary>One incident as <paramref name="scope"/> may see it; null when there is none such.</summary>
    public async Task<Incident?> GetAsync(long id, TargetScope scope, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns(scope)} FROM incidents WHERE id = @id AND {Shown(scope)}");
        command.Parameters.AddWithValue("id", id);
        return (await ReadAsync(command, cancellationToken)).SingleOrDefault();
    }

    /// <summary>The evidence of one incident, for the API.</summary>
    public async Task<IReadOnlyList<IncidentEvidenceItem>> EvidenceAsync(long incidentId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT vantage, host(target), tool, queued_at, measurement_id, taken_at, failure_reason
              FROM incident_evidence WHERE incident_id = @id ORDER BY vantage, target, tool DESC
            """);
        command.Parameters.AddWithValue("id", incidentId);
        var items = new List<IncidentEvidenceItem>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            items.Add(new IncidentEvidenceItem(reader.GetString(0), reader.GetString(1), reader.GetString(2),
                new DateTimeOffset(reader.GetDateTime(3), TimeSpan.Zero), reader.IsDBNull(4) ? null : reader.GetInt64(4),
                reader.IsDBNull(5) ? null : new DateTimeOffset(reader.GetDateTime(5), TimeSpan.Zero), reader.IsDBNull(6) ? null : reader.GetString(6)));
        }
        return items;
    }

    /// <summary>Open incidents per kind and vantage, for the metric.</summary>
    public async Task<IReadOnlyList<(string Kind, string Vantage, long Open)>> OpenCountsAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT kind, v, count(*) FROM incidents, unnest(vantages) v WHERE resolved_at IS NULL GROUP BY 1, 2");
        var counts = new List<(string, string, long)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            counts.Add((reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
        }
        return counts;
    }

    /// <summary>
    /// An incident about targets is shown when the scope may see one of them at least (a vantage point's incident
    /// names none and is always shown): a ping incident of a DNS-only target is left out as a whole.
    /// </summary>
    private static string Shown(TargetScope scope) =>
        $"(cardinality(targets) = 0 OR EXISTS (SELECT 1 FROM unnest(targets) shown WHERE {scope.Visible("shown")}))";

    /// <summary>
    /// The columns of an <see cref="Incident"/>. An AS-path incident is about an AS edge and stays, but the targets
    /// the scope may not see leave its target list and the per-target <c>paths</c> of before and after.
    /// </summary>
    private static string Columns(TargetScope scope) => $"""
        id, kind, subject, vantages, array(SELECT host(t) FROM unnest(targets) t WHERE {scope.Visible("t")}), opened_at, resolved_at,
        {VisiblePaths("before", scope)}::text, {VisiblePaths("after", scope)}::text
        """;

    private static string VisiblePaths(string column, TargetScope scope) => scope == TargetScope.IncludingDns ? column : $"""
        CASE WHEN jsonb_typeof({column}->'paths') = 'array'
             THEN jsonb_set({column}, ARRAY['paths'], coalesce((SELECT jsonb_agg(p ORDER BY o) FROM jsonb_array_elements({column}->'paths') WITH ORDINALITY e(p, o)
                                                        WHERE {scope.Visible("(p->>'target')::inet")}), '[]'::jsonb))
             ELSE {column} END
        """;

    private static async Task<IReadOnlyList<Incident>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var incidents = new List<Incident>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            incidents.Add(new Incident(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetFieldValue<string[]>(3),
                reader.GetFieldValue<string[]>(4), new DateTimeOffset(reader.GetDateTime(5), TimeSpan.Zero),
                reader.IsDBNull(6) ? null : new DateTimeOffset(reader.GetDateTime(6), TimeSpan.Zero),
                reader.IsDBNull(7) ? null : JsonDocument.Parse(reader.GetString(7)).RootElement.Clone(),
                reader.IsDBNull(8) ? null : JsonDocument.Parse(reader.GetString(8)).RootElement.Clone()));
        }
        return incidents;
    }

    private static void Bind(NpgsqlCommand command, IncidentKind kind, IPAddress target, string vantage, DateTimeOffset at)
    {
        command.Parameters.AddWithValue("kind", kind.ToWire());
        command.Parameters.AddWithValue("subject", target.ToString());
        command.Parameters.AddWithValue("vantage", vantage);
        command.Parameters.AddWithValue("target", target);
        command.Parameters.AddWithValue("at", at.UtcDateTime);
    }
}
