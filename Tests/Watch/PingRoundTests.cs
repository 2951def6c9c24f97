using System.Net;
using CyberWatch.Measurement;
using CyberWatch.Measurement.Parsing;
using CyberWatch.Tests.Measurement;
using CyberWatch.Watch;

namespace CyberWatch.Tests.Watch;

public sealed class PingRoundTests
{
    private static readonly IPAddress Target = IPAddress.Parse("11.0.9.10");
    private static readonly DateTimeOffset Start = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    private static PingRound Round(string fixture) =>
        PingRound.From(ScamperPingParser.Parse(Fixture.ScamperLine(fixture, "ping"), new ProbeContext("home") { Target = Target }),
            Target, "home", PingMethod.Icmp, Start);

    [Fact]
    public void Round_with_every_third_ping_dropped_counts_loss_and_sorts_the_rtts()
    {
        // Captured with iptables dropping every third echo request: 6 sent, seq 1 and 4 unanswered.
        var round = Round("scamper-ping-loss-v4.jsonl");

        Assert.Null(round.FailureReason);
        Assert.Equal(6, round.Sent);
        Assert.Equal(4, round.Received);
        Assert.Equal(100.0 * 2 / 6, round.LossPct!.Value, 6);
        Assert.Equal([0.082, 0.102, 0.109, 0.116], round.RttsMs);
        Assert.Equal(0.082, round.MinRttMs);
        Assert.Equal(0.116, round.MaxRttMs);
        Assert.Equal(0.1055, round.MedianRttMs!.Value, 6);
        Assert.Equal(0.10225, round.MeanRttMs!.Value, 6);
        // scamper's own statistics say stddev 0.012: it cuts (not rounds) to three decimals what is 0.01270.
        Assert.Equal(0.01270, round.StdevRttMs!.Value, 5);
        // Quartiles by linear interpolation: 0.097 and 0.11075.
        Assert.Equal(0.01375, round.IqrRttMs!.Value, 6);
        // The round's time is scamper's start, not ours.
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1795394232).AddTicks(5659440), round.StartedAt);
    }

    [Fact]
    public void Round_without_replies_is_full_loss_with_no_rtt()
    {
        var round = PingRound.From(ScamperPingParser.Parse(Fixture.ScamperLine("scamper-ping-all-lost-v4.jsonl", "ping"), new ProbeContext("home")),
            IPAddress.Parse("11.0.250.1"), "home", PingMethod.Icmp, Start);

        Assert.Null(round.FailureReason);
        Assert.Equal(3, round.Sent);
        Assert.Equal(0, round.Received);
        Assert.Equal(100.0, round.LossPct);
        Assert.Null(round.MedianRttMs);
        Assert.Null(round.IqrRttMs);
        Assert.Empty(round.RttsMs);
    }

    [Fact]
    public void Duplicate_replies_count_once_with_the_first_rtt()
    {
        var result = new PingResult
        {
            Target = Target, Success = true, Sent = 3, Replies = 2, StartedAt = Start,
            Responses = [new PingReply { Seq = 0, RttMs = 10 }, new PingReply { Seq = 0, RttMs = 30 }, new PingReply { Seq = 2, RttMs = 12 }],
        };

        var round = PingRound.From(result, Target, "home", PingMethod.Icmp, Start);

        Assert.Equal(2, round.Received);
        Assert.Equal([10.0, 12.0], round.RttsMs);
        Assert.Equal(100.0 / 3, round.LossPct!.Value, 6);
    }

    [Fact]
    public void Unreadable_output_is_a_failed_round_not_loss()
    {
        var round = PingRound.From(ScamperPingParser.Parse("{\"type\":\"ping\", \"ping_sent\":", new ProbeContext("home") { Target = Target }),
            Target, "home", PingMethod.Icmp, Start);

        Assert.NotNull(round.FailureReason);
        Assert.Null(round.LossPct);
        Assert.Equal(0, round.Received);
    }

    [Theory]
    [InlineData(0.5, 2.5)]
    [InlineData(0.25, 1.75)]
    [InlineData(0.9, 3.7)]
    [InlineData(0.0, 1.0)]
    [InlineData(1.0, 4.0)]
    public void Quantile_interpolates_like_percentile_cont(double fraction, double expected)
    {
        Assert.Equal(expected, PingRound.Quantile([1, 2, 3, 4], fraction)!.Value, 9);
    }
}
