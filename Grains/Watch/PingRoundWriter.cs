using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using CyberWatch.Measurement;
using CyberWatch.Storage;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Watch;

/// <summary>
/// Stores ping rounds in batches (binary COPY into <c>ping_rounds</c>) every second. While PostgreSQL is
/// down, rounds wait in memory up to <see cref="MaxPending"/>, then the oldest go (counted): a series is
/// worth less than the silo's memory. A round PostgreSQL refuses for its content goes to <c>rejected_rows</c>.
/// </summary>
public sealed partial class PingRoundWriter : BatchedTableWriter
{
    /// <summary>At 10,000 targets every 5 minutes, over four hours of rounds.</summary>
    public const int MaxPending = 500_000;

    private readonly NpgsqlDataSource dataSource;
    private readonly RowQuarantine quarantine;
    private readonly ILogger<PingRoundWriter> logger;
    private readonly ConcurrentQueue<PingRound> pending = new();
    private readonly Counter<long> stored;
    private readonly Counter<long> dropped;

    public PingRoundWriter(NpgsqlDataSource dataSource, ILogger<PingRoundWriter> logger, IMeterFactory meters) : base(TimeSpan.FromSeconds(1))
    {
        this.dataSource = dataSource;
        this.logger = logger;
        quarantine = new RowQuarantine(dataSource, logger);
        var meter = meters.Create("CyberWatch.Watch");
        stored = meter.CreateCounter<long>("cyberwatch.ping.rounds_stored", description: "ping rounds written to ping_rounds");
        dropped = meter.CreateCounter<long>("cyberwatch.ping.rounds_dropped", description: "ping rounds dropped because PostgreSQL was away too long");
    }

    public override int Pending => pending.Count;

    public void Add(PingRound round)
    {
        pending.Enqueue(round);
        while (pending.Count > MaxPending && pending.TryDequeue(out _))
        {
            dropped.Add(1);
        }
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        while (!pending.IsEmpty)
        {
            var batch = new List<PingRound>();
            while (batch.Count < 5_000 && pending.TryDequeue(out var next))
            {
                batch.Add(next);
            }
            var settled = new HashSet<PingRound>(ReferenceEqualityComparer.Instance);
            try
            {
                await quarantine.StoreAsync("ping_rounds", batch, CopyAsync, round => round, (part, _) => settled.UnionWith(part), cancellationToken);
            }
            catch
            {
                foreach (var round in batch)
                {
                    if (!settled.Contains(round))
                    {
                        pending.Enqueue(round);
                    }
                }
                throw;
            }
            stored.Add(batch.Count);
        }
    }

    private async Task CopyAsync(IReadOnlyList<PingRound> rounds, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var copy = await connection.BeginBinaryImportAsync("""
            COPY ping_rounds (target, vantage, started_at, method, sent, received, loss_pct, min_rtt_ms, median_rtt_ms, max_rtt_ms,
                              mean_rtt_ms, stdev_rtt_ms, iqr_rtt_ms, rtts_ms, failure_reason) FROM STDIN (FORMAT BINARY)
            """, cancellationToken);
        foreach (var round in rounds)
        {
            await copy.StartRowAsync(cancellationToken);
            await copy.WriteAsync(round.Target, NpgsqlDbType.Inet, cancellationToken);
            await copy.WriteAsync(round.Vantage, NpgsqlDbType.Text, cancellationToken);
            await copy.WriteAsync(round.StartedAt.UtcDateTime, NpgsqlDbType.TimestampTz, cancellationToken);
            await copy.WriteAsync(round.Method.ToWire(), NpgsqlDbType.Text, cancellationToken);
            await copy.WriteAsync((short)round.Sent, NpgsqlDbType.Smallint, cancellationToken);
            await copy.WriteAsync((short)round.Received, NpgsqlDbType.Smallint, cancellationToken);
            await WriteAsync<float>(copy, round.LossPct is { } loss ? (float)loss : null, NpgsqlDbType.Real, cancellationToken);
            await WriteAsync(copy, round.MinRttMs, NpgsqlDbType.Double, cancellationToken);
            await WriteAsync(copy, round.MedianRttMs, NpgsqlDbType.Double, cancellationToken);
            await WriteAsync(copy, round.MaxRttMs, NpgsqlDbType.Double, cancellationToken);
            await WriteAsync(copy, round.MeanRttMs, NpgsqlDbType.Double, cancellationToken);
            await WriteAsync(copy, round.StdevRttMs, NpgsqlDbType.Double, cancellationToken);
            await WriteAsync(copy, round.IqrRttMs, NpgsqlDbType.Double, cancellationToken);
            await copy.WriteAsync(round.RttsMs.Select(rtt => (float)rtt).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Real, cancellationToken);
            if (round.FailureReason is null)
            {
                await copy.WriteNullAsync(cancellationToken);
            }
            else
            {
                await copy.WriteAsync(round.FailureReason, NpgsqlDbType.Text, cancellationToken);
            }
        }
        await copy.CompleteAsync(cancellationToken);
    }

    private static async Task WriteAsync<T>(NpgsqlBinaryImporter copy, T? value, NpgsqlDbType type, CancellationToken cancellationToken) where T : struct
    {
        if (value is { } present)
        {
            await copy.WriteAsync(present, type, cancellationToken);
        }
        else
        {
            await copy.WriteNullAsync(cancellationToken);
        }
    }

    protected override void ReportWriteFailed(int pending, string error) => LogWriteFailed(pending, error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot store {Count} ping round(s) ({Error}); keeping them")]
    private partial void LogWriteFailed(int count, string error);
}
