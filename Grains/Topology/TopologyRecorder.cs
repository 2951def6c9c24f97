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

    /// <summary>Most measurements recorded together (one grain call per edge and AS they touch).</summary>
    public const int MaxBatch = 256;

    private readonly IGrainFactory grains;
    private readonly AsGraphIndex index;
    private readonly TopologyFeed feed;
    private readonly TopologyTables tables;
    private readonly TimeProvider clock;
    private readonly TimeSpan catchUpAfter;
    private readonly ILogger<TopologyRecorder> logger;
    private readonly Channel<Queued> queue;
    private readonly CyberWatch.Observability.PipelineStages stages;
    private long pending;
    private readonly Counter<long> recorded;
    private readonly Counter<long> dropped;
    private readonly Counter<long> failed;
    private readonly Counter<long> deferred;

    /// <param name="At">When it was queued, by the clock the catch-up reads (deferral).</param>
    /// <param name="QueuedAt">Stopwatch timestamp, for the pipeline stage figures.</param>
    private sealed record Queued(TopologyMeasurement Measurement, DateTimeOffset At, long QueuedAt);

    public TopologyRecorder(IGrainFactory grains, AsGraphIndex index, TopologyFeed feed, TopologyTables tables,
        IOptions<TopologyCatchUpOptions> options, ILogger<TopologyRecorder> logger, IMeterFactory meters,
        CyberWatch.Observability.PipelineStages stages, TimeProvider? clock = null)
    {
        this.grains = grains;
        this.index = index;
        this.feed = feed;
        this.tables = tables;
        this.stages = stages;
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
        meter.CreateObservableGauge("cyberwatch.topology.pending", () => Interlocked.Read(ref pending),
            description: "stored measurements queued for or being recorded into the topology");
        queue = Channel.CreateBounded<Queued>(
            new BoundedChannelOptions(QueueCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            _ =>
            {
                Interlocked.Decrement(ref pending);
                dropped.Add(1);
            });
    }

    /// <summary>
    /// Queues a stored measurement for recording; when the queue is full the oldest waiting one is dropped (counted;
    /// its backlog row remains for the catch-up).
    /// </summary>
    public void Submit(TopologyMeasurement measurement)
    {
        Interlocked.Increment(ref pending);
        if (!queue.Writer.TryWrite(new Queued(measurement, clock.GetUtcNow(), System.Diagnostics.Stopwatch.GetTimestamp())))
        {
            // Only once the recorder stopped: nothing will take it (its backlog row stays for the catch-up).
            Interlocked.Decrement(ref pending);
        }
    }

    /// <summary>
    /// Records the measurement's AS path, edges and ASes; returns its path. Idempotent for a measurement recorded
    /// lately (the grains remember their last ids): a replay rewrites the rows but counts nothing twice.
    /// </summary>
    public async Task<AsPathExtraction> RecordAsync(TopologyMeasurement measurement, CancellationToken cancellationToken) =>
        (await RecordAsync([measurement], cancellationToken))[0];

    /// <summary>
    /// Records several measurements with one call, and so one state write, per AS edge and per AS they touch: the
    /// vantage's own AS and its upstreams are in nearly every path, and written once per measurement they were the
    /// node's slowest stage. Returns each one's path, in order.
    /// </summary>
    public async Task<AsPathExtraction[]> RecordAsync(IReadOnlyList<TopologyMeasurement> measurements, CancellationToken cancellationToken)
    {
        var paths = new AsPathExtraction[measurements.Count];
        var edges = new Dictionary<(long Src, long Dst), List<AsEdgeObservation>>();
        // Per AS: its observations, and which measurement each belongs to and whether the AS is that path's first.
        var ases = new Dictionary<long, (List<AsnObservation> Observations, List<(int Measurement, bool First)> Owners)>();
        for (var m = 0; m < measurements.Count; m++)
        {
            var measurement = measurements[m];
            var path = paths[m] = measurement.Path;
            if (path.IsEmpty || path.Elements.All(e => e.IsGap))
            {
                continue;
            }
            var at = measurement.StartedAt;
            foreach (var e in path.Edges)
            {
                if (!edges.TryGetValue((e.SrcAsn, e.DstAsn), out var list))
                {
                    edges[(e.SrcAsn, e.DstAsn)] = list = [];
                }
                list.Add(new AsEdgeObservation(e.SrcAsn, e.DstAsn, e.Ixp, e.RttMs, at, measurement.Vantage, measurement.MeasurementId,
                    e.Kind, e.GapHops));
            }
            // Grouped in order of first appearance: the first group is the path's first AS.
            var first = true;
            foreach (var g in path.Elements.Where(e => !e.IsGap).GroupBy(e => e.Asn))
            {
                var head = g.First();
                var observation = new AsnObservation(measurement.MeasurementId, measurement.Vantage, at, head.FirstRttMs,
                    path.Edges.Where(e => e.DstAsn == g.Key).Select(e => e.SrcAsn).Distinct().ToArray(),
                    path.Edges.Where(e => e.SrcAsn == g.Key).Select(e => e.DstAsn).Distinct().ToArray(),
                    g.Select(e => e.Org).FirstOrDefault(o => o is not null), g.Select(e => e.Country).FirstOrDefault(c => c is not null));
                if (!ases.TryGetValue(g.Key, out var entry))
                {
                    ases[g.Key] = entry = ([], []);
                }
                entry.Observations.Add(observation);
                entry.Owners.Add((m, first));
                first = false;
            }
        }
        var edgeTask = Task.WhenAll(edges.Select(e => grains.GetGrain<IAsEdgeGrain>(AsEdgeKey.Format(e.Key.Src, e.Key.Dst)).ObserveAll(e.Value)));
        var asnCalls = ases.Select(a => (a.Value.Owners, Result: grains.GetGrain<IAsnGrain>(a.Key).ObserveAll(a.Value.Observations))).ToList();
        await Task.WhenAll(edgeTask, Task.WhenAll(asnCalls.Select(c => c.Result))).WaitAsync(cancellationToken);
        // The edge grains may live on other silos: this silo's index learns their new statistics now, not at the next poll.
        var edgeStats = await edgeTask;
        index.Apply(edgeStats);
        // The grains' silos write these rows too; written from here as well, they go in the flush that clears these
        // measurements' backlog rows, whichever silo dies (rows only move forward: the higher count wins).
        foreach (var edge in edgeStats)
        {
            tables.Upsert(edge);
        }
        // A measurement reported twice (a retry, a replay) is counted once: the first AS's grain of its path remembers it.
        var counted = new bool[measurements.Count];
        foreach (var (owners, call) in asnCalls)
        {
            var result = await call;
            tables.Upsert(result.Asn);
            for (var i = 0; i < owners.Count; i++)
            {
                if (owners[i].First)
                {
                    counted[owners[i].Measurement] = result.Counted[i];
                }
            }
        }
        for (var m = 0; m < measurements.Count; m++)
        {
            var measurement = measurements[m];
            if (!paths[m].IsEmpty && !paths[m].Elements.All(e => e.IsGap))
            {
                var observation = new PathObservation(paths[m].Path, measurement.StartedAt, measurement.Vantage, measurement.Target,
                    measurement.MeasurementId);
                if (counted[m])
                {
                    feed.PathObserved(observation);
                    recorded.Add(1);
                }
                else
                {
                    // Its path row may have been lost with the crash that made this a replay: make sure it exists, count nothing.
                    tables.AddPath(observation, counted: false);
                }
            }
            if (!measurement.EnrichmentPending)
            {
                tables.MarkRecorded(measurement.MeasurementId);
            }
        }
        return paths;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<TopologyMeasurement>(MaxBatch);
        try
        {
            while (await queue.Reader.WaitToReadAsync(stoppingToken))
            {
                // What queued up while the last batch was recorded goes together: batches grow with the load.
                var at = System.Diagnostics.Stopwatch.GetTimestamp();
                batch.Clear();
                var taken = 0;
                while (taken < MaxBatch && queue.Reader.TryRead(out var item))
                {
                    taken++;
                    stages.Record("topology_wait", item.QueuedAt);
                    if (clock.GetUtcNow() - item.At > catchUpAfter)
                    {
                        // The catch-up may be replaying it already: one of the two records it, not both.
                        deferred.Add(1);
                        continue;
                    }
                    batch.Add(item.Measurement);
                }
                try
                {
                    if (batch.Count > 0)
                    {
                        await RecordAsync(batch, stoppingToken);
                        foreach (var _ in batch)
                        {
                            stages.Record("topology", at);
                        }
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // Their backlog rows stay: the catch-up records them.
                    failed.Add(batch.Count);
                    LogRecordFailed(batch.Count, batch[0].MeasurementId, batch[^1].MeasurementId, e.Message);
                }
                finally
                {
                    Interlocked.Add(ref pending, -taken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cannot record the topology of {Count} measurement(s) ({FirstMeasurementId}..{LastMeasurementId}): {Error}")]
    private partial void LogRecordFailed(int count, long firstMeasurementId, long lastMeasurementId, string error);
}
