using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Storage;

/// <summary>A detected path change of a target seen from one vantage point, as stored in <c>path_changes</c>.</summary>
public sealed record PathChangeRow(IPAddress Target, DateTimeOffset DetectedAt, string Kind, long? PreviousMeasurementId,
    long MeasurementId, string BeforeJson, string AfterJson, string? DetailsJson, string Vantage);

/// <summary>Writes path changes in the background, keeping them while PostgreSQL is down.</summary>
public sealed partial class PathChangeLog(NpgsqlDataSource dataSource, ILogger<PathChangeLog> logger, IMeterFactory meters) : BackgroundService
{
    private readonly RowQuarantine quarantine = new(dataSource, logger);
    private readonly ConcurrentQueue<PathChangeRow> pending = new();
    private readonly Counter<long> detected = meters.Create("CyberWatch.Topology").CreateCounter<long>(
        "cyberwatch.path_changes", description: "path changes detected, by kind");

    public static string Json(object value) => JsonSerializer.Serialize(value, NodeSettings.Json);

    public void Record(PathChangeRow change)
    {
        pending.Enqueue(change);
        detected.Add(1, new KeyValuePair<string, object?>("kind", change.Kind));
    }

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        var batch = new List<PathChangeRow>();
        while (batch.Count < 1000 && pending.TryPeek(out var next))
        {
            batch.Add(next);
            pending.TryDequeue(out _);
        }
        if (batch.Count == 0)
        {
            return;
        }
        var settled = new HashSet<PathChangeRow>(ReferenceEqualityComparer.Instance);
        try
        {
            await quarantine.StoreAsync("path_changes", batch, InsertAsync, row => row, (part, _) => settled.UnionWith(part), cancellationToken);
        }
        catch
        {
            foreach (var change in batch)
            {
                if (!settled.Contains(change))
                {
                    pending.Enqueue(change);
                }
            }
            throw;
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

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), stoppingToken);
                await FlushAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                LogFailed(pending.Count, e.Message);
                await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
        try
        {
            await FlushAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            LogFailed(pending.Count, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot store {Count} path change(s) ({Error}); keeping them")]
    private partial void LogFailed(int count, string error);
}
