using Orleans.Concurrency;

namespace CyberWatch.Measurement;

/// <summary>
/// One shard of the remeasurement schedule (key: shard number). Every few seconds, and on its Orleans
/// reminder, it hands the targets of its shard that are due to this silo's probe workers.
/// </summary>
public interface IRemeasurementScheduleGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Registers the shard's reminder (idempotent); the silo calls it for every shard at start. It may
    /// wait for the reminder service of a starting silo, and the shard's ticks go on meanwhile.
    /// </summary>
    [AlwaysInterleave]
    Task Start();

    /// <summary>Hands what is due now to the probe workers, as a tick does, and says what it did.</summary>
    Task<ScheduleRound> DispatchDue();
}

/// <summary>One round of a schedule shard: targets handed to the probe queue and how late the most overdue was.</summary>
[GenerateSerializer, Immutable]
public sealed record ScheduleRound(
    [property: Id(0)] int Dispatched,
    [property: Id(1)] double MaxLatenessSeconds,
    [property: Id(2)] string? Skipped);
