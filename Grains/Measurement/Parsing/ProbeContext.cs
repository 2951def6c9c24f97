using System.Net;

namespace CyberWatch.Measurement.Parsing;

/// <summary>What the prober knew when it ran the tool; fills the fields a tool's output does not carry.</summary>
/// <remarks>Values in the output win: scamper reports its own source, target and start time, mtr and traceroute do not.</remarks>
public sealed record ProbeContext(string Vantage)
{
    /// <summary>The address the tool was asked to probe; names a failed result whose output never got that far.</summary>
    public IPAddress? Target { get; init; }

    /// <summary>The method the tool was run with; mtr and traceroute output does not say.</summary>
    public ProbeMethod? Method { get; init; }

    public DateTimeOffset? StartedAt { get; init; }

    public DateTimeOffset? CompletedAt { get; init; }

    /// <summary>For outputs parsed without knowing where they came from (replays, benchmarks).</summary>
    public static ProbeContext Unknown { get; } = new("");
}
