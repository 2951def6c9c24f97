using CyberWatch.Measurement;
using CyberWatch.Measurement.Parsing;
using static CyberWatch.Tests.Measurement.Fixture;

namespace CyberWatch.Tests.Measurement;

public sealed class MtrJsonParserTests
{
    private static readonly ProbeContext Lab = new("lab-vp");

    [Fact]
    public void Mtr_report_gives_one_hop_per_ttl_with_its_statistics()
    {
        var raw = Text("mtr-v4.json");

        var trace = MtrJsonParser.Parse(raw, Lab);

        Assert.True(trace.Success, trace.FailureReason);
        Assert.Equal(ProbeTool.Mtr, trace.Tool);
        Assert.Equal(ProbeMethod.Icmp, trace.Method);
        Assert.Equal(Ip("11.0.9.10"), trace.Target);
        Assert.Null(trace.Source); // mtr's "src" is the host name of the vantage point, not an address
        Assert.Equal([1, 2, 3, 4, 5, 6], trace.Hops.Select(h => h.ProbeTtl));
        Assert.All(trace.Hops, h => Assert.Equal(0, h.ReplyIndex));
        Assert.Equal(6, trace.HopCount);
        Assert.Equal(5, trace.RespondingHops);

        var first = trace.Hops[0];
        Assert.Equal(Ip("11.0.1.1"), first.Address);
        Assert.Equal(0.0, first.LossPct);
        Assert.Equal(3, first.Sent);
        Assert.Equal((0.111, 0.135, 0.11, 0.185, 0.042), (first.LastMs!.Value, first.AvgMs!.Value, first.BestMs!.Value, first.WorstMs!.Value, first.StdevMs!.Value));
        Assert.Equal(first.AvgMs, first.RttMs);
        Assert.Null(first.IcmpType);

        Assert.True(trace.DestinationReached);
        Assert.Equal(TraceStopReason.Completed, trace.StopReason);
        Assert.Equal(0.2, trace.DestinationRttMs);
        Assert.Equal((0.138, 0.2, 0.267), (trace.MinRttMs!.Value, trace.AvgRttMs!.Value, trace.MaxRttMs!.Value));
        Assert.Equal(raw, trace.Raw);
    }

    [Fact]
    public void Mtr_unknown_host_is_a_silent_hop()
    {
        var trace = MtrJsonParser.Parse(Text("mtr-v6.json"), Lab);

        Assert.True(trace.Success, trace.FailureReason);
        var silent = Assert.Single(trace.Hops, h => h.IsSilent);
        Assert.Equal(4, silent.ProbeTtl);
        Assert.Equal(100.0, silent.LossPct);
        Assert.Equal(3, silent.Sent);
        // mtr prints 0.0 for every time of a silent hop; those are not measurements.
        Assert.Null(silent.RttMs);
        Assert.Null(silent.BestMs);
        Assert.Null(silent.AvgMs);
        Assert.Null(silent.WorstMs);
        Assert.Equal(Ip("2a0c:9a40:2::2"), trace.Hops[1].Address);
    }

    [Theory]
    [InlineData("mtr-blackhole-v4.json", 4, 3)]
    [InlineData("mtr-net-unreach-v4.json", 3, 3)]
    public void Mtr_short_of_the_target_has_no_stop_reason(string file, int hopCount, int responding)
    {
        var trace = MtrJsonParser.Parse(Text(file), Lab);

        Assert.True(trace.Success, trace.FailureReason);
        Assert.False(trace.DestinationReached);
        Assert.Null(trace.StopReason);
        Assert.Null(trace.DestinationRttMs);
        Assert.Equal(hopCount, trace.HopCount);
        Assert.Equal(responding, trace.RespondingHops);
    }

    [Fact]
    public void Mtr_started_past_ttl_1_keeps_the_real_ttls_and_the_context_method()
    {
        var trace = MtrJsonParser.Parse(Text("mtr-udp-first-ttl-2-v6.json"), Lab with { Method = ProbeMethod.Udp });

        Assert.True(trace.Success, trace.FailureReason);
        Assert.Equal(ProbeMethod.Udp, trace.Method);
        Assert.Equal([2, 3, 4, 5, 6], trace.Hops.Select(h => h.ProbeTtl));
        Assert.Equal(2, trace.Hops[0].Sent);
        Assert.True(trace.DestinationReached);
    }

    [Fact]
    public void Truncated_mtr_json_is_a_failed_measurement_with_reason()
    {
        var raw = Text("mtr-truncated.handcrafted.json");

        var trace = MtrJsonParser.Parse(raw, Lab with { Target = Ip("11.0.9.10") });

        Assert.False(trace.Success);
        Assert.StartsWith("truncated mtr JSON", trace.FailureReason);
        Assert.Equal(raw, trace.Raw);
        Assert.Equal(Ip("11.0.9.10"), trace.Target);
        Assert.Equal(ProbeTool.Mtr, trace.Tool);
    }

    [Fact]
    public void Mtr_run_without_numeric_output_is_refused()
    {
        var trace = MtrJsonParser.Parse(Text("mtr-hostnames.handcrafted.json"), Lab);

        Assert.False(trace.Success);
        Assert.Equal("hubs[0]: host 'r1.lab.invalid' is not an IP address (mtr must run with -n)", trace.FailureReason);
    }

    [Theory]
    [InlineData("garbage.handcrafted.txt", "malformed mtr JSON at line 1, byte 1")]
    [InlineData("scamper-ping-v4.jsonl", "malformed mtr JSON at line 2")]
    public void Other_output_is_a_failed_measurement(string file, string reasonStart)
    {
        var trace = MtrJsonParser.Parse(Text(file), Lab);

        Assert.False(trace.Success);
        Assert.StartsWith(reasonStart, trace.FailureReason);
    }

    [Theory]
    [InlineData("", "empty mtr output")]
    [InlineData("{}", "not an mtr JSON report: no report object")]
    [InlineData("{\"report\":{\"mtr\":{\"dst\":\"11.0.9.10\"},\"hubs\":[]}}", "mtr report lists no hops")]
    [InlineData("{\"report\":{\"mtr\":{\"dst\":\"example.net\"},\"hubs\":[]}}", "mtr dst 'example.net' is not an IP address")]
    [InlineData("{\"report\":{\"mtr\":{\"dst\":\"11.0.9.10\"}}}", "mtr report has no report.hubs array")]
    public void Incomplete_reports_fail_with_a_reason(string json, string reason)
    {
        var trace = MtrJsonParser.Parse(json, Lab);

        Assert.False(trace.Success);
        Assert.Equal(reason, trace.FailureReason);
    }

    [Theory]
    [InlineData("\"Loss%\": 0.0,", "\"Loss%\": \"0.0%\",", "hubs[0]: Loss% is missing or not a percentage")]
    [InlineData("\"count\": 3,", "\"count\": 7,", "hubs[2]: count 7 does not follow 2")]
    [InlineData("\"Snt\": 3,", "", "hubs[0]: Snt is missing or not an integer in 0..2147483647")]
    public void Invalid_hub_fields_fail_with_a_reason_naming_them(string find, string replace, string reason)
    {
        var raw = Text("mtr-v4.json");
        int at = raw.IndexOf(find, StringComparison.Ordinal);
        Assert.True(at >= 0);

        var trace = MtrJsonParser.Parse(string.Concat(raw.AsSpan(0, at), replace, raw.AsSpan(at + find.Length)), Lab);

        Assert.False(trace.Success);
        Assert.Equal(reason, trace.FailureReason);
    }

    [Fact]
    public void Every_cut_of_a_real_report_is_a_failed_result_not_an_exception()
    {
        var raw = Text("mtr-v6.json").TrimEnd();

        for (int length = 0; length < raw.Length; length++)
        {
            var trace = MtrJsonParser.Parse(raw[..length], Lab);
            Assert.False(trace.Success, $"a cut at {length} characters parsed as a complete report");
            Assert.False(string.IsNullOrEmpty(trace.FailureReason));
        }
        Assert.True(MtrJsonParser.Parse(raw, Lab).Success);
    }
}
