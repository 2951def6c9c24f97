using System.Collections.Immutable;
using System.Net;

namespace CyberWatch.Measurement;

/// <summary>One reply at one probe TTL of a traceroute, or a silent hop (no address) when nothing answered that TTL.</summary>
/// <remarks>
/// A TTL answered by several replies (more attempts per hop, or different routers under load balancing) gives
/// one <see cref="Hop"/> per reply, numbered by <see cref="ReplyIndex"/>. mtr reports one aggregate per TTL,
/// so its hops carry the statistics fields and <see cref="RttMs"/> is mtr's average.
/// </remarks>
[GenerateSerializer, Immutable]
public sealed record Hop
{
    /// <summary>TTL (IPv6 hop limit) the probe was sent with.</summary>
    [Id(0)] public int ProbeTtl { get; init; }

    /// <summary>Position of this reply among the replies at the same probe TTL, from 0.</summary>
    [Id(1)] public int ReplyIndex { get; init; }

    /// <summary>Address that replied; null for a silent hop.</summary>
    [Id(2)] public IPAddress? Address { get; init; }

    /// <summary>Round-trip time in milliseconds; for mtr the average over its probes.</summary>
    [Id(3)] public double? RttMs { get; init; }

    /// <summary>TTL of the reply packet as it arrived, when the tool reports it.</summary>
    [Id(4)] public int? ReplyTtl { get; init; }

    /// <summary>ICMP type of the reply, when the tool reports it.</summary>
    [Id(5)] public int? IcmpType { get; init; }

    /// <summary>ICMP code of the reply, when the tool reports it.</summary>
    [Id(6)] public int? IcmpCode { get; init; }

    /// <summary>MPLS label stack quoted in the reply's ICMP extensions, top of stack first; empty when none.</summary>
    [Id(7)] public ImmutableArray<MplsLabel> MplsLabels { get; init; } = [];

    /// <summary>mtr: share of probes at this TTL that got no reply, in percent.</summary>
    [Id(8)] public double? LossPct { get; init; }

    /// <summary>mtr: probes sent at this TTL.</summary>
    [Id(9)] public int? Sent { get; init; }

    /// <summary>mtr: round-trip time of the last probe, in milliseconds.</summary>
    [Id(10)] public double? LastMs { get; init; }

    /// <summary>mtr: best round-trip time, in milliseconds.</summary>
    [Id(11)] public double? BestMs { get; init; }

    /// <summary>mtr: average round-trip time, in milliseconds.</summary>
    [Id(12)] public double? AvgMs { get; init; }

    /// <summary>mtr: worst round-trip time, in milliseconds.</summary>
    [Id(13)] public double? WorstMs { get; init; }

    /// <summary>mtr: standard deviation of the round-trip time, in milliseconds.</summary>
    [Id(14)] public double? StdevMs { get; init; }

    /// <summary>True when nothing answered at this TTL.</summary>
    public bool IsSilent => Address is null;
}
