using CyberWatch.Measurement;
using CyberWatch.Measurement.Parsing;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using static CyberWatch.Tests.Measurement.Fixture;

namespace CyberWatch.Tests.Measurement;

/// <summary>The results cross silo boundaries, so they must survive Orleans serialization whole.</summary>
public sealed class MeasurementSerializationTests
{
    private static readonly Serializer Serializer = new ServiceCollection()
        .AddSerializer(builder => builder.AddAssembly(typeof(TraceResult).Assembly))
        .BuildServiceProvider()
        .GetRequiredService<Serializer>();

    private static T RoundTrip<T>(T value) => Serializer.Deserialize<T>(Serializer.SerializeToArray(value))!;

    [Theory]
    [InlineData("scamper-trace-mpls-icmpext.handcrafted.jsonl")]
    [InlineData("scamper-trace-perpacket-lb-q2-v6.jsonl")]
    public void Trace_with_silent_hops_mpls_and_ipv6_round_trips(string file)
    {
        var trace = ScamperTraceParser.Parse(ScamperLine(file, "trace"), new ProbeContext("lab-vp") { CompletedAt = DateTimeOffset.UnixEpoch });

        var copy = RoundTrip(trace);

        Assert.Equal(trace with { Hops = [] }, copy with { Hops = [] });
        Assert.Equal(trace.Hops.Length, copy.Hops.Length);
        for (int i = 0; i < trace.Hops.Length; i++)
        {
            Assert.Equal(trace.Hops[i] with { MplsLabels = [] }, copy.Hops[i] with { MplsLabels = [] });
            Assert.Equal(trace.Hops[i].MplsLabels, copy.Hops[i].MplsLabels);
        }
    }

    [Fact]
    public void Mtr_trace_round_trips_with_its_statistics()
    {
        var trace = MtrJsonParser.Parse(Text("mtr-v4.json"), new ProbeContext("lab-vp"));

        var copy = RoundTrip(trace);

        Assert.Equal(trace.Hops.ToArray(), copy.Hops.ToArray());
        Assert.Equal(trace.Raw, copy.Raw);
    }

    [Fact]
    public void Failed_trace_round_trips_with_its_reason()
    {
        var trace = ScamperTraceParser.Parse(Text("garbage.handcrafted.txt"), new ProbeContext("lab-vp") { Target = Ip("11.0.9.10") });

        var copy = RoundTrip(trace);

        Assert.Equal(trace with { Hops = [] }, copy with { Hops = [] });
        Assert.Empty(copy.Hops);
        Assert.False(copy.Hops.IsDefault);
    }

    [Fact]
    public void Ping_round_trips_with_every_reply()
    {
        var ping = ScamperPingParser.Parse(ScamperLine("scamper-ping-loss-v4.jsonl", "ping"), new ProbeContext("lab-vp"));

        var copy = RoundTrip(ping);

        Assert.Equal(ping with { Responses = [] }, copy with { Responses = [] });
        Assert.Equal(ping.Responses.ToArray(), copy.Responses.ToArray());
    }

    [Fact]
    public void Options_round_trip()
    {
        var options = new TraceProbeOptions { Method = ProbeMethod.UdpParis, AttemptsPerHop = 3, SendAllAttempts = true, MaxTtl = 40 };

        Assert.Equal(options, RoundTrip(options));
    }
}
