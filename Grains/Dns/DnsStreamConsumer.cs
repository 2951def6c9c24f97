using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace CyberWatch.Dns;

/// <summary>What the silo does with one handoff entry; it must be idempotent (entries can come twice).</summary>
public interface IDnsEntryHandler
{
    Task HandleAsync(DnsHandoffEntry entry, CancellationToken cancellationToken);
}

public sealed class DnsConsumerOptions
{
    public string Stream { get; set; } = DnsStream.DefaultStream;
    public string Group { get; set; } = DnsStream.ConsumerGroup;
    public string Consumer { get; set; } = Environment.MachineName;

    /// <summary>Entries another consumer left unacknowledged this long are taken over (XAUTOCLAIM).</summary>
    public TimeSpan ClaimIdle { get; set; } = TimeSpan.FromMinutes(1);
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);
    public int BatchSize { get; set; } = 50;
}

/// <summary>
/// Reads the DNS handoff stream as one consumer of the silos' group. An entry is acknowledged only after
/// the handler accepted it (target grains, tables); one that fails stays pending and is retried, first
/// by this consumer, or after <see cref="DnsConsumerOptions.ClaimIdle"/> by another silo if this one died.
/// Entries that cannot be read are copied to the rejected stream, then acknowledged.
/// </summary>
public sealed partial class DnsStreamConsumer(IConnectionMultiplexer redis, IDnsEntryHandler handler, DnsConsumerOptions options,
    ILogger<DnsStreamConsumer> logger, IMeterFactory? meters = null) : BackgroundService
{
    private static readonly KeyValuePair<string, object?> Done = new("outcome", "acknowledged");
    private static readonly KeyValuePair<string, object?> Failed = new("outcome", "failed");
    private static readonly KeyValuePair<string, object?> Rejected = new("outcome", "rejected");
    private static readonly KeyValuePair<string, object?> Claimed = new("outcome", "claimed");
    private readonly Counter<long> entries = (meters?.Create("CyberWatch.Dns") ?? new Meter("CyberWatch.Dns"))
        .CreateCounter<long>("cyberwatch.dns.handoff.entries", description: "DNS handoff stream entries by outcome (acknowledged, failed, rejected, claimed)");
    private bool groupReady;
    private RedisValue claimCursor = "0-0";

    public long Acknowledged { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogStarted(logger, options.Stream, options.Group, options.Consumer);
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            int handled;
            try
            {
                handled = await ProcessOnceAsync(stoppingToken);
                if (failures > 0)
                {
                    LogRecovered(logger);
                }
                failures = 0;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // Whatever went wrong, the silo keeps running and the entries stay pending in Redis.
                if (failures++ == 0)
                {
                    LogRedisFailed(logger, e.GetType().Name, e.Message);
                }
                groupReady = false;
                handled = 0;
            }
            catch (Exception) when (stoppingToken.IsCancellationRequested)
            {
                // Stopping: a round cut short (or a Redis that is away) is no reason to stop with a failure;
                // its entries stay pending in Redis for the next consumer.
                return;
            }
            if (handled == 0)
            {
                var wait = failures == 0 ? options.PollInterval : TimeSpan.FromSeconds(Math.Min(30, failures * 2));
                try
                {
                    await Task.Delay(wait, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>One round: own pending entries, entries claimed from dead consumers, then new ones. Returns how many were acknowledged.</summary>
    public async Task<int> ProcessOnceAsync(CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        await EnsureGroupAsync(db);
        StreamEntry[] entries;
        try
        {
            entries = await db.StreamReadGroupAsync(options.Stream, options.Group, options.Consumer, "0-0", options.BatchSize);
            if (entries.Length == 0)
            {
                var claimed = await db.StreamAutoClaimAsync(options.Stream, options.Group, options.Consumer,
                    (long)options.ClaimIdle.TotalMilliseconds, claimCursor, options.BatchSize);
                claimCursor = claimed.NextStartId;
                entries = claimed.ClaimedEntries.Where(e => !e.IsNull).ToArray();
                if (entries.Length > 0)
                {
                    LogClaimed(logger, entries.Length);
                    this.entries.Add(entries.Length, Claimed);
                }
            }
            if (entries.Length == 0)
            {
                entries = await db.StreamReadGroupAsync(options.Stream, options.Group, options.Consumer, StreamPosition.NewMessages, options.BatchSize);
            }
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOGROUP", StringComparison.Ordinal))
        {
            groupReady = false; // Redis lost the group (restarted without AOF): create it again next round
            LogGroupLost(logger, options.Group);
            return 0;
        }
        var acknowledged = 0;
        foreach (var streamEntry in entries)
        {
            if (streamEntry.IsNull)
            {
                continue;
            }
            var entry = DnsStream.Read(streamEntry);
            if (entry is null)
            {
                LogRejected(logger, streamEntry.Id.ToString());
                this.entries.Add(1, Rejected);
                await db.StreamAddAsync(DnsStream.DeadLetters(options.Stream), streamEntry.Values, maxLength: DnsStream.MaxLength, useApproximateMaxLength: true);
            }
            else
            {
                try
                {
                    await handler.HandleAsync(entry, cancellationToken);
                }
                catch (Exception e) when (IsPermanent(e))
                {
                    // The entry itself is wrong (it would fail for ever and hold up the stream): keep it for a person.
                    LogRejectedByHandler(logger, streamEntry.Id.ToString(), e.GetType().Name, e.Message);
                    this.entries.Add(1, Rejected);
                    await db.StreamAddAsync(DnsStream.DeadLetters(options.Stream),
                        [.. streamEntry.Values, new NameValueEntry("error", $"{e.GetType().Name}: {e.Message}")],
                        maxLength: DnsStream.MaxLength, useApproximateMaxLength: true);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    // Left pending: retried next round (by this silo, or by another one after ClaimIdle).
                    LogHandlerFailed(logger, streamEntry.Id.ToString(), e.GetType().Name, e.Message);
                    this.entries.Add(1, Failed);
                    return acknowledged;
                }
            }
            await db.StreamAcknowledgeAsync(options.Stream, options.Group, streamEntry.Id);
            acknowledged++;
            Acknowledged++;
            this.entries.Add(1, Done);
        }
        return acknowledged;
    }

    /// <summary>Failures of the entry's content, as opposed to the silo or PostgreSQL being unavailable.</summary>
    public static bool IsPermanent(Exception e) => e switch
    {
        Npgsql.PostgresException pg => pg.SqlState.StartsWith("22", StringComparison.Ordinal) || pg.SqlState.StartsWith("23", StringComparison.Ordinal),
        FormatException or ArgumentException or InvalidDataException => true,
        _ => false,
    };

    private async Task EnsureGroupAsync(IDatabase db)
    {
        if (groupReady)
        {
            return;
        }
        try
        {
            // From the start of the stream: entries added before any silo ran are not lost.
            await db.StreamCreateConsumerGroupAsync(options.Stream, options.Group, "0-0", createStream: true);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
        {
        }
        groupReady = true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "DNS handoff: reading stream {Stream} as {Consumer} of group {Group}")]
    private static partial void LogStarted(ILogger logger, string stream, string group, string consumer);

    [LoggerMessage(Level = LogLevel.Warning, Message = "DNS handoff: reading the stream failed ({Error}: {Reason}); retrying")]
    private static partial void LogRedisFailed(ILogger logger, string error, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "DNS handoff: Redis is back")]
    private static partial void LogRecovered(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "DNS handoff: consumer group {Group} was missing; creating it again")]
    private static partial void LogGroupLost(ILogger logger, string group);

    [LoggerMessage(Level = LogLevel.Information, Message = "DNS handoff: took over {Count} entries a dead consumer left pending")]
    private static partial void LogClaimed(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "DNS handoff: entry {Id} is unreadable; moved to the rejected stream")]
    private static partial void LogRejected(ILogger logger, string id);

    [LoggerMessage(Level = LogLevel.Error, Message = "DNS handoff: entry {Id} cannot be applied ({Error}: {Reason}); moved to the rejected stream")]
    private static partial void LogRejectedByHandler(ILogger logger, string id, string error, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "DNS handoff: entry {Id} not accepted ({Error}: {Reason}); it stays pending and is retried")]
    private static partial void LogHandlerFailed(ILogger logger, string id, string error, string reason);
}
