using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Storage;

/// <summary>
/// Stores measurements and their hops in batches with binary COPY. Ids are reserved from the
/// sequence first, so each caller learns its measurement id. A row PostgreSQL refuses is quarantined
/// (<see cref="RowQuarantine"/>) and the rest of its batch stored. While PostgreSQL is down, batches are
/// kept in memory and retried with back-off (bounded: past <see cref="MaxBuffered"/> new writes are
/// refused with a clear error instead of growing without limit).
/// </summary>
public sealed partial class MeasurementWriter : BackgroundService
{
    public const int MaxBatch = 1000;
    public const int MaxBuffered = 200_000;

    private readonly Channel<Pending> queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly NpgsqlDataSource dataSource;
    private readonly RowQuarantine quarantine;
    private readonly ILogger<MeasurementWriter> logger;
    private readonly Histogram<double> batchSeconds;
    private readonly Counter<long> written;
    private readonly Counter<long> storeFailures;
    private int buffered;

    public MeasurementWriter(NpgsqlDataSource dataSource, ILogger<MeasurementWriter> logger, IMeterFactory meters)
    {
        this.dataSource = dataSource;
        this.logger = logger;
        quarantine = new RowQuarantine(dataSource, logger);
        var meter = meters.Create("CyberWatch.Storage");
        batchSeconds = meter.CreateHistogram<double>("cyberwatch.ingest.batch_duration", "s", "time to store one batch of measurements");
        written = meter.CreateCounter<long>("cyberwatch.ingest.measurements", description: "measurements stored");
        storeFailures = meter.CreateCounter<long>("cyberwatch.ingest.store_failures", description: "batches PostgreSQL could not store (retried)");
        storeFailures.Add(0); // exported from the start, so the first failure shows in rate()
        meter.CreateObservableGauge("cyberwatch.ingest.buffered", () => Volatile.Read(ref buffered), description: "measurements waiting to be stored");
    }

    public int Buffered => Volatile.Read(ref buffered);

    /// <summary>Stores a measurement and returns its id once it is committed.</summary>
    public Task<long> WriteAsync(MeasurementRow measurement, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Increment(ref buffered) > MaxBuffered)
        {
            Interlocked.Decrement(ref buffered);
            throw new StorageUnavailableException($"{MaxBuffered} measurements are already waiting for PostgreSQL; refusing more");
        }
        var pending = new Pending(measurement);
        queue.Writer.TryWrite(pending);
        return pending.Id.Task.WaitAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Pending>(MaxBatch);
        var failures = 0;
        // A batch kept after a failure is retried whether or not new measurements arrive: the last ones of a
        // burst must not wait for the next probe to be stored.
        while (batch.Count > 0 && !stoppingToken.IsCancellationRequested
               || await queue.Reader.WaitToReadAsync(stoppingToken).AsTask().ContinueWith(t => !t.IsCanceled && t.Result, TaskScheduler.Default))
        {
            while (batch.Count < MaxBatch && queue.Reader.TryRead(out var next))
            {
                batch.Add(next);
            }
            try
            {
                await quarantine.StoreAsync("measurements", batch.ToList(), StoreSettingIdsAsync, p => p.Measurement, Settle, stoppingToken);
                batch.Clear();
                if (failures > 0)
                {
                    LogRecovered(failures);
                }
                failures = 0;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
            {
                // Part of the batch may be stored already (a split one): only the rest is retried.
                batch.RemoveAll(p => p.Id.Task.IsCompleted);
                failures++;
                storeFailures.Add(1);
                var delay = TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, Math.Min(failures, 5)) / 2));
                LogStoreFailed(batch.Count, e.Message, delay.TotalSeconds);
                try
                {
                    await Task.Delay(delay, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
        }
        foreach (var pending in batch)
        {
            pending.Id.TrySetException(new StorageUnavailableException("the silo stopped before the measurement was stored"));
        }
        while (queue.Reader.TryRead(out var left))
        {
            left.Id.TrySetException(new StorageUnavailableException("the silo stopped before the measurement was stored"));
        }
    }

    private async Task StoreSettingIdsAsync(IReadOnlyList<Pending> batch, CancellationToken cancellationToken)
    {
        var duplicates = new Dictionary<int, long>();
        var ids = await StoreAsync(batch.Select(p => p.Measurement).ToList(), duplicates, cancellationToken);
        for (var i = 0; i < batch.Count; i++)
        {
            if (duplicates.TryGetValue(i, out var stored))
            {
                batch[i].Id.TrySetException(new DuplicateDeliveryException(batch[i].Measurement.DeliveryId!.Value, stored));
            }
            else
            {
                batch[i].Id.TrySetResult(ids[i]);
            }
        }
    }

    private void Settle(IReadOnlyList<Pending> batch, PostgresException? refused)
    {
        if (refused is not null)
        {
            foreach (var pending in batch)
            {
                pending.Id.TrySetException(new StorageUnavailableException(
                    $"PostgreSQL refused the measurement ({refused.SqlState}: {refused.MessageText}); it is kept in rejected_rows", refused));
            }
        }
        Interlocked.Add(ref buffered, -batch.Count);
    }

    /// <summary>Stores a batch in one transaction and returns the ids, in order (a delivery stored before: its first id).</summary>
    public Task<long[]> StoreAsync(IReadOnlyList<MeasurementRow> measurements, CancellationToken cancellationToken) =>
        StoreAsync(measurements, new Dictionary<int, long>(), cancellationToken);

    private async Task<long[]> StoreAsync(IReadOnlyList<MeasurementRow> measurements, Dictionary<int, long> duplicates,
        CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var ids = new long[measurements.Count];
        await using (var reserve = new NpgsqlCommand(
            "SELECT nextval(pg_get_serial_sequence('measurements', 'id')) FROM generate_series(1, @n)", connection))
        {
            reserve.Parameters.AddWithValue("n", measurements.Count);
            await using var reader = await reserve.ExecuteReaderAsync(cancellationToken);
            for (var i = 0; await reader.ReadAsync(cancellationToken); i++)
            {
                ids[i] = reader.GetInt64(0);
            }
        }
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ClaimDeliveriesAsync(connection, measurements, ids, duplicates, cancellationToken);
        await using (var copy = await connection.BeginBinaryImportAsync("""
            COPY measurements (id, target, tool, method, vantage, started_at, completed_at, success, stop_reason, failure_reason,
                               hop_count, responding_hops, min_rtt_ms, avg_rtt_ms, max_rtt_ms, dest_rtt_ms, loss_pct,
                               raw_format, raw_result, enrichment_state, as_path) FROM STDIN (FORMAT BINARY)
            """, cancellationToken))
        {
            for (var i = 0; i < measurements.Count; i++)
            {
                if (duplicates.ContainsKey(i))
                {
                    continue;
                }
                var m = measurements[i];
                await copy.StartRowAsync(cancellationToken);
                await copy.WriteAsync(ids[i], NpgsqlDbType.Bigint, cancellationToken);
                await copy.WriteAsync(m.Target, NpgsqlDbType.Inet, cancellationToken);
                await copy.WriteAsync(m.Tool, NpgsqlDbType.Text, cancellationToken);
                await copy.WriteAsync(m.Method, NpgsqlDbType.Text, cancellationToken);
                await copy.WriteAsync(m.Vantage, NpgsqlDbType.Text, cancellationToken);
                await copy.WriteAsync(m.StartedAt.UtcDateTime, NpgsqlDbType.TimestampTz, cancellationToken);
                await WriteValueOrNullAsync(copy, m.CompletedAt?.UtcDateTime, NpgsqlDbType.TimestampTz, cancellationToken);
                await copy.WriteAsync(m.Success, NpgsqlDbType.Boolean, cancellationToken);
                await WriteRefOrNullAsync(copy, m.StopReason, NpgsqlDbType.Text, cancellationToken);
                await WriteRefOrNullAsync(copy, m.FailureReason, NpgsqlDbType.Text, cancellationToken);
                await WriteValueOrNullAsync(copy, m.HopCount, NpgsqlDbType.Smallint, cancellationToken);
                await WriteValueOrNullAsync(copy, m.RespondingHops, NpgsqlDbType.Smallint, cancellationToken);
                await WriteValueOrNullAsync(copy, m.MinRttMs, NpgsqlDbType.Double, cancellationToken);
                await WriteValueOrNullAsync(copy, m.AvgRttMs, NpgsqlDbType.Double, cancellationToken);
                await WriteValueOrNullAsync(copy, m.MaxRttMs, NpgsqlDbType.Double, cancellationToken);
                await WriteValueOrNullAsync(copy, m.DestRttMs, NpgsqlDbType.Double, cancellationToken);
                await WriteValueOrNullAsync(copy, m.LossPct, NpgsqlDbType.Real, cancellationToken);
                await copy.WriteAsync(m.RawFormat, NpgsqlDbType.Text, cancellationToken);
                await WriteRefOrNullAsync(copy, m.RawResult, NpgsqlDbType.Text, cancellationToken);
                await copy.WriteAsync(m.EnrichmentState, NpgsqlDbType.Text, cancellationToken);
                await WriteRefOrNullAsync(copy, m.AsPath, NpgsqlDbType.Text, cancellationToken);
            }
            await copy.CompleteAsync(cancellationToken);
        }
        await using (var copy = await connection.BeginBinaryImportAsync("""
            COPY hops (measurement_id, measured_at, ttl, reply_index, address, rtt_ms, rtt_best_ms, rtt_worst_ms, rtt_stdev_ms,
                       loss_pct, reply_ttl, icmp_type, icmp_code, mpls_labels, address_class, asn, origin_asns, prefix, ixp, org,
                       country, enrichment_error) FROM STDIN (FORMAT BINARY)
            """, cancellationToken))
        {
            for (var i = 0; i < measurements.Count; i++)
            {
                if (duplicates.ContainsKey(i))
                {
                    continue;
                }
                var startedAt = measurements[i].StartedAt.UtcDateTime;
                foreach (var hop in measurements[i].Hops)
                {
                    await copy.StartRowAsync(cancellationToken);
                    await copy.WriteAsync(ids[i], NpgsqlDbType.Bigint, cancellationToken);
                    await copy.WriteAsync(startedAt, NpgsqlDbType.TimestampTz, cancellationToken);
                    await copy.WriteAsync(hop.Ttl, NpgsqlDbType.Smallint, cancellationToken);
                    await copy.WriteAsync(hop.ReplyIndex, NpgsqlDbType.Smallint, cancellationToken);
                    await WriteRefOrNullAsync(copy, hop.Address, NpgsqlDbType.Inet, cancellationToken);
                    await WriteValueOrNullAsync(copy, hop.RttMs, NpgsqlDbType.Double, cancellationToken);
                    await WriteValueOrNullAsync(copy, hop.RttBestMs, NpgsqlDbType.Double, cancellationToken);
                    await WriteValueOrNullAsync(copy, hop.RttWorstMs, NpgsqlDbType.Double, cancellationToken);
                    await WriteValueOrNullAsync(copy, hop.RttStdevMs, NpgsqlDbType.Double, cancellationToken);
                    await WriteValueOrNullAsync(copy, hop.LossPct, NpgsqlDbType.Real, cancellationToken);
                    await WriteValueOrNullAsync(copy, hop.ReplyTtl, NpgsqlDbType.Smallint, cancellationToken);
                    await WriteValueOrNullAsync(copy, hop.IcmpType, NpgsqlDbType.Smallint, cancellationToken);
                    await WriteValueOrNullAsync(copy, hop.IcmpCode, NpgsqlDbType.Smallint, cancellationToken);
                    await WriteRefOrNullAsync(copy, hop.MplsLabelsJson, NpgsqlDbType.Jsonb, cancellationToken);
                    await WriteRefOrNullAsync(copy, hop.AddressClass, NpgsqlDbType.Text, cancellationToken);
                    await WriteValueOrNullAsync(copy, hop.Asn, NpgsqlDbType.Bigint, cancellationToken);
                    await WriteRefOrNullAsync(copy, hop.OriginAsns, NpgsqlDbType.Array | NpgsqlDbType.Bigint, cancellationToken);
                    if (hop.Prefix is { } prefix)
                    {
                        await copy.WriteAsync(new System.Net.IPNetwork(prefix.Network, prefix.Length), NpgsqlDbType.Cidr, cancellationToken);
                    }
                    else
                    {
                        await copy.WriteNullAsync(cancellationToken);
                    }
                    await WriteRefOrNullAsync(copy, hop.Ixp, NpgsqlDbType.Text, cancellationToken);
                    await WriteRefOrNullAsync(copy, hop.Org, NpgsqlDbType.Text, cancellationToken);
                    await WriteRefOrNullAsync(copy, hop.Country, NpgsqlDbType.Text, cancellationToken);
                    await WriteRefOrNullAsync(copy, hop.EnrichmentError, NpgsqlDbType.Text, cancellationToken);
                }
            }
            await copy.CompleteAsync(cancellationToken);
        }
        // In the same transaction: no stored measurement can miss its topology (TopologyCatchUp replays what is left here).
        // A result an agent delivered twice was stored (with its backlog row) the first time.
        var withPath = Enumerable.Range(0, measurements.Count).Where(i => !duplicates.ContainsKey(i) && ImpliesTopology(measurements[i])).ToArray();
        if (withPath.Length > 0)
        {
            await using var backlog = new NpgsqlCommand(
                "INSERT INTO topology_backlog (measurement_id, started_at) SELECT * FROM unnest(@id, @started_at)", connection, transaction);
            backlog.Parameters.Add(new NpgsqlParameter<long[]>("id", withPath.Select(i => ids[i]).ToArray()));
            backlog.Parameters.Add(new NpgsqlParameter("started_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz)
            {
                Value = withPath.Select(i => measurements[i].StartedAt.UtcDateTime).ToArray(),
            });
            await backlog.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        batchSeconds.Record(clock.Elapsed.TotalSeconds);
        written.Add(measurements.Count - duplicates.Count);
        foreach (var (index, stored) in duplicates)
        {
            ids[index] = stored;
        }
        return ids;
    }

    /// <summary>A successful measurement with a replying hop has an AS path to record (the probe pipeline hands exactly these to the topology).</summary>
    public static bool ImpliesTopology(MeasurementRow measurement) => measurement.Success && measurement.Hops.Any(h => h.Address is not null);
    /// <summary>
    /// Claims the delivery ids of agents' results in the measurements' own transaction. A result claimed before (its
    /// agent did not hear the acknowledgement and sent it again) goes into <paramref name="duplicates"/> with the id
    /// it was stored under, and is not stored again. A claim racing another transaction's waits for it to commit.
    /// </summary>
    private static async Task ClaimDeliveriesAsync(NpgsqlConnection connection, IReadOnlyList<MeasurementRow> measurements, long[] ids,
        Dictionary<int, long> duplicates, CancellationToken cancellationToken)
    {
        var indexes = new Dictionary<Guid, int>();
        for (var i = 0; i < measurements.Count; i++)
        {
            if (measurements[i].DeliveryId is { } delivery)
            {
                if (!indexes.TryAdd(delivery, i))
                {
                    duplicates[i] = -1; // the same result twice in one batch: settled below with the first's id
                }
            }
        }
        if (indexes.Count == 0)
        {
            return;
        }
        var claimed = new HashSet<Guid>();
        await using (var claim = new NpgsqlCommand("""
            INSERT INTO agent_deliveries (delivery_id, vantage, measurement_id)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[]) ON CONFLICT (delivery_id) DO NOTHING RETURNING delivery_id
            """, connection))
        {
            claim.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. indexes.Keys] });
            claim.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. indexes.Values.Select(i => measurements[i].Vantage)] });
            claim.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. indexes.Values.Select(i => ids[i])] });
            await using var reader = await claim.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                claimed.Add(reader.GetGuid(0));
            }
        }
        var earlier = indexes.Keys.Where(d => !claimed.Contains(d)).ToArray();
        if (earlier.Length > 0)
        {
            await using var lookup = new NpgsqlCommand("SELECT delivery_id, measurement_id FROM agent_deliveries WHERE delivery_id = ANY($1)", connection);
            lookup.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = earlier });
            await using var reader = await lookup.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                duplicates[indexes[reader.GetGuid(0)]] = reader.GetInt64(1);
            }
        }
        foreach (var index in duplicates.Where(d => d.Value == -1).Select(d => d.Key).ToList())
        {
            var first = indexes[measurements[index].DeliveryId!.Value];
            duplicates[index] = duplicates.TryGetValue(first, out var stored) ? stored : ids[first];
        }
    }

    private static Task WriteRefOrNullAsync<T>(NpgsqlBinaryImporter copy, T? value, NpgsqlDbType type, CancellationToken cancellationToken)
        where T : class =>
        value is null ? copy.WriteNullAsync(cancellationToken) : copy.WriteAsync(value, type, cancellationToken);

    private static Task WriteValueOrNullAsync<T>(NpgsqlBinaryImporter copy, T? value, NpgsqlDbType type, CancellationToken cancellationToken)
        where T : struct =>
        value is { } v ? copy.WriteAsync(v, type, cancellationToken) : copy.WriteNullAsync(cancellationToken);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot store {Count} measurement(s) ({Error}); keeping them, retrying in {Seconds} s")]
    private partial void LogStoreFailed(int count, string error, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "PostgreSQL is back after {Failures} failed attempt(s); buffered measurements stored")]
    private partial void LogRecovered(int failures);

    private sealed record Pending(MeasurementRow Measurement)
    {
        public TaskCompletionSource<long> Id { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>A remote agent's result that was stored before, under <see cref="MeasurementId"/>: not stored again.</summary>
public sealed class DuplicateDeliveryException(Guid deliveryId, long measurementId)
    : Exception($"delivery {deliveryId} was stored before as measurement {measurementId}")
{
    public Guid DeliveryId { get; } = deliveryId;
    public long MeasurementId { get; } = measurementId;
}

/// <summary>A measurement could not be stored; the message says why.</summary>
public sealed class StorageUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
