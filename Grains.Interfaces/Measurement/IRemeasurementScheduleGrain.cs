using Orleans.Concurrency;

namespace CyberWatch.Measurement;

/// <summary>
/// One shard of one vantage point's remeasurement schedule (key: "{vantage}/{shard}"), placed on a silo of
/// that vantage. Every few seconds, and on its Orleans reminder, it hands the (target, vantage) pairs of
/// its shard that are due to that silo's probe workers.
/// </summary>
public interface IRemeasurementScheduleGrain : IGrainWithStringKey
{
    /// <summary>
    /// Registers the shard's reminder (idempotent); a silo calls it for every shard of its vantage at start.
    /// It may wait for the reminder service of a starting silo, and the shard's ticks go on meanwhile.
    /// </summary>
    [AlwaysInterleave]
    Task Start();

    /// <summary>Hands what is due now to the probe workers, as a tick does, and says what it did.</summary>
    Task<ScheduleRound> DispatchDue();

    /// <summary>New pairs are due now: take them within a fraction of a second instead of at the next tick.</summary>
    [OneWay, AlwaysInterleave]
    Task Nudge();
}

/// <summary>One round of a schedule shard: pairs handed to the probe queue and how late the most overdue was.</summary>
[GenerateSerializer, Immutable]
public sealed record ScheduleRound(
    [property: Id(0)] int Dispatched,
    [property: Id(1)] double MaxLatenessSeconds,
    [property: Id(2)] string? Skipped);
