using System.Net;

namespace CyberWatch.Measurement;

/// <summary>One reply to a ping probe.</summary>
[GenerateSerializer, Immutable]
public sealed record PingReply
{
    /// <summary>Sequence number of the probe this answers, from 0.</summary>
    [Id(0)] public int Seq { get; init; }

    /// <summary>Address the reply came from.</summary>
    [Id(1)] public IPAddress? From { get; init; }

    /// <summary>Round-trip time in milliseconds.</summary>
    [Id(2)] public double RttMs { get; init; }

    /// <summary>TTL of the reply packet as it arrived.</summary>
    [Id(3)] public int? ReplyTtl { get; init; }

    /// <summary>ICMP type of the reply (0 echo reply, 129 ICMPv6 echo reply).</summary>
    [Id(4)] public int? IcmpType { get; init; }

    /// <summary>ICMP code of the reply.</summary>
    [Id(5)] public int? IcmpCode { get; init; }
}
