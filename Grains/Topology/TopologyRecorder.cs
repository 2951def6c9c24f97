using System.Diagnostics.Metrics;
using System.Threading.Channels;
using CyberWatch.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CyberWatch.Topology;

/// <summary>
/// A stored measurement as the topology needs it: its AS path as extracted once, by whoever stored it with the
/// measurement (the probe pipeline, the enrichment backfill once the hops are mapped, or the topology catch-up from
/// the stored hops). <paramref name="EnrichmentPending"/>: its hops are not mapped to ASes yet (prefix table still
/// loading); the enrichment backfill hands it over again once they are, so it stays in the backlog until then.
/// </summary>
public sealed record TopologyMeasurement(
    long MeasurementId,
    string Target,
    string Vantage,
    DateTimeOffset StartedAt,
    AsPathExtraction Path,
    bool EnrichmentPending = false)
{
    public static TopologyMeasurement From(long measurementId, MeasurementRow row, AsPathExtraction path) =>
        new(measurementId, row.Target.ToString(), row.Vantage, row.StartedAt, path, row.EnrichmentState == "pending");
}

/// <summary>
/// Turns a stored measurement's AS path into topology: tells each crossed <see cref="IAsEdgeGrain"/> (direct or
/// indirect) and each traversed <see cref="IAsnGrain"/>, and records the observed path. It extracts nothing
/// itself, so the graph holds exactly the path stored with the measurement.
/// The probe pipeline calls <see cref="Submit"/> (never blocks, never throws) or awaits
/// <see cref="RecordAsync(TopologyMeasurement, CancellationToken)"/>. The queue is memory only: what a crash or a
/// full queue loses stays in <c>topology_backlog</c>, which this silo's <see cref="TopologyTables"/> clears only
/// once the measurement's rows are stored, and <see cref="TopologyCatchUp"/> replays it.
/// </summary>
public sealed partial class TopologyRecorder : BackgroundService
{
    public const int QueueCapacity = 10_000;

    private readonly IGrainFactory grains;
    private readonly AsGraphIndex index;
    private readonly TopologyFeed feed;
    private readonly TopologyTables tables;
    private readonly TimeProvider clock;
    private readonly TimeSpan catchUpAfter;
    private readonly ILogger<TopologyRecorder> logger;
    private readonly Channel<Queued> queue;
    private readonly Counter<long> recorded;
    private readonly Counter<long> dropped;
    private readonly Counter<long> failed;
    private readonly Counter<long> deferred;

    private sealed record Queued(TopologyMeasurement Measurement, DateTimeOffset At);

    public TopologyRecorder(IGrainFactory grains, AsGraphIndex index, TopologyFeed feed, TopologyTables tables,
        IOptions<TopologyCatchUpOptions> options, ILogger<TopologyRecorder> logger, IMeterFactory meters, TimeProvider? clock = null)
    {
        this.grains = grains;
        this.index = index;
        this.feed = feed;
        this.tables = tables;
        this.clock = clock ?? TimeProvider.System;
        catchUpAfter = options.Value.CatchUpAfter;
        this.logger = logger;
        var meter = meters.Create("CyberWatch.Topology");
        recorded = meter.CreateCounter<long>("cyberwatch.topology.measurements_recorded", description: "measurements whose AS path was recorded");
        dropped = meter.CreateCounter<long>("cyberwatch.topology.measurements_dropped",
            description: "measurements dropped from the full topology queue (the catch-up records them from topology_backlog)");
        failed = meter.CreateCounter<long>("cyberwatch.topology.measurements_failed",
            description: "measurements whose recording failed (grain call errors; the catch-up tries again)");
        deferred = meter.CreateCounter<long>("cyberwatch.topology.measurements_deferred",
            description: "measurements that waited in the queue past the catch-up delay and were left to the catch-up");
        queue = Channel.CreateBounded<Queued>(
            new BoundedChannelOptions(QueueCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            _ => dropped.Add(1));
    }

    /// <summary>
    /// Queues a stored measurement for recording; when the queue is full the oldest waiting one is dropped (counted;
    /// its backlog row remains for the catch-up).
    /// </summary>
    public void Submit(TopologyMeasurement measurement) => queue.Writer.TryWrite(new Queued(measurement, clock.GetUtcNow()));

    /// <summary>
    /// Records the measurement's AS path, edges and ASes; returns what was extracted. Idempotent for a measurement
    /// recorded lately (the grains remember their last ids): a replay rewrites the rows but counts nothing twice.
    /// </summary>
    public async Task<AsPathExtraction> RecordAsync(TopologyMeasurement measurement, CancellationToken cancellationToken)
    {
        var path = measurement.Path;
        if (path.IsEmpty || path.Elements.All(e => e.IsGap))
        {
            MarkRecorded(measurement);
            return path;
        }
        var at = measurement.StartedAt;
        var edgeCalls = path.Edges.Select(e => grains.GetGrain<IAsEdgeGrain>(AsEdgeKey.Format(e.SrcAsn, e.DstAsn))
            .Observe(new AsEdgeObservation(e.SrcAsn, e.DstAsn, e.Ixp, e.RttMs, at, measurement.Vantage, measurement.MeasurementId,
                e.Kind, e.GapHops)));
        // Grouped in order of first appearance: the first call is the path's first AS.
        var asnCalls = path.Elements.Where(e => !e.IsGap).GroupBy(e => e.Asn).Select(g =>
        {
            var first = g.First();
            var observation = new AsnObservation(measurement.MeasurementId, measurement.Vantage, at, first.FirstRttMs,
                path.Edges.Where(e => e.DstAsn == g.Key).Select(e => e.SrcAsn).Distinct().ToArray(),
                path.Edges.Where(e => e.SrcAsn == g.Key).Select(e => e.DstAsn).Distinct().ToArray(),
                g.Select(e => e.Org).FirstOrDefault(o => o is not null), g.Select(e => e.Country).FirstOrDefault(c => c is not null));
            return grains.GetGrain<IAsnGrain>(g.Key).Observe(observation);
        });
        var edgeTask = Task.WhenAll(edgeCalls);
        var asnTask = Task.WhenAll(asnCalls);
        await Task.WhenAll(edgeTask, asnTask).WaitAsync(cancellationToken);
        // The edge grains may live on other silos: this silo's index learns their new statistics now, not at the next poll.
        var edges = await edgeTask;
        index.Apply(edges);
        // The grains' silos write these rows too; written from here as well, they go in the flush that clears this
        // measurement's backlog row, whichever silo dies (rows only move forward: the higher count wins).
        foreach (var edge in edges)
        {
            tables.Upsert(edge);
        }
        var asns = await asnTask;
        foreach (var asn in asns)
        {
            tables.Upsert(asn.Asn);
        }
        var observation = new PathObservation(path.Path, at, measurement.Vantage, measurement.Target, measurement.MeasurementId);
        // A measurement reported twice (a retry, a replay) is counted once: the first AS's grain remembers it.
        if (asns[0].Counted)
        {
            feed.PathObserved(observation);
            recorded.Add(1);
        }
        else
        {
            // Its path row may have been lost with the crash that made this a replay: make sure it exists, count nothing.
            tables.AddPath(observation, counted: false);
        }
        MarkRecorded(measurement);
        return path;
    }

    private void MarkRecorded(TopologyMeasurement measurement)
    {
        if (!measurement.EnrichmentPending)
        {
            tables.MarkRecorded(measurement.MeasurementId);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var (measurement, queuedAt) in queue.Reader.ReadAllAsync(stoppingToken))
            {
                if (clock.GetUtcNow() - queuedAt > catchUpAfter)
                {
                    // The catch-up may be replaying it already: one of the two records it, not both.
                    deferred.Add(1);
                    continue;
                }
                try
                {
                    await RecordAsync(measurement, stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    failed.Add(1);
                    LogRecordFailed(measurement.MeasurementId, measurement.Target, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot record the topology of measurement {MeasurementId} ({Target}): {Error}")]
    private partial void LogRecordFailed(long measurementId, string target, string error);
}
