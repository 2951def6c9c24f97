using System.Text;
using CyberWatch.Measurement;
using CyberWatch.Measurement.Parsing;
using static CyberWatch.Tests.Measurement.Fixture;

namespace CyberWatch.Tests.Measurement;

public sealed class ScamperOutputParserTests
{
    private static readonly ProbeContext Lab = new("lab-vp");

    [Fact]
    public void Cycle_markers_around_a_trace_are_skipped()
    {
        var output = ScamperOutputParser.Parse(Text("scamper-trace-icmp-paris-v4.jsonl"), Lab);

        var trace = Assert.Single(output.Traces);
        Assert.True(trace.Success, trace.FailureReason);
        Assert.Equal(ScamperLine("scamper-trace-icmp-paris-v4.jsonl", "trace"), trace.Raw);
        Assert.Empty(output.Pings);
        Assert.Empty(output.Problems);
    }

    [Fact]
    public void Attach_mode_session_yields_the_trace_the_ping_and_the_refused_command()
    {
        var output = ScamperOutputParser.Parse(Text("scamper-attach-session.txt"), Lab);

        var trace = Assert.Single(output.Traces);
        Assert.True(trace.Success, trace.FailureReason);
        Assert.Equal(Ip("11.0.9.10"), trace.Target);
        Assert.Equal(TraceStopReason.Completed, trace.StopReason);
        var ping = Assert.Single(output.Pings);
        Assert.True(ping.Success, ping.FailureReason);
        Assert.Equal(Ip("2a0c:9a40:9::10"), ping.Target);
        Assert.Equal(3, ping.Replies);
        Assert.Equal(["line 7: scamper refused a command: ERR command not accepted"], output.Problems);
    }

    [Fact]
    public void Truncated_trace_line_in_a_stream_is_a_failed_trace()
    {
        var output = ScamperOutputParser.Parse(Text("scamper-trace-truncated.handcrafted.jsonl"), Lab);

        var trace = Assert.Single(output.Traces);
        Assert.False(trace.Success);
        Assert.StartsWith("truncated scamper trace JSON", trace.FailureReason);
        Assert.Empty(output.Problems);
    }

    [Fact]
    public void Text_that_is_not_scamper_output_is_reported_line_by_line()
    {
        var output = ScamperOutputParser.Parse(Text("garbage.handcrafted.txt"), Lab);

        Assert.Empty(output.Traces);
        Assert.Empty(output.Pings);
        Assert.Equal(2, output.Problems.Length);
        Assert.StartsWith("line 1: not scamper JSON or attach protocol: 'scamper: could not open /dev/bpf'", output.Problems[0]);
    }

    [Fact]
    public void Json_cut_before_its_type_is_a_problem_not_a_guess()
    {
        var output = ScamperOutputParser.Parse("{\"type\":\"tra", Lab);

        Assert.Empty(output.Traces);
        Assert.Equal(["line 1: truncated scamper JSON: the input ends after 12 bytes inside an unfinished object"], output.Problems);
    }

    [Theory]
    [InlineData("", ScamperLineKind.Control)]
    [InlineData("OK", ScamperLineKind.Control)]
    [InlineData("OK id-12", ScamperLineKind.Control)]
    [InlineData("MORE", ScamperLineKind.Control)]
    [InlineData("DATA 1666", ScamperLineKind.Control)]
    [InlineData("DATA x", ScamperLineKind.Unexpected)]
    [InlineData("ERR command not accepted", ScamperLineKind.Error)]
    [InlineData("hello", ScamperLineKind.Unexpected)]
    [InlineData("{\"type\":\"trace\",\"version\":\"0.1\"", ScamperLineKind.Trace)]
    [InlineData("{\"type\":\"ping\"}", ScamperLineKind.Ping)]
    [InlineData("{\"type\":\"cycle-stop\", \"list_name\":\"default\"", ScamperLineKind.OtherJson)]
    [InlineData("{\"version\":\"0.1\", \"type\":\"trace\"}", ScamperLineKind.Trace)]
    [InlineData("{\"ty", ScamperLineKind.UnknownJson)]
    [InlineData("{\"type\":7}", ScamperLineKind.UnknownJson)]
    [InlineData("{]", ScamperLineKind.UnknownJson)]
    public void Lines_are_classified_by_protocol_keyword_or_json_type(string line, ScamperLineKind kind)
    {
        Assert.Equal(kind, ScamperOutputParser.Classify(Encoding.UTF8.GetBytes(line)));
    }

    [Fact]
    public void Every_capture_in_the_fixtures_parses_without_problems()
    {
        foreach (var file in new[]
                 {
                     "scamper-trace-icmp-paris-v4.jsonl", "scamper-trace-icmp-paris-v6.jsonl", "scamper-trace-udp-q3-all-attempts-v4.jsonl",
                     "scamper-trace-perpacket-lb-q3-v4.jsonl", "scamper-trace-perpacket-lb-q2-v6.jsonl", "scamper-trace-unreach-host-v4.jsonl",
                     "scamper-trace-unreach-net-v4.jsonl", "scamper-trace-gaplimit-v4.jsonl", "scamper-trace-no-replies-v4.jsonl",
                     "scamper-trace-loop-v4.jsonl", "scamper-trace-hoplimit-v4.jsonl", "scamper-trace-mpls-icmpext.handcrafted.jsonl",
                     "scamper-ping-v4.jsonl", "scamper-ping-v6.jsonl", "scamper-ping-loss-v4.jsonl", "scamper-ping-all-lost-v4.jsonl",
                 })
        {
            var output = ScamperOutputParser.Parse(Text(file), Lab);
            Assert.Empty(output.Problems);
            Assert.Equal(1, output.Traces.Length + output.Pings.Length);
            Assert.All(output.Traces, t => Assert.True(t.Success, $"{file}: {t.FailureReason}"));
            Assert.All(output.Pings, p => Assert.True(p.Success, $"{file}: {p.FailureReason}"));
        }
    }
}
