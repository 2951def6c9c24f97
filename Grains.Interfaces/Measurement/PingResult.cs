using System.Collections.Immutable;
using System.Net;

namespace CyberWatch.Measurement;

/// <summary>A ping towards one target, or a failed one with the reason and the raw output.</summary>
[GenerateSerializer, Immutable]
public sealed record PingResult
{
    /// <summary>The address pinged; null only when a failed output did not even name it.</summary>
    [Id(0)] public IPAddress? Target { get; init; }

    /// <summary>Source address of the probes, when the tool reports it.</summary>
    [Id(1)] public IPAddress? Source { get; init; }

    /// <summary>Name of the vantage point that ran the ping.</summary>
    [Id(2)] public string Vantage { get; init; } = "";

    /// <summary>When probing started.</summary>
    [Id(3)] public DateTimeOffset? StartedAt { get; init; }

    /// <summary>True when the output was a complete ping; false comes with <see cref="FailureReason"/>.</summary>
    [Id(4)] public bool Success { get; init; }

    /// <summary>Probes sent.</summary>
    [Id(5)] public int Sent { get; init; }

    /// <summary>Probes that got a reply (duplicates not counted).</summary>
    [Id(6)] public int Replies { get; init; }

    /// <summary>Probes without a reply, in percent of <see cref="Sent"/>.</summary>
    [Id(7)] public double? LossPct { get; init; }

    /// <summary>Lowest RTT in milliseconds; null without replies.</summary>
    [Id(8)] public double? MinRttMs { get; init; }

    /// <summary>Mean RTT in milliseconds; null without replies.</summary>
    [Id(9)] public double? AvgRttMs { get; init; }

    /// <summary>Highest RTT in milliseconds; null without replies.</summary>
    [Id(10)] public double? MaxRttMs { get; init; }

    /// <summary>Standard deviation of the RTT in milliseconds; null without replies.</summary>
    [Id(11)] public double? StddevRttMs { get; init; }

    /// <summary>Every reply in arrival order, duplicates included.</summary>
    [Id(12)] public ImmutableArray<PingReply> Responses { get; init; } = [];

    /// <summary>Why the measurement failed; null on success.</summary>
    [Id(13)] public string? FailureReason { get; init; }

    /// <summary>The tool's output exactly as received.</summary>
    [Id(14)] public string Raw { get; init; } = "";
}
