using CyberWatch.Measurement;
using CyberWatch.Measurement.Parsing;
using static CyberWatch.Tests.Measurement.Fixture;

namespace CyberWatch.Tests.Measurement;

public sealed class TracerouteTextParserTests
{
    private static readonly ProbeContext Lab = new("lab-vp");

    [Fact]
    public void Traceroute_text_gives_one_hop_per_reply_and_a_silent_hop_per_starred_ttl()
    {
        var raw = Text("traceroute-v4.txt");

        var trace = TracerouteTextParser.Parse(raw, Lab);

        Assert.True(trace.Success, trace.FailureReason);
        Assert.Equal(ProbeTool.Traceroute, trace.Tool);
        Assert.Equal(ProbeMethod.Udp, trace.Method); // traceroute's default, the text does not say
        Assert.Equal(Ip("11.0.9.10"), trace.Target);
        Assert.Equal(TraceStopReason.Completed, trace.StopReason);
        Assert.Equal(6, trace.HopCount);
        Assert.Equal(5, trace.RespondingHops);
        Assert.Equal(5 * 3 + 1, trace.Hops.Length);

        var ttl1 = trace.Hops.Where(h => h.ProbeTtl == 1).ToList();
        Assert.Equal([0.119, 0.006, 0.005], ttl1.Select(h => h.RttMs!.Value));
        Assert.Equal([0, 1, 2], ttl1.Select(h => h.ReplyIndex));
        Assert.All(ttl1, h => Assert.Equal(Ip("11.0.1.1"), h.Address));
        Assert.All(ttl1, h => Assert.Null(h.IcmpType));

        var silent = Assert.Single(trace.Hops, h => h.IsSilent);
        Assert.Equal(4, silent.ProbeTtl);

        Assert.True(trace.DestinationReached);
        Assert.Equal(0.016, trace.DestinationRttMs);
        Assert.Equal((0.008, 0.016), (trace.MinRttMs!.Value, trace.MaxRttMs!.Value));
        Assert.Equal((0.016 + 0.010 + 0.008) / 3, trace.AvgRttMs!.Value, 9);
        Assert.Equal(raw, trace.Raw);
    }

    [Fact]
    public void Traceroute_text_with_two_addresses_for_one_ttl_keeps_both()
    {
        // " 2  11.0.3.2  0.015 ms 11.0.2.2  0.011 ms 11.0.3.2  0.006 ms": per-flow ECMP on r1.
        var trace = TracerouteTextParser.Parse(Text("traceroute-v4.txt"), Lab);

        var ttl2 = trace.Hops.Where(h => h.ProbeTtl == 2).ToList();
        Assert.Equal(["11.0.3.2", "11.0.2.2", "11.0.3.2"], ttl2.Select(h => h.Address!.ToString()));
        Assert.Equal([0.015, 0.011, 0.006], ttl2.Select(h => h.RttMs!.Value));
        Assert.Equal([0, 1, 2], ttl2.Select(h => h.ReplyIndex));
    }

    [Fact]
    public void Ipv6_traceroute_keeps_both_routers_at_ttl_2()
    {
        var trace = TracerouteTextParser.Parse(Text("traceroute-v6.txt"), Lab);

        Assert.True(trace.Success, trace.FailureReason);
        Assert.Equal(Ip("2a0c:9a40:9::10"), trace.Target);
        Assert.Equal(["2a0c:9a40:3::2", "2a0c:9a40:2::2", "2a0c:9a40:3::2"], trace.Hops.Where(h => h.ProbeTtl == 2).Select(h => h.Address!.ToString()));
        Assert.Equal(TraceStopReason.Completed, trace.StopReason);
    }

    [Fact]
    public void Host_unreachable_annotation_becomes_icmp_type_and_code_and_stops_the_trace()
    {
        var trace = TracerouteTextParser.Parse(Text("traceroute-host-unreach-v4.txt"), Lab);

        Assert.True(trace.Success, trace.FailureReason);
        Assert.Equal(TraceStopReason.Unreach, trace.StopReason);
        Assert.False(trace.DestinationReached);
        var last = trace.Hops.Where(h => h.ProbeTtl == 6).ToList();
        Assert.Equal(3, last.Count);
        Assert.All(last, h =>
        {
            Assert.Equal(Ip("11.0.7.2"), h.Address);
            Assert.Equal((3, 1), (h.IcmpType!.Value, h.IcmpCode!.Value));
        });
        Assert.Equal(3057.702, last[0].RttMs);
    }

    [Fact]
    public void Net_unreachable_after_silent_ttls_keeps_the_star_and_both_replies()
    {
        // " 8  * 11.0.4.2  0.095 ms !N  0.013 ms !N"
        var trace = TracerouteTextParser.Parse(Text("traceroute-net-unreach-v4.txt"), Lab);

        Assert.True(trace.Success, trace.FailureReason);
        Assert.Equal([3, 4, 5, 6, 7], trace.Hops.Where(h => h.IsSilent).Select(h => h.ProbeTtl));
        var last = trace.Hops.Where(h => h.ProbeTtl == 8).ToList();
        Assert.Equal([0.095, 0.013], last.Select(h => h.RttMs!.Value));
        Assert.All(last, h => Assert.Equal((3, 0), (h.IcmpType!.Value, h.IcmpCode!.Value)));
        Assert.Equal(TraceStopReason.Unreach, trace.StopReason);
        Assert.Equal(8, trace.HopCount);
    }

    [Fact]
    public void Ipv6_net_unreachable_maps_to_icmpv6_codes()
    {
        var trace = TracerouteTextParser.Parse(Text("traceroute-net-unreach-v6.txt"), Lab);

        Assert.True(trace.Success, trace.FailureReason);
        var last = trace.Hops.Where(h => h.ProbeTtl == 3).ToList();
        Assert.Equal(["2a0c:9a40:4::2", "2a0c:9a40:5::2", "2a0c:9a40:4::2"], last.Select(h => h.Address!.ToString()));
        Assert.All(last, h => Assert.Equal((1, 0), (h.IcmpType!.Value, h.IcmpCode!.Value)));
        Assert.Equal(TraceStopReason.Unreach, trace.StopReason);
    }

    [Fact]
    public void Trace_reaching_the_hop_limit_stops_there()
    {
        var trace = TracerouteTextParser.Parse(Text("traceroute-blackhole-v4.txt"), Lab);

        Assert.True(trace.Success, trace.FailureReason);
        Assert.Equal(TraceStopReason.HopLimit, trace.StopReason);
        Assert.Equal(8, trace.HopCount);
        Assert.Equal([4, 5, 6, 7, 8], trace.Hops.Where(h => h.IsSilent).Select(h => h.ProbeTtl));
    }

    [Fact]
    public void Trace_started_past_ttl_1_with_two_probes_keeps_the_real_ttls_and_context_method()
    {
        var trace = TracerouteTextParser.Parse(Text("traceroute-tcp-first-ttl-2-v4.txt"), Lab with { Method = ProbeMethod.Tcp });

        Assert.True(trace.Success, trace.FailureReason);
        Assert.Equal(ProbeMethod.Tcp, trace.Method);
        Assert.Equal(2, trace.Hops[0].ProbeTtl);
        Assert.Equal(["11.0.2.2", "11.0.3.2"], trace.Hops.Where(h => h.ProbeTtl == 2).Select(h => h.Address!.ToString()));
        Assert.Equal(2 * 4 + 1, trace.Hops.Length);
    }

    [Fact]
    public void Icmp_traceroute_under_per_packet_balancing_keeps_each_router()
    {
        var trace = TracerouteTextParser.Parse(Text("traceroute-icmp-perpacket-lb-v4.txt"), Lab with { Method = ProbeMethod.Icmp });

        Assert.Equal(["11.0.2.2", "11.0.3.2", "11.0.2.2"], trace.Hops.Where(h => h.ProbeTtl == 2).Select(h => h.Address!.ToString()));
    }

    [Theory]
    [InlineData("!X", 3, 13)]
    [InlineData("!P", 3, 2)]
    [InlineData("!S", 3, 5)]
    [InlineData("!V", 3, 14)]
    [InlineData("!C", 3, 15)]
    [InlineData("!<10>", 3, 10)]
    [InlineData("!<5-1>", 5, 1)]
    [InlineData("!F-1480", 3, 4)]
    public void Ipv4_annotations_map_to_icmp_type_and_code(string annotation, int type, int code)
    {
        var text = $"traceroute to 11.0.0.9 (11.0.0.9), 30 hops max, 60 byte packets\n 1  11.0.0.1  0.512 ms {annotation}\n";

        var trace = TracerouteTextParser.Parse(text, Lab);

        Assert.True(trace.Success, trace.FailureReason);
        var hop = Assert.Single(trace.Hops);
        Assert.Equal((type, code), (hop.IcmpType!.Value, hop.IcmpCode!.Value));
    }

    [Theory]
    [InlineData("!N", 1, 0)]
    [InlineData("!X", 1, 1)]
    [InlineData("!H", 1, 3)]
    [InlineData("!F-1280", 2, 0)]
    public void Ipv6_annotations_map_to_icmpv6_type_and_code(string annotation, int type, int code)
    {
        var text = $"traceroute to 2a0c:9a40:9::10 (2a0c:9a40:9::10), 30 hops max, 80 byte packets\n 1  2a0c:9a40:1::1  0.512 ms {annotation}\n";

        var hop = Assert.Single(TracerouteTextParser.Parse(text, Lab).Hops);

        Assert.Equal((type, code), (hop.IcmpType!.Value, hop.IcmpCode!.Value));
    }

    [Fact]
    public void Truncated_traceroute_text_is_a_failed_measurement_with_reason()
    {
        var raw = Text("traceroute-truncated.handcrafted.txt");

        var trace = TracerouteTextParser.Parse(raw, Lab);

        Assert.False(trace.Success);
        Assert.Equal("line 6: RTT '0.0' is not followed by 'ms'", trace.FailureReason);
        Assert.Equal(Ip("11.0.9.10"), trace.Target);
        Assert.Equal(raw, trace.Raw);
    }

    [Fact]
    public void Every_cut_of_real_traceroute_text_is_a_failed_result()
    {
        var raw = Text("traceroute-net-unreach-v4.txt");

        for (int length = 0; length < raw.Length; length++)
        {
            var trace = TracerouteTextParser.Parse(raw[..length], Lab);
            Assert.False(trace.Success, $"a cut at {length} characters parsed as a complete trace");
            Assert.False(string.IsNullOrEmpty(trace.FailureReason));
        }
        Assert.True(TracerouteTextParser.Parse(raw, Lab).Success);
    }

    [Fact]
    public void Output_cut_at_a_line_end_before_any_stop_is_refused()
    {
        var raw = Text("traceroute-v4.txt");
        var cut = raw[..(raw.IndexOf(" 6  ", StringComparison.Ordinal))];

        var trace = TracerouteTextParser.Parse(cut, Lab);

        Assert.False(trace.Success);
        Assert.Equal("output ends at TTL 5 without the target, an unreachable or the 30-hop limit: truncated?", trace.FailureReason);
    }

    [Fact]
    public void Traceroute_without_numeric_output_is_refused()
    {
        var trace = TracerouteTextParser.Parse(Text("traceroute-hostnames.handcrafted.txt"), Lab);

        Assert.False(trace.Success);
        Assert.Equal("line 2: unexpected 'r1.lab.invalid' (traceroute must run with -n)", trace.FailureReason);
    }

    [Theory]
    [InlineData("", "empty traceroute output")]
    [InlineData("garbage", "line 1: expected the traceroute header, found 'garbage'")]
    [InlineData("traceroute to 11.0.9.10 (11.0.9.10), 30 hops max, 60 byte packets\n", "no hop lines after the header")]
    [InlineData("traceroute to host (example.net), 30 hops max, 60 byte packets\n 1  *\n", "line 1: header target 'example.net' is not an IP address")]
    [InlineData("traceroute to 11.0.9.10 (11.0.9.10), 30 hops max, 60 byte packets\n 1  * *\n 3  * *\n", "line 3: TTL 3 does not follow 1")]
    [InlineData("traceroute to 11.0.9.10 (11.0.9.10), 30 hops max, 60 byte packets\n 1  * * *\n 2  * *\n", "line 3: TTL 2 has 2 probes where earlier TTLs have 3; the output is cut or not traceroute -n")]
    [InlineData("traceroute to 11.0.9.10 (11.0.9.10), 30 hops max, 60 byte packets\n 1  0.5 ms\n", "line 2: RTT '0.5' before any address")]
    [InlineData("traceroute to 11.0.9.10 (11.0.9.10), 30 hops max, 60 byte packets\n 1  11.0.9.10  0.5 ms !Q\n", "line 2: unknown annotation '!Q'")]
    [InlineData("traceroute to 11.0.9.10 (11.0.9.10), 30 hops max, 60 byte packets\n 1  11.0.9.10  0.5 ms", "truncated traceroute output: the last line has no newline")]
    public void Malformed_text_fails_with_a_reason(string text, string reason)
    {
        var trace = TracerouteTextParser.Parse(text, Lab);

        Assert.False(trace.Success);
        Assert.Equal(reason, trace.FailureReason);
    }

    [Fact]
    public void Mtr_json_given_to_the_traceroute_parser_is_refused()
    {
        var trace = TracerouteTextParser.Parse(Text("mtr-v4.json"), Lab);

        Assert.False(trace.Success);
        Assert.Equal("line 1: expected the traceroute header, found '{'", trace.FailureReason);
    }
}
