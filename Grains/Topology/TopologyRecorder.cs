using System.Diagnostics.Metrics;
using System.Threading.Channels;
using CyberWatch.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CyberWatch.Topology;

/// <summary>A stored measurement as the topology needs it.</summary>
public sealed record TopologyMeasurement(
    long MeasurementId,
    string Target,
    string Vantage,
    DateTimeOffset StartedAt,
    IReadOnlyList<PathHop> Hops)
{
    public static TopologyMeasurement From(long measurementId, MeasurementRow row) =>
        new(measurementId, row.Target.ToString(), row.Vantage, row.StartedAt, row.Hops.Select(PathHop.From).ToArray());
}

/// <summary>
/// Turns a stored measurement's hops into topology: extracts the AS path, tells each crossed
/// <see cref="IAsEdgeGrain"/> and each traversed <see cref="IAsnGrain"/>, and records the observed path.
/// The probe pipeline calls <see cref="Submit"/> (never blocks, never throws) or awaits
/// <see cref="RecordAsync(TopologyMeasurement, CancellationToken)"/>.
/// </summary>
public sealed partial class TopologyRecorder : BackgroundService
{
    public const int QueueCapacity = 10_000;

    /// <summary>Most measurements recorded together (one grain call per edge and AS they touch).</summary>
    public const int MaxBatch = 256;

    private readonly IGrainFactory grains;
    private readonly AsPathExtractor extractor;
    private readonly AsGraphIndex index;
    private readonly TopologyFeed feed;
    private readonly ILogger<TopologyRecorder> logger;
    private readonly Channel<(TopologyMeasurement Measurement, long QueuedAt)> queue;
    private readonly CyberWatch.Observability.PipelineStages stages;
    private long pending;
    private readonly Counter<long> recorded;
    private readonly Counter<long> dropped;
    private readonly Counter<long> failed;

    public TopologyRecorder(IGrainFactory grains, AsPathExtractor extractor, AsGraphIndex index, TopologyFeed feed,
        ILogger<TopologyRecorder> logger, IMeterFactory meters, CyberWatch.Observability.PipelineStages stages)
    {
        this.stages = stages;
        this.grains = grains;
        this.extractor = extractor;
        this.index = index;
        this.feed = feed;
        this.logger = logger;
        var meter = meters.Create("CyberWatch.Topology");
        recorded = meter.CreateCounter<long>("cyberwatch.topology.measurements_recorded", description: "measurements whose AS path was recorded");
        dropped = meter.CreateCounter<long>("cyberwatch.topology.measurements_dropped", description: "measurements dropped because the topology queue was full");
        failed = meter.CreateCounter<long>("cyberwatch.topology.measurements_failed", description: "measurements whose recording failed (grain call errors)");
        meter.CreateObservableGauge("cyberwatch.topology.pending", () => Interlocked.Read(ref pending),
            description: "stored measurements queued for or being recorded into the topology");
        queue = Channel.CreateBounded<(TopologyMeasurement, long)>(
            new BoundedChannelOptions(QueueCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            _ =>
            {
                Interlocked.Decrement(ref pending);
                dropped.Add(1);
            });
    }

    /// <summary>Queues a stored measurement for recording; when the queue is full the oldest waiting one is dropped (counted).</summary>
    public void Submit(long measurementId, MeasurementRow row) => Submit(TopologyMeasurement.From(measurementId, row));

    public void Submit(TopologyMeasurement measurement)
    {
        Interlocked.Increment(ref pending);
        if (!queue.Writer.TryWrite((measurement, System.Diagnostics.Stopwatch.GetTimestamp())))
        {
            // Only once the recorder stopped: nothing will take it.
            Interlocked.Decrement(ref pending);
        }
    }

    public Task<AsPathExtraction> RecordAsync(long measurementId, MeasurementRow row, CancellationToken cancellationToken) =>
        RecordAsync(TopologyMeasurement.From(measurementId, row), cancellationToken);

    /// <summary>Records the measurement's AS path, edges and ASes; returns what was extracted.</summary>
    public async Task<AsPathExtraction> RecordAsync(TopologyMeasurement measurement, CancellationToken cancellationToken) =>
        (await RecordAsync([measurement], cancellationToken))[0];

    /// <summary>
    /// Records several measurements with one call, and so one state write, per AS edge and per AS they touch: the
    /// vantage's own AS and its upstreams are in nearly every path, and written once per measurement they were the
    /// node's slowest stage. Returns what was extracted from each, in order.
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
            var path = paths[m] = extractor.Extract(measurement.Hops);
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
                list.Add(new AsEdgeObservation(e.SrcAsn, e.DstAsn, e.Ixp, e.RttMs, at, measurement.Vantage, measurement.MeasurementId));
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
        var asnCalls = ases.Select(a => (a.Value.Owners, Counted: grains.GetGrain<IAsnGrain>(a.Key).ObserveAll(a.Value.Observations))).ToList();
        await Task.WhenAll(edgeTask, Task.WhenAll(asnCalls.Select(c => c.Counted))).WaitAsync(cancellationToken);
        // The edge grains may live on other silos: this silo's index learns their new statistics now, not at the next poll.
        index.Apply(await edgeTask);
        // A measurement reported twice (a retry) is counted once: the first AS's grain of its path remembers it.
        var counted = new bool[measurements.Count];
        foreach (var (owners, result) in asnCalls)
        {
            var flags = await result;
            for (var i = 0; i < owners.Count; i++)
            {
                if (owners[i].First)
                {
                    counted[owners[i].Measurement] = flags[i];
                }
            }
        }
        for (var m = 0; m < measurements.Count; m++)
        {
            if (counted[m])
            {
                var measurement = measurements[m];
                feed.PathObserved(new PathObservation(paths[m].Path, measurement.StartedAt, measurement.Vantage, measurement.Target,
                    measurement.MeasurementId));
                recorded.Add(1);
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
                while (batch.Count < MaxBatch && queue.Reader.TryRead(out var item))
                {
                    stages.Record("topology_wait", item.QueuedAt);
                    batch.Add(item.Measurement);
                }
                try
                {
                    await RecordAsync(batch, stoppingToken);
                    foreach (var _ in batch)
                    {
                        stages.Record("topology", at);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    failed.Add(batch.Count);
                    LogRecordFailed(batch.Count, batch[0].MeasurementId, batch[^1].MeasurementId, e.Message);
                }
                finally
                {
                    Interlocked.Add(ref pending, -batch.Count);
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
