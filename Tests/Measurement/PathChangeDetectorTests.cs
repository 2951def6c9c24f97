using System.Net;
using CyberWatch.Measurement;
using CyberWatch.Topology;

namespace CyberWatch.Tests.Measurement;

public sealed class PathChangeDetectorTests
{
    private static List<HashSet<string>> Seen(params string[][] perTtl) => perTtl.Select(t => t.ToHashSet()).ToList();

    [Fact]
    public void Ecmp_alternate_seen_before_at_that_ttl_is_not_a_change()
    {
        var seen = Seen(["a"], ["b1", "b2"], ["c"]);
        Assert.False(PathChangeDetector.IpPathChanged(["a", "b1", "c"], ["a", "b2", "c"], seen));
    }

    [Fact]
    public void A_step_turning_indirect_or_direct_again_is_no_AS_path_change()
    {
        // What the probe pipeline hands the target grain: the stored path's ASes, the kind of each step left aside.
        static IReadOnlyList<long> Asns(params PathHop[] hops) => AsPathText.Asns(new AsPathExtractor().Extract(hops).Path);
        static PathHop Hop(int ttl, long asn) => new(ttl, IPAddress.Parse($"198.18.{ttl}.1"), ttl, "global", asn);
        var answered = Asns(Hop(1, 1300), Hop(2, 1500), Hop(3, 1500));
        var silent = Asns(Hop(1, 1300), new PathHop(2, null), Hop(3, 1500));
        var elsewhere = Asns(Hop(1, 1300), new PathHop(2, null), Hop(3, 1600));

        Assert.False(PathChangeDetector.AsPathChanged(answered, silent));
        Assert.False(PathChangeDetector.AsPathChanged(silent, answered));
        Assert.True(PathChangeDetector.AsPathChanged(silent, elsewhere));
    }

    [Fact]
    public void New_router_never_seen_at_that_ttl_is_a_change()
    {
        var seen = Seen(["a"], ["b1", "b2"], ["c"]);
        Assert.True(PathChangeDetector.IpPathChanged(["a", "b1", "c"], ["a", "x", "c"], seen));
    }

    [Fact]
    public void Silent_hop_appearing_or_disappearing_is_not_a_change()
    {
        var seen = Seen(["a"], ["b"], ["c"]);
        Assert.False(PathChangeDetector.IpPathChanged(["a", "b", "c"], ["a", null, "c"], seen));
        Assert.False(PathChangeDetector.IpPathChanged(["a", null, "c"], ["a", "b", "c"], seen));
    }

    [Fact]
    public void Destination_at_another_distance_is_a_change()
    {
        var seen = Seen(["a"], ["b"], ["c"], ["d"]);
        Assert.True(PathChangeDetector.IpPathChanged(["a", "b", "d"], ["a", "b", "c", "d"], seen));
    }

    [Fact]
    public void As_path_change_needs_both_paths()
    {
        Assert.True(PathChangeDetector.AsPathChanged([1100, 1200, 1400], [1100, 1300, 1200, 1400]));
        Assert.False(PathChangeDetector.AsPathChanged([1100, 1200, 1400], [1100, 1200, 1400]));
        Assert.False(PathChangeDetector.AsPathChanged([], [1100]));
    }

    [Fact]
    public void Latency_baseline_is_robust_to_one_outlier()
    {
        var baseline = PathChangeDetector.Baseline([10, 10.5, 9.8, 10.2, 250, 10.1])!.Value;
        Assert.InRange(baseline.Median, 10, 10.5);
        Assert.True(baseline.Sigma < 1);
    }

    [Fact]
    public void Latency_shift_is_flagged_only_beyond_noise()
    {
        var baseline = PathChangeDetector.Baseline([20, 21, 19, 20.5, 19.5])!.Value;
        Assert.True(PathChangeDetector.LatencyShifted(baseline, 45));
        Assert.False(PathChangeDetector.LatencyShifted(baseline, 21.5));
        var tiny = PathChangeDetector.Baseline([0.1, 0.1, 0.1, 0.1, 0.1])!.Value;
        Assert.False(PathChangeDetector.LatencyShifted(tiny, 0.5));
    }

    [Fact]
    public void Baseline_needs_enough_samples()
    {
        Assert.Null(PathChangeDetector.Baseline([1, 2, 3]));
    }
}
