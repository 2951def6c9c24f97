using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Topology;

/// <summary>
/// Topology at least once: every <see cref="TopologyCatchUpOptions.CatchUpInterval"/>, measurements still in
/// <c>topology_backlog</c> after <see cref="TopologyCatchUpOptions.CatchUpAfter"/> (their recording was lost to a
/// crash, a full queue or a failed grain call) are read back with their stored hops and recorded again. Keyed by
/// measurement id: the grains recognise one they counted already, so a replay counts nothing twice; a measurement
/// whose partition retention dropped leaves the backlog with nothing recorded.
/// </summary>
public sealed partial class TopologyCatchUp(NpgsqlDataSource dataSource, TopologyRecorder recorder, AsPathExtractor extractor, TopologyTables tables,
    IOptions<TopologyCatchUpOptions> options, ILogger<TopologyCatchUp> logger, IMeterFactory meters, TimeProvider? clock = null)
    : BackgroundService
{
    private readonly TopologyCatchUpOptions settings = options.Value;
    private readonly TimeProvider time = clock ?? TimeProvider.System;
    private readonly Counter<long> caughtUp = meters.Create("CyberWatch.Topology").CreateCounter<long>(
        "cyberwatch.topology.measurements_caught_up", description: "measurements whose topology was recorded again from topology_backlog");

    /// <summary>What one round did.</summary>
    public sealed record Round(int Recorded, int Gone, int Failed)
    {
        public int Taken => Recorded + Gone + Failed;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        caughtUp.Add(0);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(settings.CatchUpInterval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            try
            {
                Round round;
                do
                {
                    round = await RunOnceAsync(settings.CatchUpAfter, settings.CatchUpBatchSize, stoppingToken);
                    if (round.Taken > 0)
                    {
                        LogCaughtUp(round.Recorded, round.Gone, round.Failed);
                    }
                }
                // A long backlog (after an outage) is worked off at once, one batch after the other, unless it fails.
                while (round.Taken == settings.CatchUpBatchSize && round.Failed == 0 && !stoppingToken.IsCancellationRequested);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                LogFailed(e.Message);
            }
        }
    }

    /// <summary>
    /// Records the topology of up to <paramref name="batchSize"/> backlog measurements stored more than
    /// <paramref name="olderThan"/> ago, oldest first, and writes the rows (which clears them from the backlog).
    /// </summary>
    public async Task<Round> RunOnceAsync(TimeSpan olderThan, int batchSize, CancellationToken cancellationToken)
    {
        var due = new List<(long Id, DateTime StartedAt, string? Target, string? Vantage)>();
        await using (var pick = dataSource.CreateCommand("""
            SELECT b.measurement_id, b.started_at, host(m.target), m.vantage
              FROM topology_backlog b
              LEFT JOIN measurements m ON m.id = b.measurement_id AND m.started_at = b.started_at
             WHERE b.stored_at < now() - @older_than AND m.enrichment_state IS DISTINCT FROM 'pending'
             ORDER BY b.stored_at, b.measurement_id
             LIMIT @n
            """))
        {
            pick.Parameters.AddWithValue("older_than", olderThan);
            pick.Parameters.AddWithValue("n", batchSize);
            await using var reader = await pick.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                due.Add((reader.GetInt64(0), reader.GetDateTime(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3)));
            }
        }
        if (due.Count == 0)
        {
            return new Round(0, 0, 0);
        }
        var gone = due.Where(d => d.Target is null).Select(d => d.Id).ToArray();
        if (gone.Length > 0)
        {
            // Retention dropped the measurement: nothing is left to record it from.
            await using var delete = dataSource.CreateCommand("DELETE FROM topology_backlog WHERE measurement_id = ANY(@ids)");
            delete.Parameters.Add(new NpgsqlParameter<long[]>("ids", gone));
            await delete.ExecuteNonQueryAsync(cancellationToken);
        }
        var stored = due.Where(d => d.Target is not null).ToList();
        var hops = await ReadHopsAsync(stored.Select(d => (d.Id, d.StartedAt)).ToList(), cancellationToken);
        var recorded = 0;
        var failed = 0;
        foreach (var (id, startedAt, target, vantage) in stored)
        {
            var measurement = new TopologyMeasurement(id, target!, vantage!, new DateTimeOffset(DateTime.SpecifyKind(startedAt, DateTimeKind.Utc)),
                // The extractor the probe pipeline uses, on the stored hops: the same path it would have recorded.
                extractor.Extract(hops.TryGetValue(id, out var list) ? list : []));
            try
            {
                await recorder.RecordAsync(measurement, cancellationToken);
                recorded++;
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // It stays in the backlog and is tried again next round.
                failed++;
                LogRecordFailed(id, e.Message);
            }
        }
        // Now rather than at the next tick: the next round must not take these again.
        await tables.FlushAsync(cancellationToken);
        caughtUp.Add(recorded);
        return new Round(recorded, gone.Length, failed);
    }

    private async Task<Dictionary<long, List<PathHop>>> ReadHopsAsync(IReadOnlyList<(long Id, DateTime StartedAt)> measurements,
        CancellationToken cancellationToken)
    {
        var hops = new Dictionary<long, List<PathHop>>();
        if (measurements.Count == 0)
        {
            return hops;
        }
        // Joined on (id, started_at): each measurement's hops are read from the one partition that holds them.
        await using var read = dataSource.CreateCommand($"""
            SELECT h.measurement_id, {StoredHops.Columns}
              FROM hops h JOIN unnest(@ids, @started_at) AS u(id, started_at) ON h.measurement_id = u.id AND h.measured_at = u.started_at
             ORDER BY h.measurement_id, h.ttl, h.reply_index
            """);
        read.Parameters.Add(new NpgsqlParameter<long[]>("ids", measurements.Select(m => m.Id).ToArray()));
        read.Parameters.Add(new NpgsqlParameter("started_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz)
        {
            Value = measurements.Select(m => m.StartedAt).ToArray(),
        });
        await using var reader = await read.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.GetInt64(0);
            if (!hops.TryGetValue(id, out var list))
            {
                hops[id] = list = [];
            }
            list.Add(StoredHops.Read(reader, 1));
        }
        return hops;
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Topology catch-up: recorded {Recorded} measurement(s) from topology_backlog again, {Gone} gone to retention, {Failed} failed")]
    private partial void LogCaughtUp(int recorded, int gone, int failed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Topology catch-up of measurement {MeasurementId} failed ({Error}); it stays in the backlog")]
    private partial void LogRecordFailed(long measurementId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Topology catch-up failed ({Error}); will try again")]
    private partial void LogFailed(string error);
}
