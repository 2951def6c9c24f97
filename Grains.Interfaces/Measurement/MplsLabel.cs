namespace CyberWatch.Measurement;

/// <summary>One entry of an MPLS label stack quoted in an ICMP extension (RFC 4950).</summary>
[GenerateSerializer, Immutable]
public sealed record MplsLabel
{
    /// <summary>The 20-bit label value.</summary>
    [Id(0)] public int Label { get; init; }

    /// <summary>The 3-bit traffic class, formerly EXP.</summary>
    [Id(1)] public int TrafficClass { get; init; }

    /// <summary>Whether this is the bottom of the stack (S bit).</summary>
    [Id(2)] public bool BottomOfStack { get; init; }

    /// <summary>The label's TTL as quoted by the router.</summary>
    [Id(3)] public int Ttl { get; init; }
}
