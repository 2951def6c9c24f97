using CyberWatch.Storage;
using CyberWatch.Topology;

namespace CyberWatch.Measurement;

/// <summary>
/// What a probe result says at a glance: its length, how much answered, RTTs, and the ASes and countries crossed.
/// <see cref="AsPath"/> lists the ASes in order; <see cref="AsSteps"/> says for each consecutive pair whether it was
/// seen directly or only across silent/private/unmapped hops (indirect).
/// </summary>
public sealed record ProbeResultSummary(
    int HopCount,
    int RespondingHops,
    double LossPct,
    double? RttMinMs,
    double? RttAvgMs,
    double? RttMaxMs,
    IReadOnlyList<long> AsPath,
    IReadOnlyList<AsPathStep> AsSteps,
    int AsCount,
    IReadOnlyList<string> Countries,
    IReadOnlyList<string> Ixps,
    bool ReachedTarget)
{
    // Measurements stored before their AS path was (sql/021) get it from the same extractor, without IXP data.
    private static readonly AsPathExtractor LegacyExtractor = new();

    /// <summary>
    /// Hop count is the highest probe TTL; a TTL responds when any of its replies has an address. Loss is the
    /// measurement's own (ping, mtr) or else the share of silent TTLs. The AS path is the one stored with the
    /// measurement (the graph's); countries and IXPs are in the order crossed, consecutive repeats dropped.
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
        IReadOnlyList<long?> path = AsPathText.TryParse(measurement.AsPath, out var stored)
            ? stored
            : measurement.AsPath is null && hops.Count > 0 ? LegacyExtractor.Extract(hops.Select(PathHop.From)).Path : [];
        var asPath = AsPathText.Asns(path);
        return new ProbeResultSummary(
            HopCount: hopCount,
            RespondingHops: responding,
            LossPct: loss,
            RttMinMs: rtts.Count > 0 ? rtts.Min() : measurement.MinRttMs,
            RttAvgMs: rtts.Count > 0 ? Math.Round(rtts.Average(), 3) : measurement.AvgRttMs,
            RttMaxMs: rtts.Count > 0 ? rtts.Max() : measurement.MaxRttMs,
            AsPath: asPath,
            AsSteps: AsPathText.Steps(path),
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
