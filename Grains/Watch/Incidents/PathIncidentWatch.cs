using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using CyberWatch.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CyberWatch.Watch.Incidents;

/// <summary>
/// Turns the AS-path changes the target grains store in <c>path_changes</c> into AS-path incidents
/// (<see cref="PathIncidents"/>). It reads the table rather than being called by the measurement side,
/// so measurement knows nothing of incidents. Every silo runs it; a pass locks the one row of
/// <c>path_incident_cursor</c>, so silos take turns and each change is applied once, in id order.
/// </summary>
public sealed partial class PathIncidentWatch(NpgsqlDataSource dataSource, SettingsMonitor settings, TimeProvider clock, ILogger<PathIncidentWatch> logger)
    : BackgroundService
{
    public static readonly TimeSpan PollEvery = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Changes younger than this are left for the next pass: path_changes ids are taken before the insert
    /// commits, so a lower id can become visible just after a higher one; a few seconds make it visible.
    /// </summary>
    public static readonly TimeSpan CommitLag = TimeSpan.FromSeconds(3);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        WatchLoop.RunAsync(ct => RunOnceAsync(settings.Current.Incidents, ct), () => PollEvery, clock, LogUnavailable, LogFailed, stoppingToken);

    /// <summary>One pass: applies the new AS-path changes, settles quiet incidents. Returns the changes applied.</summary>
    public async Task<int> RunOnceAsync(IncidentSettings rules, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        long cursor;
        await using (var command = new NpgsqlCommand("SELECT last_change_id FROM path_incident_cursor FOR UPDATE", connection, transaction))
        {
            cursor = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        }
        var changes = new List<AsPathChange>();
        var last = cursor;
        await using (var command = new NpgsqlCommand("""
            SELECT id, host(target), vantage, detected_at,
                   CASE jsonb_typeof(before) WHEN 'array' THEN before ELSE before->'as_path' END::text,
                   CASE jsonb_typeof(after) WHEN 'array' THEN after ELSE after->'as_path' END::text, measurement_id, kind
              FROM path_changes WHERE id > @cursor ORDER BY id LIMIT 10000
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("cursor", cursor);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var detected = new DateTimeOffset(reader.GetDateTime(3), TimeSpan.Zero);
                if (detected > now - CommitLag)
                {
                    break;
                }
                last = reader.GetInt64(0);
                // A row without both paths (written by hand or by another tool) cannot be placed at an edge: skipped.
                if (reader.GetString(7) == IncidentKinds.AsPath && !reader.IsDBNull(4) && !reader.IsDBNull(5))
                {
                    changes.Add(new AsPathChange(last, reader.GetString(1), reader.GetString(2), detected,
                        Asns(reader.GetString(4)), Asns(reader.GetString(5)), reader.GetInt64(6)));
                }
            }
        }
        var open = await OpenAsync(connection, transaction, cancellationToken);
        var pathRules = new PathIncidents(open);
        var touched = new HashSet<OpenPathIncident>(ReferenceEqualityComparer.Instance);
        foreach (var change in changes)
        {
            if (pathRules.Apply(change) is { } incident)
            {
                touched.Add(incident);
            }
        }
        foreach (var incident in pathRules.Settle(now, TimeSpan.FromSeconds(rules.PathSettleSeconds)))
        {
            touched.Add(incident);
        }
        foreach (var incident in touched)
        {
            await WriteAsync(connection, transaction, incident, cancellationToken);
        }
        await using (var command = new NpgsqlCommand("UPDATE path_incident_cursor SET last_change_id = @last", connection, transaction))
        {
            command.Parameters.AddWithValue("last", last);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return changes.Count;
    }

    // Numbers only: a path written by another tool may hold names or nulls, which name no AS.
    private static IReadOnlyList<long> Asns(string json) =>
        JsonNode.Parse(json) is JsonArray array
            ? [.. array.Select(n => n is JsonValue v && v.TryGetValue<long>(out var asn) ? asn : (long?)null).OfType<long>()]
            : [];

    private static async Task<List<OpenPathIncident>> OpenAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        var open = new List<OpenPathIncident>();
        await using var command = new NpgsqlCommand(
            "SELECT id, opened_at, before::text, after::text FROM incidents WHERE kind = 'as_path' AND resolved_at IS NULL", connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var before = JsonNode.Parse(reader.GetString(2))!;
            var after = JsonNode.Parse(reader.GetString(3))!;
            var edge = before["changed_edge"]!;
            var nowPaths = after["paths"]!.AsArray().ToDictionary(p => (p!["target"]!.GetValue<string>(), p["vantage"]!.GetValue<string>()));
            var incident = new OpenPathIncident
            {
                Id = reader.GetInt64(0),
                OpenedAt = new DateTimeOffset(reader.GetDateTime(1), TimeSpan.Zero),
                Edge = new AsEdgeChange(edge["from_asn"]?.GetValue<long>(), edge["before_next_asn"]?.GetValue<long>(), edge["after_next_asn"]?.GetValue<long>()),
                LastChangeAt = after["last_change_at"]!.GetValue<DateTimeOffset>(),
            };
            foreach (var path in before["paths"]!.AsArray())
            {
                var key = (path!["target"]!.GetValue<string>(), path["vantage"]!.GetValue<string>());
                var now = nowPaths[key]!;
                incident.Pairs.Add(new PathOfPair(key.Item1, key.Item2, path["as_path"].Deserialize<long[]>()!, now["as_path"].Deserialize<long[]>()!,
                    now["changed_at"]!.GetValue<DateTimeOffset>(), now["measurement_id"]!.GetValue<long>()));
            }
            open.Add(incident);
        }
        return open;
    }

    private async Task WriteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, OpenPathIncident incident, CancellationToken cancellationToken)
    {
        var before = new
        {
            changed_edge = new { from_asn = incident.Edge.FromAsn, before_next_asn = incident.Edge.BeforeNextAsn, after_next_asn = incident.Edge.AfterNextAsn },
            paths = incident.Pairs.Select(p => new { target = p.Target, vantage = p.Vantage, as_path = p.Before }),
        };
        var after = new
        {
            paths = incident.Pairs.Select(p => new { target = p.Target, vantage = p.Vantage, as_path = p.Now, changed_at = p.ChangedAt, measurement_id = p.MeasurementId }),
            last_change_at = incident.LastChangeAt,
            resolution = incident.Resolution,
        };
        await using var command = new NpgsqlCommand(incident.Id is null
            ? """
              INSERT INTO incidents (kind, subject, vantages, targets, opened_at, resolved_at, before, after)
              VALUES ('as_path', @subject, @vantages, @targets, @opened, @resolved, @before::jsonb, @after::jsonb) RETURNING id
              """
            : """
              UPDATE incidents SET vantages = @vantages, targets = @targets, resolved_at = @resolved, before = @before::jsonb, after = @after::jsonb
               WHERE id = @id RETURNING id
              """, connection, transaction);
        command.Parameters.AddWithValue("id", incident.Id ?? 0);
        command.Parameters.AddWithValue("subject", incident.Edge.Subject);
        command.Parameters.AddWithValue("vantages", incident.Vantages.ToArray());
        command.Parameters.AddWithValue("targets", incident.Targets.Select(IPAddress.Parse).ToArray());
        command.Parameters.AddWithValue("opened", incident.OpenedAt.UtcDateTime);
        command.Parameters.AddWithValue("resolved", (object?)incident.ResolvedAt?.UtcDateTime ?? DBNull.Value);
        command.Parameters.AddWithValue("before", JsonSerializer.Serialize(before, NodeSettings.Json));
        command.Parameters.AddWithValue("after", JsonSerializer.Serialize(after, NodeSettings.Json));
        var id = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        if (incident.Id is null)
        {
            incident.Id = id;
            LogOpened(id, incident.Edge.Subject, string.Join(",", incident.Vantages));
        }
        else if (incident.ResolvedAt is not null)
        {
            LogResolved(id, incident.Edge.Subject, incident.Resolution ?? "");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Incident {Id} opened: AS path changed at {Edge} from {Vantages}")]
    private partial void LogOpened(long id, string edge, string vantages);

    [LoggerMessage(Level = LogLevel.Information, Message = "Incident {Id} resolved: AS path at {Edge} {Resolution}")]
    private partial void LogResolved(long id, string edge, string resolution);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Path changes not read for incidents ({Error}); trying again")]
    private partial void LogUnavailable(string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Path incidents not updated; trying again")]
    private partial void LogFailed(Exception error);
}
