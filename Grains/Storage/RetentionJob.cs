using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CyberWatch.Storage;

/// <summary>
/// <c>retention_settings</c>: months of raw measurements/hops and of hourly aggregates to keep; days of DNS query counts
/// (<c>dns_queries</c>), of resolved DNS addresses not seen again (<c>dns_targets</c>) and of the DNS handoff (the
/// applied-entry journal and the Redis stream). DNS data says what a network's users looked up, so it is kept for
/// days, not months.
/// </summary>
public sealed record RetentionSettings(int RawMonths = 6, int AggregateMonths = 24, int DnsQueryDays = 30, int DnsTargetDays = 30,
    int DnsHandoffDays = 7)
{
    public static RetentionSettings Parse(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return new RetentionSettings();
        }
        var settings = JsonSerializer.Deserialize<RetentionSettings>(json, NodeSettings.Json) ?? new RetentionSettings();
        if (settings.RawMonths < 1)
        {
            throw new FormatException($"raw_months must be at least 1, not {settings.RawMonths}");
        }
        if (settings.AggregateMonths < settings.RawMonths)
        {
            throw new FormatException($"aggregate_months ({settings.AggregateMonths}) must be at least raw_months ({settings.RawMonths})");
        }
        foreach (var (name, days) in new[] { ("dns_query_days", settings.DnsQueryDays), ("dns_target_days", settings.DnsTargetDays), ("dns_handoff_days", settings.DnsHandoffDays) })
        {
            if (days < 1)
            {
                throw new FormatException($"{name} must be at least 1, not {days}");
            }
        }
        return settings;
    }
}

/// <summary>What one retention run did; <see cref="Pruned"/>: rows (or entries) deleted by each <see cref="IRetainedData"/>, by what they were.</summary>
public sealed record RetentionReport(int PartitionsCreated, DateTimeOffset? RolledUpTo, IReadOnlyList<string> PartitionsDropped,
    IReadOnlyList<string> PartitionsKept, long AggregateRowsDeleted, bool Skipped = false, IReadOnlyDictionary<string, long>? Pruned = null);

/// <summary>
/// Data another feature keeps that the daily retention run prunes (the DNS tables and stream): that feature implements
/// it and registers it, so retention runs in one place without Storage knowing the feature.
/// </summary>
public interface IRetainedData
{
    /// <summary>Deletes what is older than <paramref name="settings"/> allows at <paramref name="now"/>; how many of each kind went.</summary>
    Task<IReadOnlyDictionary<string, long>> PruneAsync(RetentionSettings settings, DateTimeOffset now, CancellationToken cancellationToken);
}

/// <summary>
/// The silo's housekeeping: every hour it creates the coming months' partitions and rolls raw rows up
/// into the hourly aggregates; once a day it drops the monthly partitions of <c>measurements</c> and
/// <c>hops</c> older than <c>raw_months</c> (only once their hours are rolled up) and deletes hourly
/// aggregates older than <c>aggregate_months</c>. Dropping a partition needs a brief exclusive lock on
/// the parent table: it is taken with a short lock_timeout (or DETACH ... CONCURRENTLY where no default
/// partition exists) and retried later rather than queueing ingestion behind it. Several silos share
/// the work through an advisory lock: one runs, the others skip. The months are counted back from the
/// newest stored measurement when the clock is ahead of it, so a clock jump never ages data out early.
/// </summary>
public sealed partial class RetentionJob : BackgroundService
{
    public static readonly TimeSpan RunInterval = TimeSpan.FromHours(1);
    public static readonly TimeSpan PruneInterval = TimeSpan.FromDays(1);
    public static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The advisory lock one silo holds while it runs retention ("cwretent").</summary>
    public const long AdvisoryLockKey = 0x6377_7265_7465_6e74;
    private static readonly string[] PartitionedTables = ["hops", "measurements", "ping_rounds"];

    private readonly NpgsqlDataSource dataSource;
    private readonly HourlyAggregates aggregates;
    private readonly TimeProvider clock;
    private readonly ILogger<RetentionJob> logger;
    private readonly IReadOnlyList<IRetainedData> retained;
    private readonly Counter<long> dropped;
    private readonly Counter<long> runs;
    private DateTimeOffset lastPrune = DateTimeOffset.MinValue;

    /// <summary>Pause before trying a busy partition again (times the attempt number).</summary>
    public TimeSpan LockRetryPause { get; init; } = TimeSpan.FromSeconds(5);

    public RetentionJob(NpgsqlDataSource dataSource, HourlyAggregates aggregates, TimeProvider clock, ILogger<RetentionJob> logger, IMeterFactory meters,
        IEnumerable<IRetainedData>? retained = null)
    {
        this.retained = retained?.ToList() ?? [];
        this.dataSource = dataSource;
        this.aggregates = aggregates;
        this.clock = clock;
        this.logger = logger;
        var meter = meters.Create("CyberWatch.Storage");
        dropped = meter.CreateCounter<long>("cyberwatch.retention.partitions_dropped", description: "monthly partitions dropped past raw_months");
        runs = meter.CreateCounter<long>("cyberwatch.retention.runs", description: "retention runs, by outcome");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Let the silo finish starting before the first run.
        await DelayAsync(TimeSpan.FromMinutes(1), stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var prune = clock.GetUtcNow() - lastPrune >= PruneInterval;
                var report = await RunAsync(prune, stoppingToken);
                if (prune && !report.Skipped)
                {
                    lastPrune = clock.GetUtcNow();
                }
                runs.Add(1, new KeyValuePair<string, object?>("outcome", report.Skipped ? "skipped" : "done"));
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // Whatever failed (PostgreSQL away, a Redis that is down, a bad setting), the silo goes on measuring:
                // a run that failed is tried again in an hour, it never stops the host.
                runs.Add(1, new KeyValuePair<string, object?>("outcome", "failed"));
                LogRunFailed(e is NpgsqlException or TimeoutException or FormatException or JsonException ? e.Message : $"{e.GetType().Name}: {e.Message}");
            }
            await DelayAsync(RunInterval, stoppingToken);
        }
    }

    /// <summary>One run: partitions ahead, roll-up, and (when <paramref name="prune"/>) the drops and deletes.</summary>
    public async Task<RetentionReport> RunAsync(bool prune, CancellationToken cancellationToken)
    {
        await using var lockConnection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (!await ExecuteScalarAsync<bool>(lockConnection, $"SELECT pg_try_advisory_lock({AdvisoryLockKey})", cancellationToken))
        {
            return new RetentionReport(0, null, [], [], 0, Skipped: true);
        }
        try
        {
            var now = clock.GetUtcNow();
            var thisMonth = new DateTime(now.Year, now.Month, 1, 0, 0, 0, DateTimeKind.Utc);
            var created = await EnsurePartitionsAsync(lockConnection, thisMonth, cancellationToken);
            var rolledUpTo = await aggregates.RollUpAsync(cancellationToken) ?? await aggregates.RolledUpToAsync(cancellationToken);
            if (!prune)
            {
                return new RetentionReport(created, rolledUpTo, [], [], 0);
            }
            var settings = RetentionSettings.Parse(await ExecuteScalarAsync<string?>(lockConnection,
                "SELECT value::text FROM settings WHERE key = 'retention_settings'", cancellationToken));
            // Retention counts back from the newest stored row when the clock is ahead of it: a clock that
            // jumped forward (or a node that stopped probing for a while) must not age out data it should keep.
            var anchor = await aggregates.NewestMeasurementAsync(cancellationToken) is { } newest && newest < now ? newest : now;
            var anchorMonth = new DateTime(anchor.Year, anchor.Month, 1, 0, 0, 0, DateTimeKind.Utc);
            if (anchor < now && anchorMonth < thisMonth)
            {
                LogAnchoredOnData(anchor, now);
            }
            var rawCutoff = anchorMonth.AddMonths(-settings.RawMonths);
            var (droppedNames, kept) = await DropPartitionsAsync(lockConnection, rawCutoff, rolledUpTo, cancellationToken);
            var deleted = await DeleteOldRowsAsync(lockConnection, rawCutoff, anchorMonth.AddMonths(-settings.AggregateMonths), rolledUpTo, cancellationToken);
            LogPruned(settings.RawMonths, settings.AggregateMonths, droppedNames.Count, deleted);
            var pruned = new Dictionary<string, long>();
            foreach (var data in retained)
            {
                // Counted from the clock, not the newest measurement: these rows carry their own times and a node
                // that stopped probing has no reason to keep what its resolver saw.
                IReadOnlyDictionary<string, long> rowsOf;
                try
                {
                    rowsOf = await data.PruneAsync(settings, now, cancellationToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // One source that cannot be pruned (its Redis down) does not keep the others from it.
                    LogSourceFailed(data.GetType().Name, $"{e.GetType().Name}: {e.Message}");
                    continue;
                }
                foreach (var (what, rows) in rowsOf)
                {
                    pruned[what] = pruned.GetValueOrDefault(what) + rows;
                    LogOtherPruned(what, rows);
                }
            }
            return new RetentionReport(created, rolledUpTo, droppedNames, kept, deleted, Pruned: pruned);
        }
        finally
        {
            await ExecuteScalarAsync<bool>(lockConnection, $"SELECT pg_advisory_unlock({AdvisoryLockKey})", CancellationToken.None);
        }
    }

    private async Task<int> EnsurePartitionsAsync(NpgsqlConnection connection, DateTime thisMonth, CancellationToken cancellationToken)
    {
        try
        {
            await using var command = new NpgsqlCommand("SELECT cw_ensure_month_partitions(@month, 3)", connection);
            command.Parameters.AddWithValue("month", DateOnly.FromDateTime(thisMonth));
            return (int)(await command.ExecuteScalarAsync(cancellationToken) ?? 0);
        }
        catch (PostgresException e)
        {
            // Rows of that month already sit in the default partition; ingestion goes on there.
            LogPartitionsNotCreated(e.MessageText);
            return 0;
        }
    }

    private async Task<(List<string> Dropped, List<string> Kept)> DropPartitionsAsync(NpgsqlConnection connection, DateTime cutoff,
        DateTimeOffset? rolledUpTo, CancellationToken cancellationToken)
    {
        var droppedNames = new List<string>();
        var kept = new List<string>();
        foreach (var table in PartitionedTables)
        {
            var hasDefault = await ExecuteScalarAsync<bool>(connection,
                $"SELECT partdefid <> 0 FROM pg_partitioned_table WHERE partrelid = '{table}'::regclass", cancellationToken);
            foreach (var (partition, end) in await MonthPartitionsAsync(connection, table, cancellationToken))
            {
                if (end > cutoff)
                {
                    continue;
                }
                if (rolledUpTo is null || rolledUpTo.Value.UtcDateTime < end)
                {
                    // Its hours are not in the aggregates yet: dropping it would lose them for good.
                    LogNotRolledUp(partition);
                    kept.Add(partition);
                    continue;
                }
                if (await DropPartitionAsync(connection, table, partition, hasDefault, cancellationToken))
                {
                    droppedNames.Add(partition);
                    dropped.Add(1, new KeyValuePair<string, object?>("table", table));
                }
                else
                {
                    kept.Add(partition);
                }
            }
        }
        return (droppedNames, kept);
    }

    private async Task<bool> DropPartitionAsync(NpgsqlConnection connection, string table, string partition, bool hasDefault, CancellationToken cancellationToken)
    {
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            try
            {
                if (hasDefault)
                {
                    // CONCURRENTLY is refused while a default partition exists: a short lock wait instead.
                    await ExecuteAsync(connection, $"SET lock_timeout = '{(int)LockTimeout.TotalMilliseconds}ms'", cancellationToken);
                    await ExecuteAsync(connection, $"ALTER TABLE {table} DETACH PARTITION {partition}", cancellationToken);
                }
                else
                {
                    await ExecuteAsync(connection, $"ALTER TABLE {table} DETACH PARTITION {partition} CONCURRENTLY", cancellationToken);
                }
                await ExecuteAsync(connection, $"DROP TABLE {partition}", cancellationToken);
                LogDropped(partition);
                return true;
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.ObjectInUse)
            {
                LogLockBusy(partition, attempt, e.MessageText);
                if (attempt < 3)
                {
                    await DelayAsync(LockRetryPause * attempt, cancellationToken);
                }
            }
            finally
            {
                await ExecuteAsync(connection, "RESET lock_timeout", CancellationToken.None);
            }
        }
        return false;
    }

    private static async Task<List<(string Name, DateTime End)>> MonthPartitionsAsync(NpgsqlConnection connection, string table, CancellationToken cancellationToken)
    {
        var partitions = new List<(string, DateTime)>();
        await using var command = new NpgsqlCommand("""
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = @table::regclass ORDER BY c.relname
            """, connection);
        command.Parameters.AddWithValue("table", table);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var name = reader.GetString(0);
            if (MonthPartitionName().Match(name) is { Success: true } match && match.Groups["table"].Value == table)
            {
                var start = new DateTime(int.Parse(match.Groups["year"].Value, CultureInfo.InvariantCulture),
                    int.Parse(match.Groups["month"].Value, CultureInfo.InvariantCulture), 1, 0, 0, 0, DateTimeKind.Utc);
                partitions.Add((name, start.AddMonths(1)));
            }
        }
        return partitions;
    }

    /// <summary>Old rows that are not in a droppable partition: the default partitions, and the aggregates past their months.</summary>
    private static async Task<long> DeleteOldRowsAsync(NpgsqlConnection connection, DateTime rawCutoff, DateTime aggregateCutoff,
        DateTimeOffset? rolledUpTo, CancellationToken cancellationToken)
    {
        long deleted = 0;
        var rawLimit = rolledUpTo is { } mark && mark.UtcDateTime < rawCutoff ? mark.UtcDateTime : rawCutoff;
        foreach (var (table, column, aggregate) in new[]
                 {
                     ("hops_default", "measured_at", false),
                     ("measurements_default", "started_at", false),
                     ("ping_rounds_default", "started_at", false),
                     ("target_hourly_stats", "hour", true),
                     ("ping_rounds_hourly", "hour", true),
                     ("asn_stats", "hour", true),
                 })
        {
            // The default partitions may have been dropped by an operator who wants DETACH CONCURRENTLY.
            if (!await ExecuteScalarAsync<bool>(connection, $"SELECT to_regclass('{table}') IS NOT NULL", cancellationToken))
            {
                continue;
            }
            await using var command = new NpgsqlCommand($"DELETE FROM {table} WHERE {column} < @before", connection);
            command.Parameters.AddWithValue("before", aggregate ? aggregateCutoff : rolledUpTo is null ? DateTime.UnixEpoch : rawLimit);
            var rows = await command.ExecuteNonQueryAsync(cancellationToken);
            if (aggregate)
            {
                deleted += rows;
            }
        }
        return deleted;
    }

    private async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, clock, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<T> ExecuteScalarAsync<T>(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is null or DBNull ? default! : (T)value;
    }

    [GeneratedRegex(@"^(?<table>measurements|hops|ping_rounds)_(?<year>\d{4})_(?<month>\d{2})$")]
    private static partial Regex MonthPartitionName();

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention: kept {RawMonths} month(s) of raw data and {AggregateMonths} of aggregates; dropped {Partitions} partition(s), deleted {AggregateRows} aggregate row(s)")]
    private partial void LogPruned(int rawMonths, int aggregateMonths, int partitions, long aggregateRows);

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention: deleted {Rows} {What} past retention")]
    private partial void LogOtherPruned(string what, long rows);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Retention: the newest measurement ({Newest:o}) is in an earlier month than the clock ({Now:o}); retention counts from the newest measurement")]
    private partial void LogAnchoredOnData(DateTimeOffset newest, DateTimeOffset now);

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention: dropped partition {Partition}")]
    private partial void LogDropped(string partition);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Retention: partition {Partition} is past retention but not rolled up yet; kept")]
    private partial void LogNotRolledUp(string partition);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Retention: {Partition} is busy (attempt {Attempt}: {Error}); not waiting on ingestion")]
    private partial void LogLockBusy(string partition, int attempt, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Retention: monthly partitions not created ({Error})")]
    private partial void LogPartitionsNotCreated(string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Retention: {Source} could not prune ({Error}); the rest was pruned, it is tried again at the next daily run")]
    private partial void LogSourceFailed(string source, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Retention run failed: {Error}; trying again in an hour")]
    private partial void LogRunFailed(string error);
}

public static class RetentionServiceCollectionExtensions
{
    /// <summary>The hourly roll-up and daily retention of the silo.</summary>
    public static IServiceCollection AddRetention(this IServiceCollection services)
    {
        services.AddSingleton<HourlyAggregates>();
        services.AddSingleton<RetentionJob>();
        services.AddHostedService(sp => sp.GetRequiredService<RetentionJob>());
        return services;
    }
}
