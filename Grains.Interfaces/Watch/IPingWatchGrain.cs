namespace CyberWatch.Watch;

/// <summary>What the incident rules need of one ping round.</summary>
[GenerateSerializer, Immutable]
public sealed record PingRoundOutcome
{
    /// <summary>When the round started.</summary>
    [Id(0)] public DateTimeOffset StartedAt { get; init; }

    /// <summary>Pings sent.</summary>
    [Id(1)] public int Sent { get; init; }

    /// <summary>Pings answered.</summary>
    [Id(2)] public int Received { get; init; }

    /// <summary>Loss in percent; null when the round failed for a reason of the node.</summary>
    [Id(3)] public double? LossPct { get; init; }

    /// <summary>Median RTT of the answered pings.</summary>
    [Id(4)] public double? MedianRttMs { get; init; }

    /// <summary>True when the round failed for a reason of the node (not the network's).</summary>
    [Id(5)] public bool Failed { get; init; }
}

/// <summary>
/// The incident rules of one (target, vantage) pair's ping series (key: <c>{vantage}/{address}</c>): one
/// grain per pair, so the silos of a vantage that share its rounds share one state.
/// </summary>
public interface IPingWatchGrain : IGrainWithStringKey
{
    /// <summary>Applies a round to the pair's conditions; opens or resolves its incidents.</summary>
    Task Observe(PingRoundOutcome round);
}
