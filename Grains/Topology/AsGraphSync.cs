using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CyberWatch.Topology;

/// <summary>
/// Keeps this silo's <see cref="AsGraphIndex"/> current with what every silo's grains wrote: loads
/// <c>as_edges</c> and <c>as_paths</c> whole at start, then every <see cref="PollInterval"/> reads the rows
/// changed since the last poll. Staleness for a change made on another silo: its table writer's flush
/// (≤ 250 ms) + this poll (≤ 2 s) + the index's rebuild for a new edge (≤ 200 ms); changes made by grains
/// on this silo are applied at once through <see cref="TopologyFeed"/>.
/// </summary>
public sealed partial class AsGraphSync(TopologyQueries queries, AsGraphIndex index, ILogger<AsGraphSync> logger) : BackgroundService
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(2);

    // Rows are stamped with their transaction's start time and commit a little later; re-reading a window
    // behind the newest stamp seen catches rows that committed after a poll passed their stamp.
    private static readonly TimeSpan Overlap = TimeSpan.FromSeconds(30);

    private DateTimeOffset? edgeMark;
    private DateTimeOffset? pathMark;

    /// <summary>One round: a full load the first time, then the changes since the previous round.</summary>
    public async Task SyncOnceAsync(CancellationToken cancellationToken)
    {
        var edges = new List<AsEdgeStats>();
        var newest = edgeMark;
        await foreach (var (edge, updatedAt) in queries.EdgesAsync(edgeMark - Overlap, cancellationToken))
        {
            edges.Add(edge);
            newest = newest is { } n && n >= updatedAt ? n : updatedAt;
        }
        var newestPath = pathMark;
        var paths = new List<AsPathRow>();
        await foreach (var path in queries.PathsAsync(pathMark - Overlap, cancellationToken))
        {
            paths.Add(path);
            newestPath = newestPath is { } n && n >= path.UpdatedAt ? n : path.UpdatedAt;
        }
        index.Apply(edges);
        foreach (var path in paths)
        {
            index.ApplyPath(path.Path, path.ObservedCount, path.FirstSeen, path.LastSeen, path.Vantages, increment: false);
        }
        if (!index.Loaded)
        {
            index.RebuildNow();
            index.Loaded = true;
            LogLoaded(edges.Count, paths.Count);
        }
        (edgeMark, pathMark) = (newest, newestPath);
        index.MarkRefreshed();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await SyncOnceAsync(stoppingToken);
                failures = 0;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                failures++;
                LogSyncFailed(e.Message);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            try
            {
                await Task.Delay(failures == 0 ? PollInterval : TimeSpan.FromSeconds(Math.Min(30, 2 << Math.Min(failures, 4))), stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "AS graph index loaded: {Edges} edges, {Paths} observed paths")]
    private partial void LogLoaded(int edges, int paths);

    [LoggerMessage(Level = LogLevel.Warning, Message = "AS graph index cannot read the topology tables ({Error}); answering from what it has and retrying")]
    private partial void LogSyncFailed(string error);
}
