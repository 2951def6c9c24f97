using CyberWatch.Topology;

namespace CyberWatch.Tests.Topology;

public sealed class AsGraphIndexTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static AsEdgeStats Edge(long src, long dst, long count = 1, double? rtt = 10, string? ixp = null, long indirect = 0) =>
        new(src, dst, count, rtt, rtt, rtt, T0, T0.AddMinutes(count), ixp, ["vp1"], count - indirect, indirect, indirect > 0 ? 1 : null);

    private static AsGraphIndex Index(params (long, long)[] edges)
    {
        var index = new AsGraphIndex();
        index.Apply(edges.Select(e => Edge(e.Item1, e.Item2)));
        index.RebuildNow();
        return index;
    }

    [Fact]
    public void Shortest_path_is_found_over_observed_edges_in_either_direction_by_default()
    {
        // 1 → 2 → 3 and 4 → 3: from 1 to 4 only undirected reachability exists.
        var index = Index((1, 2), (2, 3), (4, 3));

        var path = index.Path(1, 4, directed: false);

        Assert.Equal([1L, 2L, 3L, 4L], path.Path);
        Assert.Equal([true, true, false], path.Links.Select(l => l.Forward));
        Assert.Equal((4L, 3L), (path.Links[2].Edge.SrcAsn, path.Links[2].Edge.DstAsn));
        Assert.Null(index.Path(1, 4, directed: true).Path);
        Assert.Equal([1L, 2L, 3L], index.Path(1, 3, directed: true).Path);
        Assert.Null(index.Path(3, 1, directed: true).Path);
    }

    [Fact]
    public void Direct_links_only_leaves_out_indirect_edges_and_observed_paths_with_a_gap()
    {
        // 1 → 2 → 4 directly; 1 → 3 directly and 3 → 4 only across a silent hop (1 3 * 4).
        var index = new AsGraphIndex();
        index.Apply([Edge(1, 2), Edge(2, 4), Edge(1, 3), Edge(3, 4, count: 2, indirect: 2)]);
        index.ApplyPath([1, 2, 4], 1, T0, T0, ["vp1"], increment: true);
        index.ApplyPath([1, 3, null, 4], 2, T0, T0, ["vp1"], increment: true);
        index.RebuildNow();

        Assert.Equal(AsLinkKind.Indirect, index.Neighbors(3).Neighbors.Single(n => n.Asn == 4).Out!.Kind);
        Assert.Equal([1L, 4L], index.Neighbors(3).Neighbors.Select(n => n.Asn).Order());
        Assert.Equal([1L], index.Neighbors(3, directOnly: true).Neighbors.Select(n => n.Asn));
        Assert.Equal(2, index.Path(1, 4, directed: true).Observed.Count);
        var direct = index.Path(1, 4, directed: true, directOnly: true);
        Assert.Equal([1L, 2L, 4L], direct.Path);
        Assert.Equal([[1L, 2L, 4L]], direct.Observed.Select(o => o.Path.Select(a => a!.Value).ToArray()));
        Assert.Equal(3, index.Topology(3, 1, 10).Nodes.Count);
        Assert.Equal(2, index.Topology(3, 1, 10, directOnly: true).Nodes.Count);

        // Seen directly once: the edge joins the direct-only graph (a kind change rebuilds the views).
        index.Apply(Edge(3, 4, count: 3, indirect: 2));
        index.RebuildNow();
        Assert.Equal([1L, 4L], index.Neighbors(3, directOnly: true).Neighbors.Select(n => n.Asn).Order());
    }

    [Fact]
    public void A_vantage_sees_only_the_edges_and_paths_observed_from_it()
    {
        // vp1 reached 4 over 1 → 2 → 4; vp2 over 1 → 3 → 4; both saw 1 → 2.
        var index = new AsGraphIndex();
        index.Apply([
            Edge(1, 2) with { Vantages = ["vp1", "vp2"] },
            Edge(2, 4) with { Vantages = ["vp1"] },
            Edge(1, 3) with { Vantages = ["vp2"] },
            Edge(3, 4) with { Vantages = ["vp2"] },
        ]);
        index.ApplyPath([1, 2, 4], 1, T0, T0, ["vp1"], increment: true);
        index.ApplyPath([1, 3, 4], 1, T0, T0, ["vp2"], increment: true);
        index.RebuildNow();

        Assert.Equal([1L, 2L, 4L], index.Path(1, 4, directed: true, vantage: "vp1").Path);
        Assert.Equal([1L, 3L, 4L], index.Path(1, 4, directed: true, vantage: "vp2").Path);
        Assert.Equal([[1L, 3L, 4L]], index.Path(1, 4, directed: true, vantage: "vp2").Observed.Select(o => o.Path.Select(a => a!.Value).ToArray()));
        Assert.Equal(2, index.Path(1, 4, directed: true).Observed.Count);
        Assert.Equal([2L], index.Neighbors(1, "vp1").Neighbors.Select(n => n.Asn));
        Assert.Equal([2L, 3L], index.Neighbors(1, "vp2").Neighbors.Select(n => n.Asn).Order());
        Assert.False(index.Neighbors(3, "vp1").Known);
        Assert.Equal(2, index.Topology(1, 1, 10, "vp1").Nodes.Count);
        Assert.False(index.Path(1, 4, directed: true, vantage: "vp3").SrcKnown);
    }

    [Fact]
    public void Unknown_AS_and_disconnected_ASes_give_no_path()
    {
        var index = Index((1, 2), (3, 4));

        var unknown = index.Path(1, 99, false);
        Assert.True(unknown.SrcKnown);
        Assert.False(unknown.DstKnown);
        Assert.Null(unknown.Path);
        Assert.Null(index.Path(1, 4, false).Path);
        Assert.Equal([2L], index.Path(2, 2, false).Path);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Bidirectional_search_finds_paths_as_short_as_plain_BFS_on_random_graphs(bool directed)
    {
        var random = new Random(20260101);
        for (var round = 0; round < 20; round++)
        {
            var nodes = random.Next(5, 300);
            var edges = new HashSet<(long, long)>();
            var wanted = random.Next(nodes, nodes * 4);
            while (edges.Count < wanted)
            {
                var a = random.Next(nodes);
                // Skewed: low numbers are hubs, as in the AS graph.
                var b = (int)(nodes * Math.Pow(random.NextDouble(), 2));
                if (a != b)
                {
                    edges.Add((a + 64500, b + 64500));
                }
            }
            var list = edges.ToList();
            var graph = AsGraph.Build(list);
            var edgeSet = edges;
            for (var q = 0; q < 50; q++)
            {
                var src = random.Next(graph.NodeCount);
                var dst = random.Next(graph.NodeCount);
                var expected = AsGraphSearch.Distances(graph, src, directed)[dst];
                var path = AsGraphSearch.ShortestPath(graph, src, dst, directed);
                if (expected < 0)
                {
                    Assert.Null(path);
                    continue;
                }
                Assert.NotNull(path);
                Assert.Equal(expected, path.Length - 1);
                Assert.Equal(src, path[0]);
                Assert.Equal(dst, path[^1]);
                for (var i = 0; i + 1 < path.Length; i++)
                {
                    var (a, b) = (graph.Asns[path[i]], graph.Asns[path[i + 1]]);
                    Assert.True(edgeSet.Contains((a, b)) || (!directed && edgeSet.Contains((b, a))), $"step {a}->{b} is not an edge");
                }
            }
        }
    }

    [Fact]
    public void Neighbors_merge_both_directions_with_their_edge_statistics()
    {
        var index = new AsGraphIndex();
        index.Apply([Edge(1, 2, count: 5, rtt: 3), Edge(2, 1, count: 2, rtt: 4), Edge(1, 3, count: 1, ixp: "IX"), Edge(4, 1, count: 9)]);
        index.RebuildNow();

        var answer = index.Neighbors(1);

        Assert.True(answer.Known);
        Assert.Equal([4L, 2L, 3L], answer.Neighbors.Select(n => n.Asn)); // most observed first: 9, 5+2, 1
        var two = answer.Neighbors.Single(n => n.Asn == 2);
        Assert.Equal((5L, 2L), (two.Out!.ObservedCount, two.In!.ObservedCount));
        Assert.Null(answer.Neighbors.Single(n => n.Asn == 4).Out);
        Assert.Equal("IX", answer.Neighbors.Single(n => n.Asn == 3).Out!.Ixp);
        Assert.False(index.Neighbors(77).Known);
    }

    [Fact]
    public void Statistics_of_a_known_edge_update_at_once_and_older_ones_are_ignored()
    {
        var index = Index((1, 2));

        index.Apply(Edge(1, 2, count: 7, rtt: 1.5));
        Assert.Equal(7, index.Neighbors(1).Neighbors[0].Out!.ObservedCount);

        index.Apply(Edge(1, 2, count: 3, rtt: 99));
        Assert.Equal(1.5, index.Neighbors(1).Neighbors[0].Out!.MinRttMs);
    }

    [Fact]
    public async Task New_edges_become_searchable_after_the_background_rebuild()
    {
        var index = Index((1, 2));

        index.Apply(Edge(2, 3));

        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (index.Path(1, 3, false).Path is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        Assert.Equal([1L, 2L, 3L], index.Path(1, 3, false).Path);
    }

    [Fact]
    public void Topology_is_limited_by_depth_and_node_count_and_prefers_well_connected_ASes()
    {
        // Star around 1 (neighbors 2..11); 2 is also connected to 20..29; 100 is three hops away.
        var edges = new List<(long, long)>();
        for (var n = 2; n <= 11; n++)
        {
            edges.Add((1, n));
        }
        for (var n = 20; n <= 29; n++)
        {
            edges.Add((2, n));
        }
        edges.Add((20, 100));
        var index = Index([.. edges]);

        var one = index.Topology(1, 1, 100);
        Assert.Equal(11, one.Nodes.Count);
        Assert.Equal(10, one.Edges.Count);
        Assert.False(one.Truncated);
        Assert.All(one.Nodes.Skip(1), n => Assert.Equal(1, n.Distance));

        var limited = index.Topology(1, 1, 4);
        Assert.True(limited.Truncated);
        Assert.Equal(4, limited.Nodes.Count);
        Assert.Contains(limited.Nodes, n => n.Asn == 2); // the hub of the level is kept
        Assert.All(limited.Edges, e => Assert.Contains(limited.Nodes, n => n.Asn == e.DstAsn));

        var three = index.Topology(1, 3, 1000);
        Assert.Equal(3, three.Nodes.Single(n => n.Asn == 100).Distance);
        Assert.DoesNotContain(index.Topology(1, 2, 1000).Nodes, n => n.Asn == 100);
    }

    [Fact]
    public void Observed_paths_between_two_ASes_are_the_stretches_of_paths_through_both()
    {
        var index = Index((1, 2), (2, 3), (3, 4));
        index.ApplyPath([1, 2, 3, 4], 1, T0, T0, ["vp1"], increment: true);
        index.ApplyPath([1, 2, 3, 4], 1, T0.AddHours(1), T0.AddHours(1), ["vp2"], increment: true);
        index.ApplyPath([5, 2, null, 4], 1, T0, T0, ["vp1"], increment: true);
        index.ApplyPath([4, 3, 2], 1, T0, T0, ["vp3"], increment: true);

        var observed = index.Observed(2, 4, directed: false);

        Assert.Equal(3, observed.Count);
        Assert.Equal([2L, 3L, 4L], observed[0].Path.Select(a => a!.Value));
        Assert.Equal(2, observed[0].ObservedCount);
        Assert.Equal(["vp1", "vp2"], observed[0].Vantages);
        Assert.Equal(T0.AddHours(1), observed[0].LastSeen);
        Assert.Equal([2L, null, 4L], observed[1].Path);
        Assert.True(observed[2].Reversed);
        Assert.Equal([4L, 3L, 2L], observed[2].Path.Select(a => a!.Value));
        Assert.Equal(2, index.Observed(2, 4, directed: true).Count);
        Assert.Empty(index.Observed(1, 5, directed: false));
    }

    [Fact]
    public void Database_totals_of_observed_paths_never_lower_local_counts()
    {
        var index = new AsGraphIndex();
        index.ApplyPath([1, 2], 1, T0, T0, ["vp1"], increment: true);
        index.ApplyPath([1, 2], 1, T0, T0, ["vp1"], increment: true);
        index.ApplyPath([1, 2], 1, T0, T0, ["vp1"], increment: false); // an older total from the table

        Assert.Equal(2, index.Observed(1, 2, true)[0].ObservedCount);
        index.ApplyPath([1, 2], 5, T0, T0, ["vp1"], increment: false);
        Assert.Equal(5, index.Observed(1, 2, true)[0].ObservedCount);
    }

    [Fact]
    public void CSR_graph_holds_each_undirected_adjacency_once()
    {
        var graph = AsGraph.Build([(1, 2), (2, 1), (1, 3)]);

        Assert.True(graph.TryGetNode(1, out var one));
        Assert.Equal(2, graph.Degree(one));
        Assert.Equal(3, graph.EdgeCount);
        Assert.Equal(2, graph.OutOffsets[one + 1] - graph.OutOffsets[one]);
        Assert.Equal(1, graph.InOffsets[one + 1] - graph.InOffsets[one]);
    }

    [Fact]
    public void Coalescing_queue_keeps_the_latest_value_and_drops_the_oldest_past_capacity()
    {
        var queue = new CoalescingQueue<string, int>(3);
        Assert.Equal(0, queue.Enqueue("a", 1));
        queue.Enqueue("b", 1);
        queue.Enqueue("a", 2);
        queue.Enqueue("c", 1);
        Assert.Equal(1, queue.Enqueue("d", 1));

        var batch = queue.Take(2);
        Assert.Equal([("b", 1), ("c", 1)], batch);
        queue.Enqueue("b", 5);
        Assert.Equal(0, queue.PutBack(batch));
        Assert.Equal([("c", 1), ("d", 1), ("b", 5)], queue.Take(10));
    }
}
