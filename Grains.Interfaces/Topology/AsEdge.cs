using System.Globalization;
using System.Text.Json.Serialization;

namespace CyberWatch.Topology;

/// <summary>
/// How two ASes were seen next to each other (CAIDA's split of traceroute-derived links): <c>direct</c> when
/// their hops answered on consecutive TTLs (or only IXP hops lay between), <c>indirect</c> when only hops that
/// could not be placed in an AS (silent, private, unmapped) lay between them.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<AsLinkKind>))]
public enum AsLinkKind
{
    /// <summary>Consecutive responding hops (or only IXP hops between): the two ASes exchanged the packet.</summary>
    [JsonStringEnumMemberName("direct")] Direct,

    /// <summary>Only hops that could not be placed in an AS between: adjacent as far as the trace shows, not proven.</summary>
    [JsonStringEnumMemberName("indirect")] Indirect,
}

/// <summary>One step of a measurement's AS path: from an AS to the next one, direct or across unplaceable hops.</summary>
[GenerateSerializer, Immutable]
public sealed record AsPathStep(
    [property: Id(0)] long From,
    [property: Id(1)] long To,
    [property: Id(2)] AsLinkKind Kind);

/// <summary>One crossing of an AS edge seen in one measurement, in path order (src nearer the vantage point).</summary>
[GenerateSerializer, Immutable]
public sealed record AsEdgeObservation(
    [property: Id(0)] long SrcAsn,
    [property: Id(1)] long DstAsn,
    [property: Id(2)] string? Ixp,
    [property: Id(3)] double? RttMs,
    [property: Id(4)] DateTimeOffset ObservedAt,
    [property: Id(5)] string Vantage,
    [property: Id(6)] long MeasurementId,
    [property: Id(7)] AsLinkKind Kind = AsLinkKind.Direct,
    [property: Id(8)] int GapHops = 0);

/// <summary>
/// What the node knows of one directed AS edge. RTTs are those of the first hop in the dst AS as seen
/// from the vantage point (the round trip to the far side of the edge), not a one-way link latency.
/// <see cref="DirectCount"/> and <see cref="IndirectCount"/> split <see cref="ObservedCount"/> by how the crossing
/// was seen; an edge seen directly even once is <see cref="AsLinkKind.Direct"/>. <see cref="MinGapHops"/> is the
/// fewest unplaceable hops seen between the two ASes in an indirect crossing (null when never seen indirectly).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record AsEdgeStats(
    [property: Id(0)] long SrcAsn,
    [property: Id(1)] long DstAsn,
    [property: Id(2)] long ObservedCount,
    [property: Id(3)] double? MinRttMs,
    [property: Id(4)] double? AvgRttMs,
    [property: Id(5)] double? MaxRttMs,
    [property: Id(6)] DateTimeOffset FirstSeen,
    [property: Id(7)] DateTimeOffset LastSeen,
    [property: Id(8)] string? Ixp,
    [property: Id(9)] IReadOnlyList<string> Vantages,
    [property: Id(10)] long DirectCount,
    [property: Id(11)] long IndirectCount,
    [property: Id(12)] int? MinGapHops,
    [property: Id(13)] AsEdgeRelationship? Relationship = null)
{
    /// <summary>Direct once seen directly; indirect while every crossing had unplaceable hops between.</summary>
    public AsLinkKind Kind => DirectCount == 0 && IndirectCount > 0 ? AsLinkKind.Indirect : AsLinkKind.Direct;
}

/// <summary>
/// The inferred business relationship of an edge, read from its first AS: <c>p2c</c> (provider to customer),
/// <c>c2p</c>, <c>p2p</c> or <c>unknown</c>; <see cref="Source"/> says which paths it rests on (<c>traces</c>,
/// <c>bgp</c>, <c>both</c>, <c>none</c>), <see cref="Basis"/> which rule decided it (docs/topology.md).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record AsEdgeRelationship(
    [property: Id(0)] string Kind,
    [property: Id(1)] string Source,
    [property: Id(2)] double Confidence,
    [property: Id(3)] string Basis)
{
    /// <summary>The same relationship read from the edge's other AS.</summary>
    public AsEdgeRelationship Mirrored() => this with
    {
        Kind = Kind switch
        {
            "p2c" => "c2p",
            "c2p" => "p2c",
            var same => same,
        },
    };

    /// <summary>For an edge no inference has covered (yet).</summary>
    public static AsEdgeRelationship Unknown { get; } = new("unknown", "none", 0, "none");
}

/// <summary>Keys of <see cref="IAsEdgeGrain"/>: <c>A-&gt;B</c> with decimal ASNs, in path order.</summary>
public static class AsEdgeKey
{
    /// <summary>The largest ASN (32-bit ASNs).</summary>
    public const long MaxAsn = uint.MaxValue;

    /// <summary>The key of the edge src → dst.</summary>
    public static string Format(long srcAsn, long dstAsn) =>
        string.Create(CultureInfo.InvariantCulture, $"{srcAsn}->{dstAsn}");

    /// <summary>Parses <c>A-&gt;B</c>; false for anything else, including a self edge or an ASN out of 0..2^32-1.</summary>
    public static bool TryParse(string? key, out long srcAsn, out long dstAsn)
    {
        srcAsn = dstAsn = 0;
        var arrow = key?.IndexOf("->", StringComparison.Ordinal) ?? -1;
        return arrow > 0
            && long.TryParse(key.AsSpan(0, arrow), NumberStyles.None, CultureInfo.InvariantCulture, out srcAsn)
            && long.TryParse(key.AsSpan(arrow + 2), NumberStyles.None, CultureInfo.InvariantCulture, out dstAsn)
            && srcAsn <= MaxAsn && dstAsn <= MaxAsn && srcAsn != dstAsn;
    }
}

/// <summary>One directed AS edge (key: <c>A-&gt;B</c> as observed in path order); owns its statistics.</summary>
public interface IAsEdgeGrain : IGrainWithStringKey
{
    /// <summary>Counts one crossing of the edge; a measurement already counted is ignored. Returns the updated statistics.</summary>
    Task<AsEdgeStats> Observe(AsEdgeObservation observation);

    /// <summary>Counts the crossings of several measurements with one state write; those already counted are ignored.</summary>
    Task<AsEdgeStats> ObserveAll(IReadOnlyList<AsEdgeObservation> observations);

    /// <summary>The edge's statistics, or null when it was never observed.</summary>
    Task<AsEdgeStats?> GetStats();
}
