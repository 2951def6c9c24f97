using CyberWatch.Measurement;
using CyberWatch.Storage;
using CyberWatch.Topology;

namespace CyberWatch.Tests.Api;

public sealed class ProbeResultSummaryTests
{
    private static MeasurementRecord Trace(float? loss = null) => new()
    {
        Target = "192.0.2.9", Tool = "scamper", Method = "icmp-paris", Vantage = "v", EnrichmentState = "done", LossPct = loss,
    };

    [Fact]
    public void As_path_is_the_one_stored_with_the_measurement_with_each_step_direct_or_indirect()
    {
        // The hops alone would read 64500 64501 64500 64502; the stored path is the graph's (the silo's IXP data and rules).
        HopRecord[] hops =
        [
            new() { Ttl = 1, Address = "198.51.100.1", RttMs = 5, Asn = 64500 },
            new() { Ttl = 2, Address = "203.0.113.1", RttMs = 9, Asn = 64501 },
            new() { Ttl = 3 },
            new() { Ttl = 4, Address = "192.0.2.9", RttMs = 12, Asn = 64502 },
        ];
        var summary = ProbeResultSummary.From(Trace() with { AsPath = "64500 64501 * 64502" }, hops);

        Assert.Equal([64500L, 64501L, 64502L], summary.AsPath);
        Assert.Equal([new AsPathStep(64500, 64501, AsLinkKind.Direct), new AsPathStep(64501, 64502, AsLinkKind.Indirect)], summary.AsSteps);
        Assert.Equal(3, summary.AsCount);

        // Stored as "no AS mapped": empty, not recomputed.
        Assert.Empty(ProbeResultSummary.From(Trace() with { AsPath = "" }, hops).AsPath);
    }

    [Fact]
    public void Measurement_stored_before_paths_were_kept_gets_the_extractors_path()
    {
        HopRecord[] hops =
        [
            new() { Ttl = 1, Address = "10.0.0.1", RttMs = 1, AddressClass = "private" },
            new() { Ttl = 2, Address = "198.51.100.1", RttMs = 5, Asn = 64500, Country = "NL" },
            new() { Ttl = 3 },
            new() { Ttl = 4, Address = "198.51.100.9", RttMs = 7, Asn = 64500, Country = "NL", Ixp = "AMS-IX" },
            new() { Ttl = 5, Address = "203.0.113.1", RttMs = 9, Asn = 64501, Country = "DE" },
            new() { Ttl = 6, Address = "198.51.100.20", RttMs = 11, Asn = 64500, Country = "NL" },
            new() { Ttl = 7, Address = "192.0.2.9", RttMs = 12, Asn = 64502, Country = "NL" },
            new() { Ttl = 7, ReplyIndex = 1, Address = "192.0.2.9", RttMs = 14, Asn = 64502, Country = "NL" },
        ];
        var summary = ProbeResultSummary.From(Trace(), hops);

        Assert.Equal(7, summary.HopCount);
        Assert.Equal(6, summary.RespondingHops);
        Assert.Equal(14.3, summary.LossPct);
        // The extractor's rules: the hop on the AMS-IX LAN is no AS of its own, so 64500 reaches 64501 only across it
        // and the silent TTL 3 (indirect); the return to 64500 is kept.
        Assert.Equal([64500L, 64501L, 64500L, 64502L], summary.AsPath);
        Assert.Equal([new AsPathStep(64500, 64501, AsLinkKind.Indirect), new AsPathStep(64501, 64500, AsLinkKind.Direct),
            new AsPathStep(64500, 64502, AsLinkKind.Direct)], summary.AsSteps);
        Assert.Equal(3, summary.AsCount);
        Assert.Equal(["NL", "DE", "NL"], summary.Countries);
        Assert.Equal(["AMS-IX"], summary.Ixps);
        Assert.Equal(1, summary.RttMinMs);
        Assert.Equal(14, summary.RttMaxMs);
        Assert.True(summary.ReachedTarget);
    }

    [Fact]
    public void A_measurement_with_its_own_loss_keeps_it_and_no_hops_is_an_empty_summary()
    {
        Assert.Equal(40, ProbeResultSummary.From(Trace(loss: 40), [new() { Ttl = 1, Address = "192.0.2.9", RttMs = 3 }]).LossPct);
        var empty = ProbeResultSummary.From(Trace(), []);
        Assert.Equal(0, empty.HopCount);
        Assert.Null(empty.RttAvgMs);
        Assert.False(empty.ReachedTarget);
    }
}
