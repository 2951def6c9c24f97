using System.Net;
using CyberWatch.Enrichment;
using CyberWatch.Storage;
using CyberWatch.Topology;

namespace CyberWatch.Tests.Topology;

public sealed class AsPathExtractorTests
{
    private static readonly AsPathExtractor Extractor = new();

    // Small builders: M = mapped global hop, S = silent TTL, P = private hop, U = global but unmapped, X = IXP hop.
    private static PathHop M(int ttl, long asn, double rtt = 0, params long[] origins) =>
        new(ttl, IPAddress.Parse($"198.18.{ttl}.{asn % 250}"), rtt == 0 ? ttl : rtt, "global", asn, origins.Length > 0 ? origins : null);

    private static PathHop S(int ttl) => new(ttl, null, null, null);

    private static PathHop P(int ttl) => new(ttl, IPAddress.Parse($"10.0.0.{ttl}"), ttl, "private");

    private static PathHop U(int ttl) => new(ttl, IPAddress.Parse($"203.0.{ttl}.1"), ttl, "global");

    private static PathHop X(int ttl, string ixp = "TEST-IX", long? asn = null) =>
        new(ttl, IPAddress.Parse($"80.249.{ttl}.1"), ttl, "global", asn, null, ixp);

    private static IEnumerable<(long, long)> EdgePairs(AsPathExtraction path) => path.Edges.Select(e => (e.SrcAsn, e.DstAsn));

    private static IEnumerable<(long, long, AsLinkKind, int, string?)> Links(AsPathExtraction path) =>
        path.Edges.Select(e => (e.SrcAsn, e.DstAsn, e.Kind, e.GapHops, e.Ixp));

    private const AsLinkKind Direct = AsLinkKind.Direct;
    private const AsLinkKind Indirect = AsLinkKind.Indirect;

    [Fact]
    public void Consecutive_hops_in_one_AS_collapse_and_edges_follow_path_order()
    {
        var path = Extractor.Extract([M(1, 100), M(2, 100), M(3, 200), M(4, 200), M(5, 300)]);

        Assert.Equal([100L, 200L, 300L], path.Path.Select(a => a!.Value));
        Assert.Equal("100 200 300", path.Text);
        Assert.Equal([(100L, 200L), (200L, 300L)], EdgePairs(path));
        Assert.Equal(AsPathFlags.None, path.Flags);
        Assert.Equal(2, path.Elements[0].Hops);
        Assert.Equal((1, 2), (path.Elements[0].FirstTtl, path.Elements[0].LastTtl));
    }

    [Fact]
    public void Direction_is_kept_even_when_the_higher_ASN_comes_first()
    {
        var path = Extractor.Extract([M(1, 65000), M(2, 1299), M(3, 174)]);

        Assert.Equal([(65000L, 1299L), (1299L, 174L)], EdgePairs(path));
    }

    [Fact]
    public void Silent_hops_between_two_different_ASes_give_an_indirect_edge_with_the_gap_counted()
    {
        var path = Extractor.Extract([M(1, 100), S(2), M(3, 200), S(4), S(5), M(6, 300)]);

        Assert.Equal("100 * 200 * 300", path.Text);
        Assert.Equal([(100L, 200L, Indirect, 1, (string?)null), (200L, 300L, Indirect, 2, null)], Links(path));
        Assert.Equal([new AsPathStep(100, 200, Indirect), new AsPathStep(200, 300, Indirect)], path.Steps);
        Assert.True(path.Flags.HasFlag(AsPathFlags.Gap));
        var gap = path.Elements[1];
        Assert.True(gap.IsGap);
        Assert.Equal((2, 2, 1), (gap.FirstTtl, gap.LastTtl, gap.Hops));
        Assert.Equal((3.0, 2.0), (path.Edges[0].RttMs!.Value, path.Edges[0].RttDeltaMs!.Value)); // across the gap: RTT at ttl 3 minus ttl 1
    }

    [Fact]
    public void Steps_and_edges_of_one_path_are_the_same_sequence_of_ASes()
    {
        var path = Extractor.Extract([M(1, 100), M(2, 200), S(3), M(4, 300), M(5, 400)]);

        Assert.Equal(path.Steps.Select(s => (s.From, s.To, s.Kind)), path.Edges.Select(e => (e.SrcAsn, e.DstAsn, e.Kind)));
        Assert.Equal([Direct, Indirect, Direct], path.Steps.Select(s => s.Kind));
        // The stored text carries the kinds: read back, it gives the same steps.
        Assert.True(AsPathText.TryParse(path.Text, out var stored));
        Assert.Equal(path.Steps, AsPathText.Steps(stored));
        Assert.Equal([100L, 200L, 300L, 400L], AsPathText.Asns(stored));
    }

    [Fact]
    public void Private_and_unmapped_hops_between_different_ASes_are_gaps_with_an_indirect_edge()
    {
        Assert.Equal([(100L, 200L, Indirect, 1, (string?)null)], Links(Extractor.Extract([M(1, 100), P(2), M(3, 200)])));
        Assert.Equal([(100L, 200L, Indirect, 2, (string?)null)], Links(Extractor.Extract([M(1, 100), U(2), S(3), M(4, 200)])));
        var cgnat = new PathHop(2, IPAddress.Parse("100.64.0.1"), 2, "cgnat");
        Assert.Equal("100 * 200", Extractor.Extract([M(1, 100), cgnat, M(3, 200)]).Text);
    }

    [Fact]
    public void Gap_inside_one_AS_is_bridged_without_a_marker()
    {
        var path = Extractor.Extract([M(1, 100), S(2), P(3), M(4, 100), M(5, 200)]);

        Assert.Equal("100 200", path.Text);
        Assert.Equal([(100L, 200L, Direct, 0, (string?)null)], Links(path));
        Assert.False(path.Flags.HasFlag(AsPathFlags.Gap));
        Assert.Equal(2, path.Elements[0].Hops);
        Assert.Equal(4, path.Elements[0].LastTtl);
    }

    [Fact]
    public void Missing_TTL_rows_count_as_a_gap()
    {
        var path = Extractor.Extract([M(1, 100), M(4, 200)]);

        Assert.Equal("100 * 200", path.Text);
        Assert.Equal([(100L, 200L, Indirect, 2, (string?)null)], Links(path));
    }

    [Fact]
    public void Leading_private_hops_and_trailing_silence_leave_no_marker()
    {
        var path = Extractor.Extract([P(1), P(2), M(3, 100), M(4, 200), S(5), S(6)]);

        Assert.Equal("100 200", path.Text);
        Assert.Equal([(100L, 200L)], EdgePairs(path));
    }

    [Fact]
    public void IXP_hop_yields_an_edge_between_the_ASes_around_it_tagged_with_the_IXP()
    {
        // The LAN is announced by an AS of its own (the IXP's): it must not become a fake AS on the path.
        var path = Extractor.Extract([M(1, 100), M(2, 100), X(3, "AMS-IX", asn: 1200), M(4, 200)]);

        Assert.Equal("100 200", path.Text);
        var edge = Assert.Single(path.Edges);
        Assert.Equal((100L, 200L, "AMS-IX"), (edge.SrcAsn, edge.DstAsn, edge.Ixp));
        Assert.Equal("AMS-IX", path.Elements[1].EnteredViaIxp);
        Assert.True(path.Flags.HasFlag(AsPathFlags.Ixp));
    }

    [Fact]
    public void Hop_in_a_configured_IXP_prefix_is_an_IXP_hop_even_with_a_private_address()
    {
        var extractor = new AsPathExtractor(IxpPrefixes.Parse("LAB-IX=10.99.0.0/24"));
        var ixpHop = new PathHop(2, IPAddress.Parse("10.99.0.3"), 2, "private");

        var path = extractor.Extract([M(1, 100), ixpHop, M(3, 300)]);

        Assert.Equal((100L, 300L, "LAB-IX"), (path.Edges[0].SrcAsn, path.Edges[0].DstAsn, path.Edges[0].Ixp));
    }

    [Fact]
    public void IXP_hop_next_to_a_gap_gives_an_indirect_edge_tagged_with_the_IXP_and_is_flagged()
    {
        var path = Extractor.Extract([M(1, 100), X(2), S(3), M(4, 200)]);

        // The IXP hop is a known LAN, not an unplaceable hop: only the silent one counts.
        Assert.Equal([(100L, 200L, Indirect, 1, (string?)"TEST-IX")], Links(path));
        Assert.Equal("100 * 200", path.Text);
        Assert.True(path.Flags.HasFlag(AsPathFlags.IxpWithoutEdge));

        var before = Extractor.Extract([M(1, 100), S(2), X(3), M(4, 200)]);
        Assert.Equal([(100L, 200L, Indirect, 1, (string?)"TEST-IX")], Links(before));
        Assert.True(before.Flags.HasFlag(AsPathFlags.IxpWithoutEdge));
    }

    [Fact]
    public void Gap_before_a_known_member_port_stays_indirect_and_is_tagged_with_the_IXP()
    {
        // A silent router before the LAN may belong to a third AS: the member port proves only the hop after the LAN.
        var extractor = new AsPathExtractor(IxpPrefixes.Parse("LAB-IX=11.190.0.0/24", "11.190.0.15=1500"));
        var memberPort = new PathHop(3, IPAddress.Parse("11.190.0.15"), 3, "global");

        var path = extractor.Extract([M(1, 1200), S(2), memberPort, M(4, 1500)]);

        Assert.Equal([(1200L, 1500L, Indirect, 1, (string?)"LAB-IX")], Links(path));
        Assert.Equal("1200 * 1500", path.Text);
    }

    [Fact]
    public void Same_edge_seen_across_a_gap_and_directly_in_one_trace_is_reported_once_as_direct()
    {
        var path = Extractor.Extract([M(1, 100), S(2), M(3, 200), M(4, 200), M(5, 100), M(6, 100), M(7, 200)]);

        Assert.Equal([(100L, 200L, Direct, 0, (string?)null), (200L, 100L, Direct, 0, null)], Links(path));
        Assert.Equal([Indirect, Direct, Direct], path.Steps.Select(s => s.Kind));
    }

    [Fact]
    public void Known_IXP_member_port_followed_by_a_silent_hop_in_the_member_AS_gives_the_tagged_edge()
    {
        var extractor = new AsPathExtractor(IxpPrefixes.Parse("LAB-IX=11.190.0.0/24", "11.190.0.15=1500"));
        var memberPort = new PathHop(2, IPAddress.Parse("11.190.0.15"), 2, "global");
        var otherPort = new PathHop(2, IPAddress.Parse("11.190.0.16"), 2, "global");

        var path = extractor.Extract([M(1, 1200), memberPort, S(3), M(4, 1500)]);
        Assert.Equal([(1200L, 1500L, Direct, 0, (string?)"LAB-IX")], Links(path));
        Assert.Equal("1200 1500", path.Text);
        Assert.Equal("LAB-IX", path.Elements[1].EnteredViaIxp);
        Assert.False(path.Flags.HasFlag(AsPathFlags.IxpWithoutEdge));

        // A port whose member is not known stays an IXP hop: next to a gap, the edge is only indirect.
        var unknown = extractor.Extract([M(1, 1200), otherPort, S(3), M(4, 1600)]);
        Assert.Equal([(1200L, 1600L, Indirect, 1, (string?)"LAB-IX")], Links(unknown));
        Assert.Equal("1200 * 1600", unknown.Text);
        Assert.True(unknown.Flags.HasFlag(AsPathFlags.IxpWithoutEdge));
    }

    [Fact]
    public void IXP_member_list_rejects_malformed_entries_and_addresses_off_the_LAN()
    {
        Assert.Throws<FormatException>(() => IxpPrefixes.Parse("IX=10.99.0.0/24", "10.99.0.1"));
        Assert.Throws<FormatException>(() => IxpPrefixes.Parse("IX=10.99.0.0/24", "10.99.0.1=AS5"));
        Assert.Throws<FormatException>(() => IxpPrefixes.Parse("IX=10.99.0.0/24", "192.0.2.1=64500"));
        var parsed = IxpPrefixes.Parse("IX=10.99.0.0/24,IX=2001:db8:99::/64", "10.99.0.1=64500, 2001:db8:99::2=64501");
        Assert.Equal((64500L, 64501L), (parsed.MemberAsn(IPAddress.Parse("10.99.0.1")), parsed.MemberAsn(IPAddress.Parse("2001:db8:99::2"))));
        Assert.Null(parsed.MemberAsn(IPAddress.Parse("10.99.0.9")));
    }

    [Fact]
    public void Two_hops_on_the_same_IXP_LAN_still_give_one_tagged_edge()
    {
        var path = Extractor.Extract([M(1, 100), X(2), X(3), M(4, 200)]);

        Assert.Equal([(100L, 200L)], EdgePairs(path));
        Assert.Equal("TEST-IX", path.Edges[0].Ixp);
    }

    [Fact]
    public void Multi_origin_hop_takes_the_origin_that_continues_the_path_and_is_flagged()
    {
        // 198.18.2.x is originated by both 100 and 300: it continues AS 100.
        var continuing = Extractor.Extract([M(1, 100), M(2, 300, 0, 300, 100), M(3, 200)]);
        Assert.Equal("100 200", continuing.Text);
        Assert.Equal([(100L, 200L)], EdgePairs(continuing));
        Assert.True(continuing.Flags.HasFlag(AsPathFlags.MultiOrigin));
        Assert.Equal([100L, 300L], continuing.Elements[0].OriginAsns);
        Assert.True(continuing.Edges[0].MultiOrigin);

        // Not the AS before it: the origin that the next hop confirms.
        var leading = Extractor.Extract([M(1, 100), M(2, 300, 0, 300, 200), M(3, 200)]);
        Assert.Equal("100 200", leading.Text);

        // Neither: the primary origin, and the edges around it are marked.
        var neither = Extractor.Extract([M(1, 100), M(2, 300, 0, 300, 400), M(3, 200)]);
        Assert.Equal("100 300 200", neither.Text);
        Assert.All(neither.Edges, e => Assert.True(e.MultiOrigin));
    }

    [Fact]
    public void Third_party_address_sandwiched_in_one_AS_is_folded_into_it()
    {
        // A router of AS 100 answers from an interface numbered out of AS 500's space.
        var path = Extractor.Extract([M(1, 100), M(2, 500), M(3, 100), M(4, 200)]);

        Assert.Equal("100 200", path.Text);
        Assert.Equal([(100L, 200L)], EdgePairs(path));
        Assert.True(path.Flags.HasFlag(AsPathFlags.ThirdPartySuspected));
        Assert.Equal([2], path.ThirdPartyTtls);
    }

    [Fact]
    public void Border_router_answering_from_the_providers_link_prefix_only_moves_the_boundary()
    {
        // The link 100-200 is numbered from AS 100's space: the first router of AS 200 (TTL 3) answers from
        // it and maps to 100. The AS path and the edge are still right; the edge RTT is the one of TTL 4.
        var path = Extractor.Extract([M(1, 100, 1.0), M(2, 100, 2.0), M(3, 100, 9.0), M(4, 200, 10.0), M(5, 200, 11.0)]);

        Assert.Equal("100 200", path.Text);
        var edge = Assert.Single(path.Edges);
        Assert.Equal((100L, 200L), (edge.SrcAsn, edge.DstAsn));
        Assert.Equal(10.0, edge.RttMs);
        Assert.Equal(1.0, edge.RttDeltaMs);
        Assert.Equal((3, 4), (edge.SrcTtl, edge.DstTtl));
        Assert.Equal(AsPathFlags.None, path.Flags);
    }

    [Fact]
    public void Off_path_third_party_address_of_a_third_AS_yields_the_edges_the_trace_shows()
    {
        // A router of AS 200 answers from its interface towards AS 300 (numbered from 300's space). One trace
        // cannot tell this from AS 300 being really crossed: the edges are kept as seen (documented limit).
        var path = Extractor.Extract([M(1, 100), M(2, 300), M(3, 200), M(4, 400)]);

        Assert.Equal("100 300 200 400", path.Text);
        Assert.Equal([(100L, 300L), (300L, 200L), (200L, 400L)], EdgePairs(path));
        Assert.False(path.Flags.HasFlag(AsPathFlags.ThirdPartySuspected));
    }

    [Fact]
    public void Two_hops_of_another_AS_between_hops_of_one_AS_are_kept_as_a_loop()
    {
        var path = Extractor.Extract([M(1, 100), M(2, 500), M(3, 500), M(4, 100)]);

        Assert.Equal("100 500 100", path.Text);
        Assert.Equal([(100L, 500L), (500L, 100L)], EdgePairs(path));
        Assert.True(path.Flags.HasFlag(AsPathFlags.AsLoop));
    }

    [Fact]
    public void Edge_RTT_is_the_RTT_of_the_first_hop_in_the_dst_AS()
    {
        var path = Extractor.Extract([M(1, 100, 1.5), M(2, 100, 4.0), M(3, 200, 12.25), M(4, 200, 13.0)]);

        var edge = Assert.Single(path.Edges);
        Assert.Equal(12.25, edge.RttMs);
        Assert.Equal(8.25, edge.RttDeltaMs);
        Assert.Equal(1.5, path.Elements[0].FirstRttMs);
        Assert.Equal(12.25, path.Elements[1].FirstRttMs);
    }

    [Fact]
    public void First_reply_of_a_TTL_decides_and_load_balancing_across_ASes_is_flagged()
    {
        var hops = new[]
        {
            M(1, 100), M(2, 200), M(2, 300) with { ReplyIndex = 1 }, M(3, 200),
        };

        var path = Extractor.Extract(hops);

        Assert.Equal("100 200", path.Text);
        Assert.True(path.Flags.HasFlag(AsPathFlags.LoadBalancedAcrossAses));
    }

    [Fact]
    public void Same_edge_crossed_twice_in_one_trace_is_reported_once()
    {
        var path = Extractor.Extract([M(1, 100), M(2, 200), M(3, 200), M(4, 100), M(5, 100), M(6, 200)]);

        Assert.Equal([(100L, 200L), (200L, 100L)], EdgePairs(path));
    }

    [Fact]
    public void Trace_without_any_mapped_hop_gives_an_empty_path()
    {
        Assert.True(Extractor.Extract([P(1), S(2), U(3)]).IsEmpty);
        Assert.True(Extractor.Extract([]).IsEmpty);
    }

    [Fact]
    public void Hops_out_of_TTL_order_are_sorted_first()
    {
        var path = Extractor.Extract([M(3, 300), M(1, 100), M(2, 200)]);

        Assert.Equal("100 200 300", path.Text);
    }

    [Fact]
    public void Hop_rows_from_the_pipeline_convert_with_their_enrichment()
    {
        var row = new HopRow
        {
            Ttl = 4, ReplyIndex = 1, Address = IPAddress.Parse("192.0.2.1"), RttMs = 3.5, AddressClass = "global", Asn = 64500,
            OriginAsns = [64500, 64501], Ixp = "X", Org = "Example", Country = "NL",
        };

        var hop = PathHop.From(row);

        Assert.Equal((4, 1, 3.5, 64500L, "X", "Example", "NL"), (hop.Ttl, hop.ReplyIndex, hop.RttMs!.Value, hop.Asn!.Value, hop.Ixp, hop.Org, hop.Country));
        Assert.Equal([64500L, 64501L], hop.OriginAsns);
    }

    [Fact]
    public void IXP_prefix_list_rejects_malformed_entries()
    {
        Assert.Throws<FormatException>(() => IxpPrefixes.Parse("10.99.0.0/24"));
        Assert.Throws<FormatException>(() => IxpPrefixes.Parse("IX=not-a-prefix"));
        var parsed = IxpPrefixes.Parse("A=10.0.0.0/8, B=10.1.0.0/16");
        Assert.Equal("B", parsed.Find(IPAddress.Parse("10.1.2.3")));
        Assert.Equal("A", parsed.Find(IPAddress.Parse("10.2.2.3")));
        Assert.Null(parsed.Find(IPAddress.Parse("192.0.2.1")));
    }

    [Fact]
    public void Path_text_round_trips_with_gaps()
    {
        Assert.True(AsPathText.TryParse("64500 * 4200000000", out var path));
        Assert.Equal([64500L, null, 4200000000L], path);
        Assert.Equal("64500 * 4200000000", AsPathText.Format(path));
        Assert.False(AsPathText.TryParse("64500 x", out _));
        Assert.False(AsPathText.TryParse("", out _));
        _ = IpPrefix.Parse("10.0.0.0/8");
    }
}
