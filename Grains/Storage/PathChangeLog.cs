using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Storage;

/// <summary>A detected path change of a target seen from one vantage point, as stored in <c>path_changes</c>.</summary>
public sealed record PathChangeRow(IPAddress Target, DateTimeOffset DetectedAt, string Kind, long? PreviousMeasurementId,
    long MeasurementId, string BeforeJson, string AfterJson, string? DetailsJson, string Vantage);

/// <summary>
/// Stores path changes at once, before the target's history moves past them: a crash cannot lose one that the
/// history no longer shows. A change PostgreSQL refuses is quarantined; any other failure is the caller's, whose
/// history then stays where it was, so the next measurement finds the change again.
/// </summary>
public sealed partial class PathChangeLog(NpgsqlDataSource dataSource, ILogger<PathChangeLog> logger, IMeterFactory meters)
{
    private readonly RowQuarantine quarantine = new(dataSource, logger);
    private readonly Counter<long> detected = meters.Create("CyberWatch.Topology").CreateCounter<long>(
        "cyberwatch.path_changes", description: "path changes detected, by kind");

    public static string Json(object value) => JsonSerializer.Serialize(value, NodeSettings.Json);

    public async Task StoreAsync(IReadOnlyList<PathChangeRow> changes, CancellationToken cancellationToken)
    {
        if (changes.Count == 0)
        {
            return;
        }
        await quarantine.StoreAsync("path_changes", changes, InsertAsync, row => row, (_, _) => { }, cancellationToken);
        foreach (var change in changes)
        {
            detected.Add(1, new KeyValuePair<string, object?>("kind", change.Kind));
        }
    }

    private async Task InsertAsync(IReadOnlyList<PathChangeRow> part, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO path_changes (target, detected_at, kind, previous_measurement_id, measurement_id, before, after, details, vantage)
            SELECT * FROM unnest(@target, @detected_at, @kind, @previous, @measurement, @before::jsonb[], @after::jsonb[], @details::jsonb[], @vantage)
            """);
        command.Parameters.Add(new NpgsqlParameter<IPAddress[]>("target", part.Select(c => c.Target).ToArray()));
        command.Parameters.Add(new NpgsqlParameter("detected_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = part.Select(c => c.DetectedAt.UtcDateTime).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string[]>("kind", part.Select(c => c.Kind).ToArray()));
        command.Parameters.Add(new NpgsqlParameter("previous", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = part.Select(c => (object?)c.PreviousMeasurementId ?? DBNull.Value).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<long[]>("measurement", part.Select(c => c.MeasurementId).ToArray()));
        command.Parameters.Add(new NpgsqlParameter<string[]>("before", part.Select(c => c.BeforeJson).ToArray()));
        command.Parameters.Add(new NpgsqlParameter<string[]>("after", part.Select(c => c.AfterJson).ToArray()));
        command.Parameters.Add(new NpgsqlParameter<string?[]>("details", part.Select(c => c.DetailsJson).ToArray()));
        command.Parameters.Add(new NpgsqlParameter<string[]>("vantage", part.Select(c => c.Vantage).ToArray()));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
