using System.Collections.Immutable;
using System.Net;

namespace CyberWatch.Measurement;

/// <summary>A traceroute towards one target from one vantage point, or a failed one with the reason and the raw output.</summary>
/// <remarks>
/// <see cref="Hops"/> covers every probed TTL in order: one entry per reply, and one silent hop for a TTL nothing
/// answered. The destination RTT figures are over replies from the target itself and are null when it never replied.
/// </remarks>
[GenerateSerializer, Immutable]
public sealed record TraceResult
{
    /// <summary>The address traced towards; null only when a failed output did not even name it.</summary>
    [Id(0)] public IPAddress? Target { get; init; }

    /// <summary>The program that ran the trace.</summary>
    [Id(1)] public ProbeTool Tool { get; init; }

    /// <summary>The probe method; null when a failed output did not say.</summary>
    [Id(2)] public ProbeMethod? Method { get; init; }

    /// <summary>Source address of the probes, when the tool reports it (scamper does, mtr and traceroute do not).</summary>
    [Id(3)] public IPAddress? Source { get; init; }

    /// <summary>Name of the vantage point that ran the trace.</summary>
    [Id(4)] public string Vantage { get; init; } = "";

    /// <summary>When probing started.</summary>
    [Id(5)] public DateTimeOffset? StartedAt { get; init; }

    /// <summary>When probing finished, when known.</summary>
    [Id(6)] public DateTimeOffset? CompletedAt { get; init; }

    /// <summary>True when the output was a complete trace; false comes with <see cref="FailureReason"/>.</summary>
    [Id(7)] public bool Success { get; init; }

    /// <summary>Why the trace stopped; null when the tool does not say and it cannot be inferred (mtr short of the target).</summary>
    [Id(8)] public TraceStopReason? StopReason { get; init; }

    /// <summary>scamper's <c>stop_data</c>, e.g. the ICMP code behind <see cref="TraceStopReason.Unreach"/>.</summary>
    [Id(9)] public int? StopData { get; init; }

    /// <summary>Highest probe TTL covered by <see cref="Hops"/>.</summary>
    [Id(10)] public int HopCount { get; init; }

    /// <summary>Number of probe TTLs with at least one reply.</summary>
    [Id(11)] public int RespondingHops { get; init; }

    /// <summary>Replies and silent hops ordered by probe TTL, then reply index.</summary>
    [Id(12)] public ImmutableArray<Hop> Hops { get; init; } = [];

    /// <summary>Whether the target itself replied.</summary>
    [Id(13)] public bool DestinationReached { get; init; }

    /// <summary>RTT of the first reply from the target, in milliseconds (mtr: its average).</summary>
    [Id(14)] public double? DestinationRttMs { get; init; }

    /// <summary>Lowest RTT of the target's replies, in milliseconds (mtr: best).</summary>
    [Id(15)] public double? MinRttMs { get; init; }

    /// <summary>Mean RTT of the target's replies, in milliseconds (mtr: average).</summary>
    [Id(16)] public double? AvgRttMs { get; init; }

    /// <summary>Highest RTT of the target's replies, in milliseconds (mtr: worst).</summary>
    [Id(17)] public double? MaxRttMs { get; init; }

    /// <summary>Why the measurement failed; null on success.</summary>
    [Id(18)] public string? FailureReason { get; init; }

    /// <summary>The tool's output exactly as received, kept so nothing is lost when parsing fails or improves.</summary>
    [Id(19)] public string Raw { get; init; } = "";
}
