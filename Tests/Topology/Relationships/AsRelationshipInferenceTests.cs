using CyberWatch.Topology.Relationships;

namespace CyberWatch.Tests.Topology.Relationships;

/// <summary>
/// Small hand-made internets with known relationships. Their paths are the best routes BGP picks under
/// Gao-Rexford policy (customer routes over peer over provider, then shorter, then the lower next AS;
/// peer and provider routes passed only to customers), as seen from the vantage points each test names.
/// </summary>
public sealed class AsRelationshipInferenceTests
{
    [Fact]
    public void Tier1_clique_is_peering_and_every_customer_link_points_up()
    {
        var internet = new Internet()
            .Peers(1, 2).Peers(1, 3).Peers(2, 3)
            .Customer(1, 10).Customer(2, 20).Customer(3, 30)
            .Customer(10, 11).Customer(20, 21).Customer(30, 31)
            .Customer(1, 12).Customer(1, 13).Customer(2, 22).Customer(2, 23).Customer(3, 32).Customer(3, 33);
        var inference = new AsRelationshipInference();
        internet.ObserveFrom(inference, AsRelationshipSource.Bgp, 11, 21, 31);

        var result = inference.Infer();

        Assert.Equal([1L, 2L, 3L], result.Clique.Order());
        Assert.Equal(AsRelationshipBasis.Clique, result.Find(1, 2)!.Basis);
        internet.AssertAllSeenEdgesRight(result);
    }

    [Fact]
    public void Customer_cone_below_a_tier1_is_inferred_level_by_level()
    {
        // 1 and 2 peer at the top; 100 buys from 1 and sells to 110 and 120; 110 sells to 111.
        var internet = new Internet()
            .Peers(1, 2)
            .Customer(1, 100).Customer(100, 110).Customer(100, 120).Customer(110, 111)
            .Customer(1, 300).Customer(1, 400).Customer(2, 200).Customer(2, 500).Customer(2, 600);
        var inference = new AsRelationshipInference();
        internet.ObserveFrom(inference, AsRelationshipSource.Bgp, 111, 200, 400);

        var result = inference.Infer();

        Assert.Equal([1L, 2L], result.Clique.Order());
        var cone = result.Find(100, 110)!;
        Assert.Equal((AsRelationshipKind.P2C, AsRelationshipBasis.Transit), (cone.Kind, cone.Basis));
        Assert.Equal(AsRelationshipKind.C2P, result.Find(110, 111)!.From(111));
        internet.AssertAllSeenEdgesRight(result);
    }

    [Fact]
    public void Peering_seen_from_one_vantage_looks_like_transit_unless_a_trace_saw_it_cross_an_ixp()
    {
        // 10 (a regional ISP under tier-1 1) peers with 30, a content network that buys transit from 2.
        // From 11, 10's customer, the only path over the peering is "11 10 30": next to its top, with 30
        // never transiting anything — exactly what a customer link looks like.
        var internet = new Internet()
            .Peers(1, 2).Peers(10, 30)
            .Customer(1, 10).Customer(10, 11).Customer(2, 30).Customer(2, 21).Customer(2, 22);
        var inference = new AsRelationshipInference();
        internet.ObserveFrom(inference, AsRelationshipSource.Traces, 11);

        var oneVantage = inference.Infer();

        Assert.Contains([11L, 10L, 30L], internet.PathsFrom(11));
        var wrong = oneVantage.Find(10, 30)!;
        Assert.Equal((AsRelationshipKind.P2C, AsRelationshipBasis.Stub), (wrong.Kind, wrong.Basis));
        Assert.Equal(AsRelationshipKind.C2P, oneVantage.Find(10, 11)!.From(11));

        inference.AddIxpLink(30, 10);
        var withIxp = inference.Infer().Find(10, 30)!;

        Assert.Equal((AsRelationshipKind.P2P, AsRelationshipBasis.Ixp, 0.7), (withIxp.Kind, withIxp.Basis, withIxp.Confidence));
    }

    [Fact]
    public void Transit_seen_away_from_the_top_wins_over_an_ixp_crossing()
    {
        // 30 buys transit from 10 across an IXP port: 10 passes 30's routes up to 1, so a vantage under 2
        // sees "21 2 1 10 30" — 10 carrying 30's routes down from the clique is firm evidence.
        var internet = new Internet()
            .Peers(1, 2).Customer(1, 10).Customer(10, 11).Customer(10, 30).Customer(2, 21).Customer(2, 22);
        var inference = new AsRelationshipInference();
        internet.ObserveFrom(inference, AsRelationshipSource.Traces, 11, 21);
        inference.AddIxpLink(10, 30);

        var result = inference.Infer();

        var link = result.Find(10, 30)!;
        Assert.Equal((AsRelationshipKind.P2C, AsRelationshipBasis.Transit), (link.Kind, link.Basis));
        internet.AssertAllSeenEdgesRight(result);
    }

    [Fact]
    public void Sources_merge_per_edge_and_gaps_split_trace_paths()
    {
        var inference = new AsRelationshipInference();
        inference.AddTracePath("1100 1200 * 1500");
        inference.AddPath(new long[] { 1100, 1200, 1400 }, AsRelationshipSource.Bgp);
        inference.AddPath(new long[] { 1400, 1200, 1100 }, AsRelationshipSource.Bgp);

        var result = inference.Infer();

        Assert.Equal(AsRelationshipSource.Both, result.Find(1100, 1200)!.Source);
        Assert.Equal(AsRelationshipSource.Bgp, result.Find(1200, 1400)!.Source);
        Assert.Null(result.Find(1200, 1500));
        Assert.Throws<FormatException>(() => new AsRelationshipInference().AddTracePath("1100 x 1200"));
    }

    [Fact]
    public void Paths_with_reserved_asns_loops_or_a_valley_through_the_clique_are_left_out_and_counted()
    {
        var internet = new Internet()
            .Peers(1, 2).Peers(1, 3).Peers(2, 3)
            .Customer(1, 10).Customer(2, 20).Customer(3, 30)
            .Customer(10, 11).Customer(20, 21).Customer(30, 31)
            .Customer(1, 12).Customer(2, 22).Customer(3, 32);
        var inference = new AsRelationshipInference();
        internet.ObserveFrom(inference, AsRelationshipSource.Bgp, 11, 21, 31);
        inference.AddPath(new long[] { 11, 64512, 10 }, AsRelationshipSource.Bgp);
        inference.AddPath(new long[] { 11, 10, 11, 10 }, AsRelationshipSource.Bgp);
        inference.AddPath(new long[] { 21, 20, 2, 40, 1, 10 }, AsRelationshipSource.Bgp); // 40 leaks between two tier-1s

        var result = inference.Infer();

        Assert.Equal((1, 1, 1), (result.DiscardedReserved, result.DiscardedLoops, result.DiscardedPoisoned));
        Assert.DoesNotContain(result.Relationships, r => r.A == 64512 || r.B == 64512);
        Assert.Null(result.Find(2, 40)); // the leaked path is the only one with 40: nothing is inferred from it
        internet.AssertAllSeenEdgesRight(result);
    }

    [Fact]
    public void Relationship_read_from_the_other_end_is_mirrored()
    {
        var relationship = new AsRelationship(10, 20, AsRelationshipKind.P2C, AsRelationshipSource.Bgp, 0.9, AsRelationshipBasis.Transit, 3);

        Assert.Equal(AsRelationshipKind.P2C, relationship.From(10));
        Assert.Equal(AsRelationshipKind.C2P, relationship.From(20));
        Assert.Equal("c2p", AsRelationship.WireName(relationship.From(20)));
        Assert.Equal(AsRelationshipKind.C2P, AsRelationship.ParseKind("c2p"));
    }

    /// <summary>A toy internet: relationships and the Gao-Rexford best paths they produce.</summary>
    private sealed class Internet
    {
        private readonly Dictionary<(long, long), AsRelationshipKind> truth = [];
        private readonly SortedSet<long> ases = [];

        public Internet Peers(long a, long b) => Add(a, b, AsRelationshipKind.P2P);

        public Internet Customer(long provider, long customer) => Add(provider, customer, AsRelationshipKind.P2C);

        private Internet Add(long a, long b, AsRelationshipKind kind)
        {
            truth[(a, b)] = kind;
            truth[(b, a)] = kind == AsRelationshipKind.P2C ? AsRelationshipKind.C2P : kind;
            ases.Add(a);
            ases.Add(b);
            return this;
        }

        public void ObserveFrom(AsRelationshipInference inference, AsRelationshipSource source, params long[] vantages)
        {
            foreach (var vantage in vantages)
            {
                foreach (var path in PathsFrom(vantage))
                {
                    inference.AddPath(path, source);
                }
            }
        }

        /// <summary>Best route of every AS to every destination, by repeated export until nothing changes.</summary>
        public List<long[]> PathsFrom(long vantage)
        {
            var paths = new List<long[]>();
            foreach (var destination in ases.Where(d => d != vantage))
            {
                var best = ases.ToDictionary(asn => asn, asn => asn == destination ? new[] { destination } : null);
                for (var changed = true; changed;)
                {
                    changed = false;
                    foreach (var (x, y) in truth.Keys)
                    {
                        // y offers x its route, if y's policy exports it to x.
                        var route = best[y];
                        if (route is null || route.Contains(x) || x == destination)
                        {
                            continue;
                        }
                        var learnedFromCustomer = route.Length == 1 || truth[(y, route[1])] == AsRelationshipKind.P2C;
                        if (!learnedFromCustomer && truth[(y, x)] != AsRelationshipKind.P2C)
                        {
                            continue;
                        }
                        var candidate = new[] { x }.Concat(route).ToArray();
                        if (best[x] is not { } current || Better(x, candidate, current))
                        {
                            best[x] = candidate;
                            changed = true;
                        }
                    }
                }
                if (best[vantage] is { } path)
                {
                    paths.Add(path);
                }
            }
            return paths;
        }

        private bool Better(long x, long[] candidate, long[] current)
        {
            int Preference(long[] route) => truth[(x, route[1])] switch
            {
                AsRelationshipKind.C2P => 1,
                AsRelationshipKind.P2P => 2,
                _ => 3,
            };
            return (Preference(candidate), -candidate.Length, -candidate[1]).CompareTo((Preference(current), -current.Length, -current[1])) > 0;
        }

        public void AssertAllSeenEdgesRight(AsRelationshipResult result)
        {
            var checkedEdges = 0;
            foreach (var relationship in result.Relationships)
            {
                if (!truth.TryGetValue((relationship.A, relationship.B), out var expected))
                {
                    continue; // an edge of a path the test added by hand
                }
                Assert.True(expected == relationship.Kind, $"{relationship.A}-{relationship.B}: expected {expected}, inferred {relationship.Kind} ({relationship.Basis})");
                checkedEdges++;
            }
            Assert.True(checkedEdges > 0);
        }
    }
}
