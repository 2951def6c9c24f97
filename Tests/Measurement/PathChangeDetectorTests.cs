using CyberWatch.Measurement;

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
