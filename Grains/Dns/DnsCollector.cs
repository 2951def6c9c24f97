using CyberWatch.Configuration;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace CyberWatch.Dns;

/// <summary>
/// The long-running collector: each poll reads new queries from the source, counts them under
/// k-anonymity, resolves the domains that were released, appends the result to the disk spool, saves
/// the source position, then drains the spool into the Redis stream. Client addresses stay inside this
/// class's aggregator; nothing logged or written carries them.
/// </summary>
public sealed partial class DnsCollector(
    DnsCollectorConfig config,
    IQuerySource source,
    DomainAggregator aggregator,
    DomainResolver? resolver,
    HandoffSpool spool,
    IConnectionMultiplexer redis,
    TimeProvider clock,
    ILogger<DnsCollector> logger,
    string? pauseAfterSpool = null)
{
    /// <summary>
    /// Fault-test hook (scripts/faults.d/dns-collector-crash.sh): with this variable naming a file, the collector
    /// creates the file after spooling a round and waits there, before saving the source position, to be killed.
    /// </summary>
    public const string PauseAfterSpoolVariable = "CYBERWATCH_DNS_TEST_PAUSE_AFTER_SPOOL";

    public const int MaxAggregatesPerEntry = 500;
    public const int MaxTargetsPerEntry = 200;

    public long Published { get; private set; }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        LogStarted(logger, source.Name, config.Privacy.DomainPolicy, config.Privacy.KAnonymity, config.Redis.Stream);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await PollOnceAsync(cancellationToken);
                await PublishAsync(cancellationToken);
                await Task.Delay(TimeSpan.FromSeconds(config.PollIntervalSeconds), clock, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One read-count-resolve-spool round; returns how many queries the source gave.</summary>
    public async Task<int> PollOnceAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<ObservedQuery> queries;
        try
        {
            queries = await source.ReadAsync(cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or InvalidDataException or System.Text.Json.JsonException
                                          or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            LogSourceFailed(logger, source.Name, e.Message);
            return 0;
        }
        foreach (var query in queries)
        {
            aggregator.Observe(query);
        }
        var now = clock.GetUtcNow();
        var output = aggregator.Drain(now);
        var targets = new List<DnsResolvedTarget>();
        if (resolver is not null && config.DnsResolution.Enabled && output.ToResolve.Count > 0)
        {
            var keys = new DomainKeys(config.ParsedDomainPolicy, config.Privacy.HmacKey);
            var resolved = new DnsResolvedTarget?[output.ToResolve.Count];
            await Parallel.ForEachAsync(Enumerable.Range(0, resolved.Length),
                new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken }, async (i, ct) =>
                {
                    var domain = output.ToResolve[i];
                    var addresses = await resolver.ResolveAsync(domain.Domain, ct);
                    if (addresses.Count > 0)
                    {
                        resolved[i] = new DnsResolvedTarget(keys.KeyOf(domain.Domain), keys.PolicyName, addresses, now, domain.SuspicionScore);
                    }
                });
            targets.AddRange(resolved.Where(t => t is not null).Select(t => t!));
        }
        // The entries and the position after them in one write: killed before the commit below, the collector
        // takes the position from the spool at start and does not read (and count) these queries again.
        var entries = Entries(output.Aggregates, targets, now).ToList();
        if (await spool.AppendRoundAsync(entries, queries.Count > 0 ? source.PendingPosition : null, cancellationToken) > 0)
        {
            LogSpoolFull(logger, config.Redis.MaxSpoolBytes, spool.Refused);
        }
        if (pauseAfterSpool is not null && entries.Count > 0)
        {
            await PauseForFaultTestAsync(cancellationToken);
        }
        await source.CommitAsync(cancellationToken);
        if (queries.Count > 0 || output.Aggregates.Count > 0)
        {
            LogPoll(logger, queries.Count, aggregator.Counted, string.Join(", ", aggregator.Dropped.Select(d => $"{d.Key}={d.Value}")),
                aggregator.TrackedDomains, aggregator.ReleasedDomains, output.Aggregates.Count, targets.Count, spool.Bytes);
        }
        return queries.Count;
    }

    /// <summary>
    /// At start: a position the spool holds beyond the saved one (the collector stopped between spooling a round and
    /// saving its position) is saved now, before the source opens. Returns the position file replayed, or null.
    /// </summary>
    public static async Task<string?> RestorePositionAsync(HandoffSpool spool, ILogger logger, CancellationToken cancellationToken)
    {
        if (spool.LastPosition() is not { } position)
        {
            return null;
        }
        if (File.Exists(position.File) && await File.ReadAllTextAsync(position.File, cancellationToken) == position.Json)
        {
            return null;
        }
        await SourcePosition<object>.SaveJsonAsync(position.File, position.Json, cancellationToken);
        LogPositionReplayed(logger, position.File);
        return position.File;
    }

    private async Task PauseForFaultTestAsync(CancellationToken cancellationToken)
    {
        await File.WriteAllTextAsync(pauseAfterSpool!, "spooled, position not saved\n", cancellationToken);
        await Task.Delay(Timeout.Infinite, cancellationToken);
    }

    /// <summary>Hands spooled entries to Redis, oldest first; stops at the first failure and keeps the rest.</summary>
    public async Task<int> PublishAsync(CancellationToken cancellationToken)
    {
        if (!redis.IsConnected)
        {
            if (spool.Bytes > 0)
            {
                LogRedisDown(logger, spool.Bytes);
            }
            return 0;
        }
        var db = redis.GetDatabase();
        var sent = 0;
        while (true)
        {
            var batch = await spool.PeekAsync(100, cancellationToken);
            if (batch.Count == 0)
            {
                return sent;
            }
            foreach (var (entry, end) in batch)
            {
                try
                {
                    await DnsStream.AddAsync(db, config.Redis.Stream, entry);
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    LogPublishFailed(logger, e.Message, spool.Bytes);
                    return sent;
                }
                await spool.MarkSentAsync(end, cancellationToken);
                sent++;
                Published++;
            }
        }
    }

    private static IEnumerable<DnsHandoffEntry> Entries(IReadOnlyList<DnsQueryAggregate> aggregates, IReadOnlyList<DnsResolvedTarget> targets, DateTimeOffset now)
    {
        foreach (var chunk in aggregates.Chunk(MaxAggregatesPerEntry))
        {
            yield return new DnsHandoffEntry(Guid.NewGuid(), now, chunk, []);
        }
        foreach (var chunk in targets.Chunk(MaxTargetsPerEntry))
        {
            yield return new DnsHandoffEntry(Guid.NewGuid(), now, [], chunk);
        }
    }

    /// <summary>Builds the source named by the configuration.</summary>
    public static IQuerySource CreateSource(DnsCollectorConfig config, HttpClient http, TimeProvider clock, ILogger logger)
    {
        Directory.CreateDirectory(config.StateDir);
        return config.Source switch
        {
            "logfile" => new QueryLogSource(config.Logfile.Path, Path.Combine(config.StateDir, "logfile.position.json"), clock, logger),
            "pihole" when config.Pihole.ApiVersion == 6 =>
                new PiholeV6Source(http, config.Pihole, Path.Combine(config.StateDir, "pihole6.position.json"), clock, logger),
            "pihole" => new PiholeV5Source(http, config.Pihole, Path.Combine(config.StateDir, "pihole5.position.json"), clock),
            _ => throw new ConfigurationException($"unknown source '{config.Source}'"),
        };
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "DNS collector reading {Source}; domains {Policy}, k={K}, stream {Stream}")]
    private static partial void LogStarted(ILogger logger, string source, string policy, int k, string stream);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading {Source} failed: {Reason}; retrying next poll")]
    private static partial void LogSourceFailed(ILogger logger, string source, string reason);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "The last round was spooled but its source position not saved (the collector stopped in between); saved it now in {File}")]
    private static partial void LogPositionReplayed(ILogger logger, string file);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Spool full ({MaxBytes} bytes): an entry was refused ({Refused} so far)")]
    private static partial void LogSpoolFull(ILogger logger, long maxBytes, long refused);

    [LoggerMessage(Level = LogLevel.Information, Message = "Poll: {Queries} queries; {Counted} counted, dropped [{Dropped}]; {Tracked} domains tracked, {Released} released; {Aggregates} aggregates, {Targets} targets; spool {SpoolBytes} bytes")]
    private static partial void LogPoll(ILogger logger, int queries, long counted, string dropped, int tracked, int released, int aggregates, int targets, long spoolBytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis unreachable; {SpoolBytes} bytes wait in the spool")]
    private static partial void LogRedisDown(ILogger logger, long spoolBytes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Adding to the Redis stream failed: {Reason}; {SpoolBytes} bytes wait in the spool")]
    private static partial void LogPublishFailed(ILogger logger, string reason, long spoolBytes);
}
