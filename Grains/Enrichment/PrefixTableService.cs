using CyberWatch.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CyberWatch.Enrichment;

/// <summary>
/// Holds the node's current prefix table, loaded from <c>CYBERWATCH_PREFIX_DATA</c> at start and
/// reloaded (atomically swapped) when any of the files changes. Lookups never wait for a load.
/// </summary>
public sealed partial class PrefixTableService(CyberWatchOptions options, ILogger<PrefixTableService> logger)
    : BackgroundService, CyberWatch.Topology.Relationships.IBgpPathSource
{
    private static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(5);
    private readonly TaskCompletionSource firstLoad = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile PrefixTable table = PrefixTable.Empty;
    private Dictionary<string, (long Length, DateTime Modified)> loadedVersions = new();

    public IReadOnlyList<string> Files { get; } = options.PrefixData
        .Split([',', ':'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public PrefixTable Table => table;

    /// <summary>Report of the last load, for status and logs.</summary>
    public IReadOnlyList<PrefixLoadReport> LastReports { get; private set; } = [];

    public DateTimeOffset? LoadedAt { get; private set; }

    // The MRT sources' distinct AS_PATHs, kept for AS relationship inference (bounded: BgpAsPathSet).
    private volatile BgpAsPathSet? asPaths;

    public IReadOnlyList<uint[]> BgpPaths() => asPaths?.Snapshot() ?? [];

    public DateTimeOffset? BgpPathsLoadedAt => asPaths is null ? null : LoadedAt;

    /// <summary>Completes after the first load attempt (successful or not).</summary>
    public Task FirstLoad => firstLoad.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (Files.Count == 0)
        {
            LogNoData();
            firstLoad.TrySetResult();
            return;
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            var versions = CurrentVersions();
            if (!versions.SequenceEqual(loadedVersions))
            {
                await LoadAsync(versions, stoppingToken);
            }
            firstLoad.TrySetResult();
            try
            {
                await Task.Delay(CheckInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task LoadAsync(Dictionary<string, (long, DateTime)> versions, CancellationToken cancellationToken)
    {
        var present = Files.Where(File.Exists).ToList();
        foreach (var missing in Files.Except(present))
        {
            LogMissing(missing);
        }
        try
        {
            var load = await PrefixTableLoader.LoadAsync(present, new BgpAsPathSet(), cancellationToken);
            foreach (var report in load.Reports)
            {
                if (report.Error is not null || report.Truncated)
                {
                    LogProblem(report.ToString());
                }
            }
            table = load.Table;
            asPaths = load.AsPaths is { Count: > 0 } ? load.AsPaths : null;
            if (load.AsPaths is { Dropped: > 0 } full)
            {
                LogPathsDropped(full.Capacity, full.Dropped);
            }
            LastReports = load.Reports;
            LoadedAt = DateTimeOffset.UtcNow;
            loadedVersions = versions;
            LogLoaded(load.Table.PrefixCount, present.Count, load.Elapsed.TotalSeconds, load.Table.MemoryBytes / (1024.0 * 1024));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            // Keep answering from the previous table; try again at the next check.
            LogLoadFailed(e.Message);
        }
    }

    private Dictionary<string, (long, DateTime)> CurrentVersions()
    {
        var versions = new Dictionary<string, (long, DateTime)>();
        foreach (var file in Files)
        {
            var info = new FileInfo(file);
            versions[file] = info.Exists ? (info.Length, info.LastWriteTimeUtc) : (-1, DateTime.MinValue);
        }
        return versions;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Prefix table loaded: {Prefixes} prefixes from {Files} file(s) in {Seconds:0.00} s, {MiB:0.0} MiB")]
    private partial void LogLoaded(int prefixes, int files, double seconds, double miB);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Prefix data: kept the first {Capacity} distinct AS_PATHs for AS relationships, {Dropped} more left out")]
    private partial void LogPathsDropped(int capacity, long dropped);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No prefix data configured (CYBERWATCH_PREFIX_DATA): hops get their address class but no origin ASN")]
    private partial void LogNoData();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Prefix data file {File} does not exist")]
    private partial void LogMissing(string file);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Prefix data: {Report}")]
    private partial void LogProblem(string report);

    [LoggerMessage(Level = LogLevel.Error, Message = "Prefix data could not be loaded ({Error}); keeping the previous table")]
    private partial void LogLoadFailed(string error);
}
