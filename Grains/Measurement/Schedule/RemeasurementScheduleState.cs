namespace CyberWatch.Measurement;

/// <summary>Persistent state of a <see cref="RemeasurementScheduleGrain"/>: the interval its rows were last aligned to.</summary>
[GenerateSerializer]
public sealed class RemeasurementScheduleState
{
    [Id(0)] public double? IntervalSeconds { get; set; }
}
