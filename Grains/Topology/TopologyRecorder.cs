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
    public async Task<AsPathExtraction> RecordAsync(TopologyMeasurement measurement, CancellationToken cancellationToken)
    {
        var path = extractor.Extract(measurement.Hops);
        if (path.IsEmpty || path.Elements.All(e => e.IsGap))
        {
            return path;
        }
        var at = measurement.StartedAt;
        var edgeCalls = path.Edges.Select(e => grains.GetGrain<IAsEdgeGrain>(AsEdgeKey.Format(e.SrcAsn, e.DstAsn))
            .Observe(new AsEdgeObservation(e.SrcAsn, e.DstAsn, e.Ixp, e.RttMs, at, measurement.Vantage, measurement.MeasurementId)));
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
        index.Apply(await edgeTask);
        // A measurement reported twice (a retry) is counted once: the first AS's grain remembers it.
        if (!(await asnTask)[0].Counted)
        {
            return path;
        }
        feed.PathObserved(new PathObservation(path.Path, at, measurement.Vantage, measurement.Target, measurement.MeasurementId));
        recorded.Add(1);
        return path;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var (measurement, queuedAt) in queue.Reader.ReadAllAsync(stoppingToken))
            {
                var at = stages.Record("topology_wait", queuedAt);
                try
                {
                    await RecordAsync(measurement, stoppingToken);
                    stages.Record("topology", at);
                }
                catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    failed.Add(1);
                    LogRecordFailed(measurement.MeasurementId, measurement.Target, e.Message);
                }
                finally
                {
                    Interlocked.Decrement(ref pending);
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
