using System.Text;
using CyberWatch.Measurement;
using CyberWatch.Measurement.Parsing;
using static CyberWatch.Tests.Measurement.Fixture;

namespace CyberWatch.Tests.Measurement;

public sealed class ScamperTraceParserTests
{
    private static readonly ProbeContext Lab = new("lab-vp");

    [Fact]
    public void Icmp_paris_trace_reads_every_hop_source_start_and_destination()
    {
        var line = ScamperLine("scamper-trace-icmp-paris-v4.jsonl", "trace");

        var trace = ScamperTraceParser.Parse(line, Lab);

        Assert.True(trace.Success, trace.FailureReason);
        Assert.Null(trace.FailureReason);
        Assert.Equal(ProbeTool.Scamper, trace.Tool);
        Assert.Equal(ProbeMethod.IcmpParis, trace.Method);
        Assert.Equal(Ip("11.0.9.10"), trace.Target);
        Assert.Equal(Ip("11.0.1.2"), trace.Source);
        Assert.Equal("lab-vp", trace.Vantage);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1795394136).AddTicks(813186 * 10), trace.StartedAt);
        Assert.Equal(TraceStopReason.Completed, trace.StopReason);
        Assert.Equal(0, trace.StopData);
        Assert.Equal(6, trace.HopCount);
        Assert.Equal(5, trace.RespondingHops);
        Assert.Equal([1, 2, 3, 4, 5, 6], trace.Hops.Select(h => h.ProbeTtl));
        Assert.Equal(["11.0.1.1", "11.0.2.2", "11.0.4.2", null, "11.0.7.2", "11.0.9.10"], trace.Hops.Select(h => h.Address?.ToString()));

        var first = trace.Hops[0];
        Assert.Equal(0.108, first.RttMs);
        Assert.Equal(64, first.ReplyTtl);
        Assert.Equal(11, first.IcmpType);
        Assert.Equal(0, first.IcmpCode);
        Assert.Empty(first.MplsLabels);
        Assert.Null(first.LossPct);

        Assert.True(trace.DestinationReached);
        Assert.Equal(0, trace.Hops[5].IcmpType); // echo reply from the target
        Assert.Equal(0.075, trace.DestinationRttMs);
        Assert.Equal(0.075, trace.MinRttMs);
        Assert.Equal(0.075, trace.AvgRttMs);
        Assert.Equal(0.075, trace.MaxRttMs);
        Assert.Equal(line, trace.Raw);
    }

    [Fact]
    public void Trace_with_silent_hops_keeps_gaps_as_null_hops()
    {
        var trace = ScamperTraceParser.Parse(ScamperLine("scamper-trace-icmp-paris-v6.jsonl", "trace"), Lab);

        Assert.True(trace.Success, trace.FailureReason);
        var silent = Assert.Single(trace.Hops, h => h.IsSilent);
        Assert.Equal(4, silent.ProbeTtl);
        Assert.Equal(0, silent.ReplyIndex);
        Assert.Null(silent.Address);
        Assert.Null(silent.RttMs);
        Assert.Null(silent.IcmpType);
        Assert.Empty(silent.MplsLabels);
    }

    [Fact]
    public void Ipv6_trace_keeps_ipv6_addresses_and_icmpv6_types()
    {
        var trace = ScamperTraceParser.Parse(ScamperLine("scamper-trace-icmp-paris-v6.jsonl", "trace"), Lab);

        Assert.Equal(Ip("2a0c:9a40:9::10"), trace.Target);
        Assert.Equal(Ip("2a0c:9a40:1::2"), trace.Source);
        Assert.Equal(Ip("2a0c:9a40:2::2"), trace.Hops[1].Address);
        Assert.Equal(3, trace.Hops[0].IcmpType); // ICMPv6 time exceeded
        Assert.Equal(129, trace.Hops[5].IcmpType); // ICMPv6 echo reply
        Assert.True(trace.DestinationReached);
        Assert.Equal(0.138, trace.DestinationRttMs);
    }

    [Fact]
    public void Several_routers_answering_one_ttl_are_kept_as_numbered_replies()
    {
        var trace = ScamperTraceParser.Parse(ScamperLine("scamper-trace-perpacket-lb-q3-v4.jsonl", "trace"), Lab);

        Assert.True(trace.Success, trace.FailureReason);
        var ttl2 = trace.Hops.Where(h => h.ProbeTtl == 2).ToList();
        Assert.Equal([0, 1, 2], ttl2.Select(h => h.ReplyIndex));
        Assert.Equal(["11.0.2.2", "11.0.3.2", "11.0.2.2"], ttl2.Select(h => h.Address!.ToString()));
        Assert.Equal([0.051, 0.067, 0.104], ttl2.Select(h => h.RttMs!.Value));
        Assert.Equal(3 * 5 + 1, trace.Hops.Length); // five answering TTLs with three replies each, one silent
        Assert.Equal(5, trace.RespondingHops);

        Assert.Equal(0.192, trace.DestinationRttMs);
        Assert.Equal(0.109, trace.MinRttMs);
        Assert.Equal(0.192, trace.MaxRttMs);
        Assert.Equal((0.192 + 0.109 + 0.147) / 3, trace.AvgRttMs!.Value, 9);
    }

    [Fact]
    public void Several_routers_at_one_ttl_over_ipv6_are_kept()
    {
        var trace = ScamperTraceParser.Parse(ScamperLine("scamper-trace-perpacket-lb-q2-v6.jsonl", "trace"), Lab);

        Assert.Equal(["2a0c:9a40:3::2", "2a0c:9a40:2::2"], trace.Hops.Where(h => h.ProbeTtl == 2).Select(h => h.Address!.ToString()));
        Assert.Equal(["2a0c:9a40:5::2", "2a0c:9a40:4::2"], trace.Hops.Where(h => h.ProbeTtl == 3).Select(h => h.Address!.ToString()));
    }

    [Fact]
    public void Udp_trace_with_all_attempts_keeps_each_reply_and_port_unreachable_from_the_target()
    {
        var trace = ScamperTraceParser.Parse(ScamperLine("scamper-trace-udp-q3-all-attempts-v4.jsonl", "trace"), Lab);

        Assert.Equal(ProbeMethod.Udp, trace.Method);
        var last = trace.Hops.Where(h => h.ProbeTtl == 6).ToList();
        Assert.Equal(3, last.Count);
        Assert.All(last, h => Assert.Equal((3, 3), (h.IcmpType!.Value, h.IcmpCode!.Value)));
        Assert.True(trace.DestinationReached);
        Assert.Equal(TraceStopReason.Completed, trace.StopReason);
    }

    [Theory]
    [InlineData("scamper-trace-unreach-host-v4.jsonl", TraceStopReason.Unreach, 1, 6, false)]
    [InlineData("scamper-trace-unreach-net-v4.jsonl", TraceStopReason.Unreach, 0, 4, false)]
    [InlineData("scamper-trace-gaplimit-v4.jsonl", TraceStopReason.GapLimit, 0, 8, false)]
    [InlineData("scamper-trace-loop-v4.jsonl", TraceStopReason.Loop, 0, 4, false)]
    [InlineData("scamper-trace-hoplimit-v4.jsonl", TraceStopReason.HopLimit, 0, 3, false)]
    [InlineData("scamper-trace-icmp-paris-v4.jsonl", TraceStopReason.Completed, 0, 6, true)]
    public void Stop_reason_and_stop_data_are_kept(string file, TraceStopReason reason, int stopData, int hopCount, bool reached)
    {
        var trace = ScamperTraceParser.Parse(ScamperLine(file, "trace"), Lab);

        Assert.True(trace.Success, trace.FailureReason);
        Assert.Equal(reason, trace.StopReason);
        Assert.Equal(stopData, trace.StopData);
        Assert.Equal(hopCount, trace.HopCount);
        Assert.Equal(hopCount, trace.Hops[^1].ProbeTtl);
        Assert.Equal(reached, trace.DestinationReached);
        if (!reached)
            Assert.Null(trace.DestinationRttMs);
    }

    [Fact]
    public void Host_unreachable_hop_keeps_its_icmp_type_code_and_rtt()
    {
        var trace = ScamperTraceParser.Parse(ScamperLine("scamper-trace-unreach-host-v4.jsonl", "trace"), Lab);

        var last = trace.Hops[^1];
        Assert.Equal(6, last.ProbeTtl);
        Assert.Equal(Ip("11.0.7.2"), last.Address);
        Assert.Equal((3, 1), (last.IcmpType!.Value, last.IcmpCode!.Value));
        Assert.Equal(3057.469, last.RttMs);
    }

    [Fact]
    public void Gap_limited_trace_keeps_the_probed_silent_ttls_up_to_hop_count()
    {
        var trace = ScamperTraceParser.Parse(ScamperLine("scamper-trace-gaplimit-v4.jsonl", "trace"), Lab);

        Assert.Equal(8, trace.Hops.Length);
        Assert.Equal([4, 5, 6, 7, 8], trace.Hops.Where(h => h.IsSilent).Select(h => h.ProbeTtl));
        Assert.Equal(3, trace.RespondingHops);
    }

    [Fact]
    public void Trace_without_any_reply_is_silent_hops_from_the_first_ttl()
    {
        // scamper omits "hops" entirely when nothing answered; this one started at TTL 4 (-f 4).
        var trace = ScamperTraceParser.Parse(ScamperLine("scamper-trace-no-replies-v4.jsonl", "trace"), Lab);

        Assert.True(trace.Success, trace.FailureReason);
        Assert.Equal([4, 5, 6, 7, 8], trace.Hops.Select(h => h.ProbeTtl));
        Assert.All(trace.Hops, h => Assert.True(h.IsSilent));
        Assert.Equal(0, trace.RespondingHops);
        Assert.False(trace.DestinationReached);
    }

    [Fact]
    public void Mpls_label_stacks_from_icmp_extensions_are_kept_top_first()
    {
        var trace = ScamperTraceParser.Parse(ScamperLine("scamper-trace-mpls-icmpext.handcrafted.jsonl", "trace"), Lab);

        Assert.True(trace.Success, trace.FailureReason);
        Assert.Equal(
            [new MplsLabel { Label = 24005, TrafficClass = 0, BottomOfStack = false, Ttl = 1 },
             new MplsLabel { Label = 16, TrafficClass = 5, BottomOfStack = true, Ttl = 1 }],
            trace.Hops[1].MplsLabels);
        // The class 2 extension before the label stack carries nothing in scamper's JSON and is skipped.
        Assert.Equal([new MplsLabel { Label = 1048575, TrafficClass = 0, BottomOfStack = true, Ttl = 254 }], trace.Hops[2].MplsLabels);
        Assert.All(trace.Hops.Where(h => h.ProbeTtl is not (2 or 3)), h => Assert.Empty(h.MplsLabels));
    }

    [Fact]
    public void Truncated_scamper_json_is_a_failed_measurement_with_reason()
    {
        var line = ScamperLine("scamper-trace-truncated.handcrafted.jsonl", "trace");
        var context = Lab with { Target = Ip("11.0.9.10"), StartedAt = DateTimeOffset.UnixEpoch };

        var trace = ScamperTraceParser.Parse(line, context);

        Assert.False(trace.Success);
        Assert.StartsWith("truncated scamper trace JSON", trace.FailureReason);
        Assert.Equal(line, trace.Raw);
        Assert.Equal(ProbeTool.Scamper, trace.Tool);
        Assert.Equal(Ip("11.0.9.10"), trace.Target);
        Assert.Equal("lab-vp", trace.Vantage);
        Assert.Empty(trace.Hops);
    }

    [Fact]
    public void Every_cut_of_a_real_trace_is_a_failed_result_not_an_exception()
    {
        var bytes = Encoding.UTF8.GetBytes(ScamperLine("scamper-trace-perpacket-lb-q3-v4.jsonl", "trace"));

        for (int length = 0; length < bytes.Length; length++)
        {
            var trace = ScamperTraceParser.Parse(bytes.AsSpan(0, length), Lab);
            Assert.False(trace.Success, $"a cut at {length} bytes parsed as a complete trace");
            Assert.False(string.IsNullOrEmpty(trace.FailureReason));
        }
        Assert.True(ScamperTraceParser.Parse(bytes, Lab).Success);
    }

    [Fact]
    public void Corrupted_bytes_never_throw_and_any_accepted_trace_is_well_formed()
    {
        var original = Encoding.UTF8.GetBytes(ScamperLine("scamper-trace-mpls-icmpext.handcrafted.jsonl", "trace"));
        var random = new Random(20211212);
        var alphabet = "{}[]\":,0123456789.-eE \\u\u00e9abcdefx"u8.ToArray();

        for (int round = 0; round < 3000; round++)
        {
            var bytes = (byte[])original.Clone();
            for (int flips = random.Next(1, 4); flips > 0; flips--)
                bytes[random.Next(bytes.Length)] = random.Next(4) == 0 ? (byte)random.Next(256) : alphabet[random.Next(alphabet.Length)];

            var trace = ScamperTraceParser.Parse(bytes, Lab);

            if (!trace.Success)
            {
                Assert.False(string.IsNullOrEmpty(trace.FailureReason));
                continue;
            }
            Assert.NotNull(trace.Target);
            for (int i = 1; i < trace.Hops.Length; i++)
                Assert.True(trace.Hops[i].ProbeTtl > trace.Hops[i - 1].ProbeTtl
                    || (trace.Hops[i].ProbeTtl == trace.Hops[i - 1].ProbeTtl && trace.Hops[i].ReplyIndex == trace.Hops[i - 1].ReplyIndex + 1));
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n")]
    [InlineData(null)]
    public void Empty_output_is_a_failed_measurement(string? output)
    {
        var trace = ScamperTraceParser.Parse(output, Lab);

        Assert.False(trace.Success);
        Assert.Equal("empty scamper output", trace.FailureReason);
        Assert.Equal(output ?? "", trace.Raw);
    }

    [Fact]
    public void Garbage_is_a_failed_measurement_saying_where_it_broke()
    {
        var trace = ScamperTraceParser.Parse(Text("garbage.handcrafted.txt"), Lab);

        Assert.False(trace.Success);
        Assert.StartsWith("malformed scamper trace JSON at line 1, byte 1", trace.FailureReason);
    }

    [Theory]
    [InlineData("scamper-ping-v4.jsonl", "ping")]
    [InlineData("scamper-trace-icmp-paris-v4.jsonl", "cycle-start")]
    public void Another_scamper_object_type_is_not_a_trace(string file, string type)
    {
        var trace = ScamperTraceParser.Parse(ScamperLine(file, type), Lab);

        Assert.False(trace.Success);
        Assert.Equal($"not a trace object: type is {type}", trace.FailureReason);
    }

    [Fact]
    public void Probe_ttl_out_of_range_names_the_hop()
    {
        var trace = ScamperTraceParser.Parse(Text("scamper-trace-bad-probe-ttl.handcrafted.jsonl"), Lab);

        Assert.False(trace.Success);
        Assert.Equal("hops[2]: probe_ttl 300 is outside 1..255", trace.FailureReason);
        Assert.Equal(Ip("11.0.9.10"), trace.Target);
    }

    [Fact]
    public void Reply_beyond_hop_count_is_inconsistent_and_fails()
    {
        var line = ScamperLine("scamper-trace-icmp-paris-v4.jsonl", "trace").Replace("\"hop_count\":6", "\"hop_count\":2");

        var trace = ScamperTraceParser.Parse(line, Lab);

        Assert.False(trace.Success);
        Assert.Equal("reply at probe TTL 3 lies outside the probed range 1..2", trace.FailureReason);
    }

    [Fact]
    public void Scamper_error_stop_is_a_failed_measurement_that_keeps_its_hops()
    {
        var line = ScamperLine("scamper-trace-icmp-paris-v4.jsonl", "trace").Replace("\"COMPLETED\", \"stop_data\":0", "\"ERROR\", \"stop_data\":101");

        var trace = ScamperTraceParser.Parse(line, Lab);

        Assert.False(trace.Success);
        Assert.Equal("scamper stopped the trace with ERROR (stop_data 101)", trace.FailureReason);
        Assert.Equal(TraceStopReason.Error, trace.StopReason);
        Assert.Equal(6, trace.Hops.Length);
    }

    [Theory]
    [InlineData("\"stop_reason\":\"COMPLETED\"", "\"stop_reason\":\"DONE\"", "unknown stop_reason \"DONE\"")]
    [InlineData("\"method\":\"icmp-echo-paris\"", "\"method\":\"sctp\"", "unknown trace method \"sctp\"")]
    [InlineData("\"dst\":\"11.0.9.10\"", "\"dst\":\"example.net\"", "dst 'example.net' is not an IP address")]
    [InlineData("\"dst\":\"11.0.9.10\"", "\"dst\":\"0.834\"", "dst '0.834' is not an IP address")]
    [InlineData("\"addr\":\"11.0.1.1\"", "\"addr\":11", "hops[0]: addr is not a string (11)")]
    [InlineData("\"rtt\":0.108", "\"rtt\":-1", "hops[0]: rtt is not a non-negative number of milliseconds (-1)")]
    [InlineData("\"hop_count\":6, ", "", "trace has no hop_count")]
    [InlineData("\"dst\":\"11.0.9.10\", ", "", "trace has no dst")]
    public void Invalid_fields_fail_with_a_reason_naming_them(string find, string replace, string reason)
    {
        var line = ScamperLine("scamper-trace-icmp-paris-v4.jsonl", "trace");
        Assert.Contains(find, line);

        var trace = ScamperTraceParser.Parse(line.Replace(find, replace), Lab);

        Assert.False(trace.Success);
        Assert.Equal(reason, trace.FailureReason);
    }

    [Fact]
    public void Data_after_the_object_is_refused()
    {
        var line = ScamperLine("scamper-trace-icmp-paris-v4.jsonl", "trace");

        var trace = ScamperTraceParser.Parse(line + line, Lab);

        Assert.False(trace.Success);
        Assert.Equal("unexpected data after the trace object (one JSON object per line expected)", trace.FailureReason);
    }

    [Fact]
    public void Escaped_strings_are_unescaped_before_reading_addresses()
    {
        var line = ScamperLine("scamper-trace-icmp-paris-v4.jsonl", "trace").Replace("\"dst\":\"11.0.9.10\"", "\"dst\":\"\\u0031\\u0031.0.9.10\"");

        var trace = ScamperTraceParser.Parse(line, Lab);

        Assert.True(trace.Success, trace.FailureReason);
        Assert.Equal(Ip("11.0.9.10"), trace.Target);
    }

    [Fact]
    public void Byte_and_string_input_give_the_same_trace()
    {
        var line = ScamperLine("scamper-trace-mpls-icmpext.handcrafted.jsonl", "trace");

        var fromString = ScamperTraceParser.Parse(line, Lab);
        var fromBytes = ScamperTraceParser.Parse(Encoding.UTF8.GetBytes(line), Lab);

        Assert.Equal(fromString.Raw, fromBytes.Raw);
        Assert.Equal(fromString with { Hops = [] }, fromBytes with { Hops = [] });
        // Records compare their immutable arrays by reference, so hops are compared field by field.
        Assert.Equal(fromString.Hops.Length, fromBytes.Hops.Length);
        for (int i = 0; i < fromString.Hops.Length; i++)
        {
            Assert.Equal(fromString.Hops[i] with { MplsLabels = [] }, fromBytes.Hops[i] with { MplsLabels = [] });
            Assert.Equal(fromString.Hops[i].MplsLabels, fromBytes.Hops[i].MplsLabels);
        }
    }

    [Fact]
    public void Output_values_win_over_the_context_and_the_context_fills_the_rest()
    {
        var completed = new DateTimeOffset(2026, 11, 23, 0, 35, 43, TimeSpan.Zero);
        var context = new ProbeContext("ams-1")
        {
            Target = Ip("192.0.2.1"),
            Method = ProbeMethod.Udp,
            StartedAt = DateTimeOffset.UnixEpoch,
            CompletedAt = completed,
        };

        var trace = ScamperTraceParser.Parse(ScamperLine("scamper-trace-icmp-paris-v4.jsonl", "trace"), context);

        Assert.Equal(Ip("11.0.9.10"), trace.Target);
        Assert.Equal(ProbeMethod.IcmpParis, trace.Method);
        Assert.Equal(1795394136, trace.StartedAt!.Value.ToUnixTimeSeconds());
        Assert.Equal(completed, trace.CompletedAt);
        Assert.Equal("ams-1", trace.Vantage);
    }
}
