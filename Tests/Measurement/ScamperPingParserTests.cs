using System.Text;
using CyberWatch.Measurement.Parsing;
using static CyberWatch.Tests.Measurement.Fixture;

namespace CyberWatch.Tests.Measurement;

public sealed class ScamperPingParserTests
{
    private static readonly ProbeContext Lab = new("lab-vp");

    [Fact]
    public void Ping_reads_each_reply_and_scampers_statistics()
    {
        var line = ScamperLine("scamper-ping-v4.jsonl", "ping");

        var ping = ScamperPingParser.Parse(line, Lab);

        Assert.True(ping.Success, ping.FailureReason);
        Assert.Equal(Ip("11.0.9.10"), ping.Target);
        Assert.Equal(Ip("11.0.1.2"), ping.Source);
        Assert.Equal("lab-vp", ping.Vantage);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1795394227).AddTicks(487706 * 10), ping.StartedAt);
        Assert.Equal(5, ping.Sent);
        Assert.Equal(5, ping.Replies);
        Assert.Equal(0, ping.LossPct);
        Assert.Equal((0.083, 0.121, 0.184, 0.038), (ping.MinRttMs!.Value, ping.AvgRttMs!.Value, ping.MaxRttMs!.Value, ping.StddevRttMs!.Value));
        Assert.Equal([0, 1, 2, 3, 4], ping.Responses.Select(r => r.Seq));
        Assert.Equal([0.083, 0.148, 0.089, 0.184, 0.101], ping.Responses.Select(r => r.RttMs));
        Assert.All(ping.Responses, r =>
        {
            Assert.Equal(Ip("11.0.9.10"), r.From);
            Assert.Equal(59, r.ReplyTtl);
            Assert.Equal((0, 0), (r.IcmpType!.Value, r.IcmpCode!.Value));
        });
        Assert.Equal(line, ping.Raw);
    }

    [Fact]
    public void Ipv6_ping_keeps_icmpv6_echo_replies()
    {
        var ping = ScamperPingParser.Parse(ScamperLine("scamper-ping-v6.jsonl", "ping"), Lab);

        Assert.True(ping.Success, ping.FailureReason);
        Assert.Equal(Ip("2a0c:9a40:9::10"), ping.Target);
        Assert.All(ping.Responses, r => Assert.Equal(129, r.IcmpType));
        Assert.Equal(0.099, ping.AvgRttMs);
    }

    [Fact]
    public void Lost_probes_give_exact_loss_rather_than_scampers_rounded_fraction()
    {
        // scamper writes "loss":0.33 for 2 of 6 lost.
        var ping = ScamperPingParser.Parse(ScamperLine("scamper-ping-loss-v4.jsonl", "ping"), Lab);

        Assert.True(ping.Success, ping.FailureReason);
        Assert.Equal(6, ping.Sent);
        Assert.Equal(4, ping.Replies);
        Assert.Equal(100.0 * 2 / 6, ping.LossPct!.Value, 12);
        Assert.Equal([0, 2, 3, 5], ping.Responses.Select(r => r.Seq));
    }

    [Fact]
    public void Ping_without_replies_is_full_loss_with_no_rtt()
    {
        var ping = ScamperPingParser.Parse(ScamperLine("scamper-ping-all-lost-v4.jsonl", "ping"), Lab);

        Assert.True(ping.Success, ping.FailureReason);
        Assert.Equal(3, ping.Sent);
        Assert.Equal(0, ping.Replies);
        Assert.Equal(100, ping.LossPct);
        Assert.Null(ping.MinRttMs);
        Assert.Null(ping.AvgRttMs);
        Assert.Null(ping.MaxRttMs);
        Assert.Null(ping.StddevRttMs);
        Assert.Empty(ping.Responses);
    }

    [Fact]
    public void Truncated_ping_is_a_failed_measurement_with_reason()
    {
        var line = ScamperLine("scamper-ping-loss-v4.jsonl", "ping");
        var cut = line[..(line.Length / 2)];

        var ping = ScamperPingParser.Parse(cut, Lab with { Target = Ip("11.0.9.10") });

        Assert.False(ping.Success);
        Assert.StartsWith("truncated scamper ping JSON", ping.FailureReason);
        Assert.Equal(cut, ping.Raw);
        Assert.Equal(Ip("11.0.9.10"), ping.Target);
    }

    [Fact]
    public void Every_cut_of_a_real_ping_is_a_failed_result_not_an_exception()
    {
        var bytes = Encoding.UTF8.GetBytes(ScamperLine("scamper-ping-loss-v4.jsonl", "ping"));

        for (int length = 0; length < bytes.Length; length++)
        {
            var ping = ScamperPingParser.Parse(bytes.AsSpan(0, length), Lab);
            Assert.False(ping.Success, $"a cut at {length} bytes parsed as a complete ping");
            Assert.False(string.IsNullOrEmpty(ping.FailureReason));
        }
    }

    [Fact]
    public void Trace_given_to_the_ping_parser_is_refused()
    {
        var ping = ScamperPingParser.Parse(ScamperLine("scamper-trace-icmp-paris-v4.jsonl", "trace"), Lab);

        Assert.False(ping.Success);
        Assert.Equal("not a ping object: type is trace", ping.FailureReason);
    }

    [Theory]
    [InlineData("\"replies\":5", "\"replies\":6", "ping reports 6 replies to 5 probes")]
    [InlineData("\"ping_sent\":5, ", "", "ping has no ping_sent")]
    [InlineData("\"seq\":1, ", "", "responses[1] lacks seq or rtt")]
    [InlineData("\"from\":\"11.0.9.10\", \"seq\":2", "\"from\":\"eleven\", \"seq\":2", "responses[2]: from 'eleven' is not an IP address")]
    public void Invalid_ping_fields_fail_with_a_reason_naming_them(string find, string replace, string reason)
    {
        var line = ScamperLine("scamper-ping-v4.jsonl", "ping");
        Assert.Contains(find, line);

        var ping = ScamperPingParser.Parse(line.Replace(find, replace), Lab);

        Assert.False(ping.Success);
        Assert.Equal(reason, ping.FailureReason);
    }
}
