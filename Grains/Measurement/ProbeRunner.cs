using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using CyberWatch.Configuration;
using CyberWatch.Measurement.Scamper;
using CyberWatch.Storage;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace CyberWatch.Measurement;

/// <summary>
/// The silo's probe pipeline: queue (fairness, rate limit) → scamper (or traceroute when scamper is not
/// installed) → parse → store → tell the target grain. Malformed output becomes a failed measurement
/// with the reason and the raw output kept; it never throws away a probe.
/// </summary>
public sealed partial class ProbeRunner
{
    private readonly ProbeScheduler scheduler;
    private readonly ScamperEngine scamper;
    private readonly TracerouteFallback traceroute;
    private readonly MeasurementWriter writer;
    private readonly ProbeResultMapper mapper;
    private readonly CyberWatch.Enrichment.HopEnricher enricher;
    private readonly CyberWatch.Topology.AsPathExtractor extractor;
    private readonly CyberWatch.Topology.TopologyRecorder topology;
    private readonly IGrainFactory grains;
    private readonly RemeasurementSchedule schedule;
    private readonly TargetPolicy policy;
    private readonly SettingsMonitor settings;
    private readonly TimeProvider clock;
    private readonly ILogger<ProbeRunner> logger;
    private readonly Counter<long> started;
    private readonly Counter<long> completed;
    private readonly Counter<long> failed;
    private readonly Histogram<double> duration;
    private readonly CyberWatch.Observability.PipelineStages stages;
    private readonly ResiliencePipeline toTarget;

    public ProbeRunner(ProbeScheduler scheduler, ScamperEngine scamper, TracerouteFallback traceroute, MeasurementWriter writer,
        ProbeResultMapper mapper, CyberWatch.Enrichment.HopEnricher enricher, CyberWatch.Topology.AsPathExtractor extractor,
        CyberWatch.Topology.TopologyRecorder topology, IGrainFactory grains, RemeasurementSchedule schedule, TargetPolicy policy,
        SettingsMonitor settings, TimeProvider clock, ILogger<ProbeRunner> logger, IMeterFactory meters,
        CyberWatch.Observability.PipelineStages stages)
    {
        this.stages = stages;
        // Several vantages report one target at once (the first wave, an on-demand "from all"): each report ends
        // with the grain deactivating when idle, and a report that arrives while it does is forwarded to a new
        // activation; once the forwards run out, Orleans rejects it unexecuted. Sent again it lands on a live
        // activation, and OnMeasured ignores a measurement it already has, so a retry is safe.
        toTarget = new ResiliencePipelineBuilder { TimeProvider = clock }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Orleans.Runtime.OrleansMessageRejectionException>(),
                MaxRetryAttempts = 4,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(50),
            })
            .Build();
        this.scheduler = scheduler;
        this.scamper = scamper;
        this.traceroute = traceroute;
        this.writer = writer;
        this.mapper = mapper;
        this.enricher = enricher;
        this.extractor = extractor;
        this.topology = topology;
        this.grains = grains;
        this.schedule = schedule;
        this.policy = policy;
        this.settings = settings;
        this.clock = clock;
        this.logger = logger;
        var meter = meters.Create("CyberWatch.Probing");
        started = meter.CreateCounter<long>("cyberwatch.probe.started", description: "probes started, by method");
        completed = meter.CreateCounter<long>("cyberwatch.probe.completed", description: "probes stored as successful measurements, by method");
        failed = meter.CreateCounter<long>("cyberwatch.probe.failed", description: "probes that failed (stored as failed measurements or not stored), by method");
        duration = meter.CreateHistogram<double>("cyberwatch.probe.duration", "s", "time from sending the probe command to its result");
    }

    private long finished;

    /// <summary>Probes finished (stored or failed) since the silo started.</summary>
    public long Finished => Interlocked.Read(ref finished);

    /// <summary>Queues a scheduled probe; its result reaches the target grain.</summary>
    public void Submit(ProbeRequest request) => _ = RunScheduledAsync(request);

    /// <summary>Runs an on-demand probe ahead of scheduled ones and returns the stored measurement.</summary>
    public Task<MeasurementSummary> RunAsync(ProbeRequest request, CancellationToken cancellationToken) =>
        RunAndReportAsync(request, ProbePriority.OnDemand, cancellationToken);

    private async Task RunScheduledAsync(ProbeRequest request)
    {
        try
        {
            await RunAndReportAsync(request, ProbePriority.Scheduled, CancellationToken.None);
        }
        catch (Exception e)
        {
            // The schedule's lease on the pair runs out and it is taken again.
            LogScheduledFailed(request.Target, e.Message);
        }
    }

    private async Task<MeasurementSummary> RunAndReportAsync(ProbeRequest request, ProbePriority priority, CancellationToken cancellationToken)
    {
        var verdict = policy.Check(request.Target);
        if (!verdict.Accepted)
        {
            // Whoever asked (API, schedule, a tool calling the grain), no packet leaves for what the policy refuses.
            throw new ArgumentException($"not probed: {verdict.Reason}");
        }
        var target = IPAddress.Parse(verdict.Address!);
        var at = Stopwatch.GetTimestamp();
        var row = await scheduler.ScheduleAsync(target, priority, ct =>
        {
            at = stages.Record("queue", at);
            return ProbeAsync(target, request.Method, request.Tool, ct);
        }, cancellationToken);
        stages.Record("probe", at);
        Interlocked.Increment(ref finished);
        return await StoreAsync(request, row, cancellationToken);
    }

    /// <summary>
    /// What happens to a probe's result, wherever it was probed (this silo, or a remote agent of another vantage):
    /// enrich, store, AS edges, the pair's next due time, the target grain's history. A remote agent's result it
    /// had delivered before throws <see cref="DuplicateDeliveryException"/> and changes nothing.
    /// </summary>
    public async Task<MeasurementSummary> StoreAsync(ProbeRequest request, MeasurementRow probed, CancellationToken cancellationToken)
    {
        var at = Stopwatch.GetTimestamp();
        var row = enricher.Enrich(probed);
        at = stages.Record("enrich", at);
        // The measurement's AS path, computed once: stored with it, recorded into the graph, compared by the target.
        var path = row.Success && row.Hops.Count > 0
            ? extractor.Extract(row.Hops.Select(CyberWatch.Topology.PathHop.From))
            : CyberWatch.Topology.AsPathExtraction.Empty;
        if (row.Success && row.Hops.Count > 0)
        {
            row = row with { AsPath = path.Text };
        }
        var tags = new TagList { { "method", request.Method.ToWire() }, { "vantage", row.Vantage } };
        (row.Success ? completed : failed).Add(1, tags);
        long id;
        try
        {
            id = await writer.WriteAsync(row, cancellationToken);
        }
        catch (StorageUnavailableException)
        {
            if (row.Success)
            {
                failed.Add(1, tags);
            }
            throw;
        }
        at = stages.Record("store", at);
        if (MeasurementWriter.ImpliesTopology(row))
        {
            topology.Submit(CyberWatch.Topology.TopologyMeasurement.From(id, row, path));
        }
        // Gaps dropped: a step seen indirectly once and directly the next time is no AS-path change.
        var asPath = CyberWatch.Topology.AsPathText.Asns(path.Path);
        var summary = new MeasurementSummary(id, request.Target, row.Method, row.Success, row.StartedAt, row.HopCount ?? 0,
            row.DestRttMs, row.StopReason, row.FailureReason, IpPath(row), asPath, row.Vantage);
        at = stages.Record("path", at);
        try
        {
            // The target's history first: a reader that sees the pair's new last measurement then also sees its
            // paths (the other order showed a measurement id with an empty AS path for a moment).
            await toTarget.ExecuteAsync(
                async _ => await grains.GetGrain<ITargetGrain>(request.Target).OnMeasured(summary), CancellationToken.None);
        }
        finally
        {
            at = stages.Record("target", at);
            await CompleteAsync(row.Target, row.Vantage, id, row.StartedAt);
            stages.Record("schedule", at);
        }
        var seconds = row.CompletedAt is { } completedAt ? Math.Round((completedAt - row.StartedAt).TotalSeconds, 3) : (double?)null;
        LogMeasured(request.Target, request.Method.ToWire(), id, row.Success ? "success" : "failed", seconds, row.HopCount ?? 0);
        return summary;
    }

    /// <summary>
    /// The (target, vantage) pair is due an interval after this measurement. Should this fail, the pair's lease
    /// runs out and it is measured again then: once more, never lost.
    /// </summary>
    private async Task CompleteAsync(IPAddress target, string vantage, long id, DateTimeOffset startedAt)
    {
        try
        {
            await schedule.CompleteAsync(target, vantage, id, startedAt, CancellationToken.None);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
        {
            LogCompleteFailed(target.ToString(), vantage, e.Message);
        }
    }

    private async Task<MeasurementRow> ProbeAsync(IPAddress target, ProbeMethod method, ProbeTool tool, CancellationToken cancellationToken)
    {
        var worker = settings.Current.Worker;
        var startedAt = clock.GetUtcNow();
        var timer = Stopwatch.StartNew();
        var tags = new TagList { { "method", method.ToWire() }, { "vantage", mapper.Vantage } };
        started.Add(1, tags);
        try
        {
            if (tool == ProbeTool.Mtr)
            {
                var json = await traceroute.RunMtrAsync(target, TraceOptions(method, worker) with { AttemptsPerHop = 5 }, cancellationToken);
                return mapper.FromMtr(json, target, method, startedAt);
            }
            if (scamper.Installed)
            {
                var command = method == ProbeMethod.Ping
                    ? ScamperCommand.Ping(target, new PingProbeOptions { Count = 5 })
                    : ScamperCommand.Trace(target, TraceOptions(method, worker));
                var raw = await scamper.RunAsync(command, TimeSpan.FromSeconds(30), cancellationToken);
                return mapper.FromScamper(raw, target, method, startedAt);
            }
            var text = await traceroute.RunAsync(target, TraceOptions(method, worker), cancellationToken);
            return mapper.FromTraceroute(text, target, method, startedAt);
        }
        catch (ScamperCommandException e)
        {
            return mapper.Failed(target, method, startedAt, "scamper", e.Message);
        }
        catch (ScamperDeadlineException e)
        {
            // Twice past its deadline on a scamper that still answers heartbeats: stored as failed, not retried forever.
            return mapper.Failed(target, method, startedAt, "scamper", e.Message);
        }
        catch (ProbeToolException e)
        {
            return mapper.Failed(target, method, startedAt, tool == ProbeTool.Mtr ? "mtr" : "traceroute", e.Message);
        }
        finally
        {
            duration.Record(timer.Elapsed.TotalSeconds, tags);
        }
    }

    /// <summary>How a trace is run under <paramref name="worker"/> settings, by a silo or a remote agent alike.</summary>
    public static TraceProbeOptions TraceOptions(ProbeMethod method, WorkerSettings worker) => new()
    {
        Method = method,
        AttemptsPerHop = Math.Clamp(worker.ProbeAttempts, 1, 10),
        WaitSeconds = 2,
        MaxTtl = Math.Clamp(worker.MaxTtl, 1, 255),
        GapLimit = 5,
    };

    /// <summary>The IP path, one entry per TTL (the first reply; null for a silent TTL).</summary>
    private static IReadOnlyList<string?> IpPath(MeasurementRow row)
    {
        var path = new List<string?>();
        foreach (var hop in row.Hops)
        {
            if (hop.ReplyIndex == 0)
            {
                while (path.Count < hop.Ttl - 1)
                {
                    path.Add(null);
                }
                path.Add(hop.Address?.ToString());
            }
        }
        return path;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Measured {Target} ({Method}): measurement {MeasurementId}, {Outcome} in {Duration} s, {Hops} hops")]
    private partial void LogMeasured(string target, string method, long measurementId, string outcome, double? duration, int hops);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Next due time of {Target} from {Vantage} not set ({Error}); it is measured again when its lease runs out")]
    private partial void LogCompleteFailed(string target, string vantage, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Scheduled probe of {Target} failed: {Error}")]
    private partial void LogScheduledFailed(string target, string error);
}
