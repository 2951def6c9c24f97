namespace CyberWatch.Measurement;

/// <summary>A change between two measurements of one target.</summary>
public sealed record PathChange(string Kind, object Before, object After, object? Details);

/// <summary>
/// Compares a new measurement of a target with what it knew: AS path, IP path (beyond ECMP
/// variation) and latency against a robust baseline. Pure; the target grain keeps the history.
/// </summary>
public static class PathChangeDetector
{
    /// <summary>Samples needed before a latency baseline is trusted.</summary>
    public const int MinimumBaselineSamples = 5;

    /// <summary>
    /// An IP path changed when, at some TTL both paths answered, the new address was never seen at that
    /// TTL in the recent history (ECMP alternates are seen over time), or when the destination moved to
    /// another TTL. Silent hops (null) are not evidence of change.
    /// </summary>
    public static bool IpPathChanged(IReadOnlyList<string?> previous, IReadOnlyList<string?> current,
        IReadOnlyList<HashSet<string>> seenPerTtl)
    {
        if (previous.Count == 0 || current.Count == 0)
        {
            return false;
        }
        if (previous.Count != current.Count && previous[^1] is not null && current[^1] is not null)
        {
            return true;
        }
        for (var i = 0; i < Math.Min(previous.Count, current.Count); i++)
        {
            if (previous[i] is null || current[i] is null || previous[i] == current[i])
            {
                continue;
            }
            if (i >= seenPerTtl.Count || !seenPerTtl[i].Contains(current[i]!))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// The ASes in order differ. The paths compared are ASes only (<c>AsPathText.Asns</c>): a step seen directly in
    /// one trace and only across a silent hop in the next (direct ↔ indirect) is the same AS path.
    /// </summary>
    public static bool AsPathChanged(IReadOnlyList<long> previous, IReadOnlyList<long> current) =>
        previous.Count > 0 && current.Count > 0 && !previous.SequenceEqual(current);

    /// <summary>Median and MAD-based spread (scaled to σ for normal data) of recent RTTs.</summary>
    public static (double Median, double Sigma)? Baseline(IReadOnlyList<double> samples)
    {
        if (samples.Count < MinimumBaselineSamples)
        {
            return null;
        }
        var median = Median(samples);
        var mad = Median(samples.Select(s => Math.Abs(s - median)).ToList());
        return (median, 1.4826 * mad);
    }

    /// <summary>
    /// A latency shift: the new RTT leaves the baseline by more than 3σ, and by at least 20% and 2 ms
    /// (so a very stable path does not flag sub-millisecond jitter).
    /// </summary>
    public static bool LatencyShifted((double Median, double Sigma) baseline, double rtt)
    {
        var distance = Math.Abs(rtt - baseline.Median);
        return distance > 3 * baseline.Sigma && distance > 0.2 * baseline.Median && distance > 2.0;
    }

    private static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
