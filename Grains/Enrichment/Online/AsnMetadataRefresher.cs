using System.Threading.Channels;
using CyberWatch.Topology;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CyberWatch.Enrichment.Online;

/// <summary>
/// Fetches AS metadata off the grains' turns: an <see cref="AsnGrain"/> whose metadata is due asks for it here
/// (<see cref="Request"/> never blocks), a few workers fetch it through the rate-limited sources and hand it
/// back to the grain and to <c>asns</c>. An AS already queued is queued once.
/// </summary>
public sealed partial class AsnMetadataRefresher(
    AsnMetadataFetcher fetcher, AsnMetadataTable table, IGrainFactory grains, OnlineSourceOptions options, EnrichmentCache cache,
    ILogger<AsnMetadataRefresher> logger)
    : BackgroundService
{
    private static readonly TimeSpan PurgeInterval = TimeSpan.FromHours(1);

    private const int Workers = 4;
    private const int MaxQueued = 100_000;

    private readonly Channel<long> queue = Channel.CreateUnbounded<long>();
    private readonly HashSet<long> queued = [];

    public bool Enabled => fetcher.Enabled;

    public TimeSpan Ttl => options.Ttl;

    /// <summary>How long after a request that gave nothing the grain asks again.</summary>
    public TimeSpan RetryAfter => options.Ttl < TimeSpan.FromMinutes(10) ? options.Ttl : TimeSpan.FromMinutes(10);

    /// <summary>Queues the AS; false when disabled, already queued or the queue is full.</summary>
    public bool Request(long asn)
    {
        if (!Enabled)
        {
            return false;
        }
        lock (queued)
        {
            if (queued.Count >= MaxQueued || !queued.Add(asn))
            {
                return false;
            }
        }
        return queue.Writer.TryWrite(asn);
    }

    /// <summary>Fetches and stores one AS now; the metadata, or null when no source answered.</summary>
    public async Task<AsnMetadata?> RefreshAsync(long asn, CancellationToken cancellationToken)
    {
        var metadata = await fetcher.FetchAsync(asn, cancellationToken);
        if (metadata is not null)
        {
            table.Upsert(metadata);
            await grains.GetGrain<IAsnGrain>(asn).ApplyMetadata(metadata);
        }
        return metadata;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => WorkAsync(stoppingToken)).Append(PurgeAsync(stoppingToken)));

    /// <summary>Expired answers are never read; this keeps the cache table from growing without bound.</summary>
    private async Task PurgeAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(PurgeInterval, stoppingToken);
                try
                {
                    LogPurged(await cache.PurgeExpiredAsync(stoppingToken));
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException)
                {
                    LogPurgeFailed(e.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task WorkAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var asn in queue.Reader.ReadAllAsync(stoppingToken))
            {
                try
                {
                    await RefreshAsync(asn, stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogRefreshFailed(asn, e.Message);
                }
                finally
                {
                    lock (queued)
                    {
                        queued.Remove(asn);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Purged {Count} expired online answer(s) from enrichment_cache")]
    private partial void LogPurged(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot purge enrichment_cache: {Error}")]
    private partial void LogPurgeFailed(string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot refresh the metadata of AS{Asn}: {Error}")]
    private partial void LogRefreshFailed(long asn, string error);
}
