using CyberWatch.Storage;
using CyberWatch.Watch;
using CyberWatch.Watch.Incidents;

namespace CyberWatch.Tests.Watch;

/// <summary>The incident rules of one pair's ping series: hysteresis, kinds, baseline.</summary>
public sealed class PingWatchTests
{
    private static readonly IncidentSettings Rules = new() { OpenAfter = 2, ResolveAfter = 3, LossThresholdPct = 5, LatencyShiftMs = 10, LatencyShiftFraction = 0.25, BaselineRounds = 6 };
    private static readonly DateTimeOffset Start = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
    private int round;

    private PingRoundOutcome Round(int received, double? median = 20, int sent = 20, bool failed = false) => new()
    {
        StartedAt = Start.AddMinutes(5 * round++), Sent = failed ? 0 : sent, Received = received, Failed = failed,
        LossPct = failed ? null : 100.0 * (sent - received) / sent, MedianRttMs = received > 0 ? median : null,
    };

    private List<(string, bool)> Feed(PingWatch watch, params PingRoundOutcome[] rounds) =>
        [.. rounds.SelectMany(r => watch.Observe(r, Rules)).Select(t => (t.Kind.ToWire(), t.Opened))];

    [Fact]
    public void Loss_opens_after_two_rounds_not_one_and_resolves_after_three_clear()
    {
        var watch = new PingWatch();

        Assert.Empty(Feed(watch, Round(20), Round(18), Round(20), Round(18)));
        Assert.Equal([("loss", true)], Feed(watch, Round(17)));
        Assert.True(watch.IsOpen(IncidentKind.Loss));
        Assert.Empty(Feed(watch, Round(20), Round(20)));
        Assert.Equal([("loss", false)], Feed(watch, Round(20)));
        Assert.False(watch.IsOpen(IncidentKind.Loss));
    }

    [Fact]
    public void A_condition_flapping_inside_an_open_incident_keeps_that_one()
    {
        var watch = new PingWatch();
        var transitions = Feed(watch, Round(18), Round(18), Round(20), Round(18), Round(20), Round(20), Round(17), Round(20), Round(18),
            Round(20), Round(20), Round(20));

        Assert.Equal([("loss", true), ("loss", false)], transitions);
    }

    [Fact]
    public void Nothing_answering_is_unreachable_not_loss()
    {
        var watch = new PingWatch();

        Assert.Equal([("unreachable", true)], Feed(watch, Round(0), Round(0), Round(0)));
        Assert.False(watch.IsOpen(IncidentKind.Loss));
        Assert.Equal([("unreachable", false)], Feed(watch, Round(20), Round(20), Round(20)));
    }

    [Fact]
    public void Rounds_that_failed_on_our_side_and_rounds_seen_twice_change_nothing()
    {
        var watch = new PingWatch();
        var lossy = Round(10);

        Assert.Empty(Feed(watch, lossy, lossy, Round(0, failed: true), Round(0, failed: true)));
        Assert.Equal([("loss", true)], Feed(watch, Round(10)));
    }

    [Fact]
    public void Latency_shift_against_the_baseline_opens_and_a_lasting_one_becomes_the_new_baseline()
    {
        var watch = new PingWatch();
        Assert.Empty(Feed(watch, Round(20, 20), Round(20, 21), Round(20, 20), Round(20, 22)));
        Assert.Equal(20.5, watch.BaselineMs);

        // +8 ms is below both thresholds (10 ms, 25 % of 20.5); +20 ms is above.
        Assert.Empty(Feed(watch, Round(20, 28), Round(20, 41)));
        Assert.Equal([("latency_shift", true)], Feed(watch, Round(20, 41)));
        // It lasts: after baseline_rounds (6) shifted rounds 41 ms is the normal, and three rounds later it resolves.
        Assert.Empty(Feed(watch, Round(20, 40), Round(20, 41), Round(20, 42), Round(20, 41)));
        Assert.Equal(41, watch.BaselineMs);
        Assert.Empty(Feed(watch, Round(20, 41), Round(20, 40)));
        Assert.Equal([("latency_shift", false)], Feed(watch, Round(20, 41)));
    }

    [Fact]
    public void A_restored_open_incident_is_not_opened_again()
    {
        var watch = new PingWatch();
        watch.Restore(IncidentKind.Loss, true);

        Assert.Empty(Feed(watch, Round(10), Round(10), Round(10)));
        Assert.Equal([("loss", false)], Feed(watch, Round(20), Round(20), Round(20)));
    }
}
