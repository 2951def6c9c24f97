using System.Diagnostics.Metrics;

namespace CyberWatch.Measurement;

/// <summary>How late the remeasurement schedule hands targets to the probe queue, per silo.</summary>
public sealed class RemeasurementMetrics
{
    public RemeasurementMetrics(IMeterFactory meters)
    {
        var meter = meters.Create("CyberWatch.Measurement");
        Lateness = meter.CreateHistogram<double>("cyberwatch.remeasurement.lateness", "s",
            "how long after its due time a target was handed to the probe queue",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600] });
        Dispatched = meter.CreateCounter<long>("cyberwatch.remeasurement.dispatched", description: "targets handed to the probe queue by the schedule");
    }

    public Histogram<double> Lateness { get; }

    public Counter<long> Dispatched { get; }
}
