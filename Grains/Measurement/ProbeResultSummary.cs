using CyberWatch.Storage;

namespace CyberWatch.Measurement;

/// <summary>What a probe result says at a glance: its length, how much answered, RTTs, and the ASes and countries crossed.</summary>
public sealed record ProbeResultSummary(
    int HopCount,
    int RespondingHops,
    double LossPct,
    double? RttMinMs,
    double? RttAvgMs,
    double? RttMaxMs,
    IReadOnlyList<long> AsPath,
    int AsCount,
    IReadOnlyList<string> Countries,
    IReadOnlyList<string> Ixps,
    bool ReachedTarget)
{
    /// <summary>
    /// Hop count is the highest probe TTL; a TTL responds when any of its replies has an address. Loss is the
    /// measurement's own (ping, mtr) or else the share of silent TTLs. The AS path is the hops' ASNs in TTL order
    /// with repeats and unknowns dropped; countries and IXPs likewise in the order crossed.
    /// </summary>
    public static ProbeResultSummary From(MeasurementRecord measurement, IReadOnlyList<HopRecord> hops)
    {
        var byTtl = hops.GroupBy(h => h.Ttl).OrderBy(g => g.Key).ToList();
        var hopCount = byTtl.Count == 0 ? measurement.HopCount ?? 0 : byTtl[^1].Key;
        var responding = byTtl.Count(g => g.Any(h => h.Address is not null));
        var rtts = hops.Where(h => h.RttMs is not null).Select(h => h.RttMs!.Value).ToList();
        var loss = measurement.LossPct is { } own
            ? own
            : hopCount == 0 ? 0 : Math.Round(100.0 * (hopCount - responding) / hopCount, 1);
        var asPath = Ordered(hops.OrderBy(h => h.Ttl).Where(h => h.Asn is not null).Select(h => h.Asn!.Value));
        return new ProbeResultSummary(
            HopCount: hopCount,
            RespondingHops: responding,
            LossPct: loss,
            RttMinMs: rtts.Count > 0 ? rtts.Min() : measurement.MinRttMs,
            RttAvgMs: rtts.Count > 0 ? Math.Round(rtts.Average(), 3) : measurement.AvgRttMs,
            RttMaxMs: rtts.Count > 0 ? rtts.Max() : measurement.MaxRttMs,
            AsPath: asPath,
            AsCount: asPath.Distinct().Count(),
            Countries: Ordered(hops.OrderBy(h => h.Ttl).Select(h => h.Country).OfType<string>()),
            Ixps: Ordered(hops.OrderBy(h => h.Ttl).Select(h => h.Ixp).OfType<string>()),
            ReachedTarget: hops.Any(h => h.Address == measurement.Target));
    }

    /// <summary>Values in the order crossed, consecutive repeats dropped (A B B A stays A B A).</summary>
    private static List<T> Ordered<T>(IEnumerable<T> values)
    {
        var result = new List<T>();
        foreach (var value in values)
        {
            if (result.Count == 0 || !EqualityComparer<T>.Default.Equals(result[^1], value))
            {
                result.Add(value);
            }
        }
        return result;
    }
}
