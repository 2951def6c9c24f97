using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace CyberWatch.Observability;

/// <summary>
/// How long each stage of a probe's way through the silo takes, one histogram with a <c>stage</c> tag
/// (<c>cyberwatch.probe.stage_duration</c>): queue (waiting for the rate limit and a concurrency slot),
/// probe (scamper), enrich, store (batched COPY), schedule (the pair's next due time), target (the target
/// grain's path history), topology_wait and topology (AS edge and ASN grains). Summed per stage it says
/// where a trace's time goes; one instrument for the probe pipeline and the topology recorder, which
/// reports what it still holds (<c>cyberwatch.topology.pending</c>) so a run can tell when everything is recorded.
/// </summary>
public sealed class PipelineStages
{
    private readonly Histogram<double> duration;

    public PipelineStages(IMeterFactory meters)
    {
        duration = meters.Create("CyberWatch.Probing").CreateHistogram<double>("cyberwatch.probe.stage_duration", "s",
            "time a probe spent in each stage of the silo's pipeline, by stage");
    }

    /// <summary>Records the time since <paramref name="startedTimestamp"/> (a <see cref="Stopwatch"/> timestamp) and returns now.</summary>
    public long Record(string stage, long startedTimestamp)
    {
        var now = Stopwatch.GetTimestamp();
        duration.Record(Stopwatch.GetElapsedTime(startedTimestamp, now).TotalSeconds, new KeyValuePair<string, object?>("stage", stage));
        return now;
    }
}
