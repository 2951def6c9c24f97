using System.Globalization;

namespace CyberWatch.Topology;

/// <summary>One crossing of an AS edge seen in one measurement, in path order (src nearer the vantage point).</summary>
[GenerateSerializer, Immutable]
public sealed record AsEdgeObservation(
    [property: Id(0)] long SrcAsn,
    [property: Id(1)] long DstAsn,
    [property: Id(2)] string? Ixp,
    [property: Id(3)] double? RttMs,
    [property: Id(4)] DateTimeOffset ObservedAt,
    [property: Id(5)] string Vantage,
    [property: Id(6)] long MeasurementId);

/// <summary>
/// What the node knows of one directed AS edge. RTTs are those of the first hop in the dst AS as seen
/// from the vantage point (the round trip to the far side of the edge), not a one-way link latency.
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
    [property: Id(9)] IReadOnlyList<string> Vantages);

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
