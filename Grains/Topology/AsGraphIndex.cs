namespace CyberWatch.Topology;

/// <summary>
/// The silo's in-memory AS graph: every observed edge with its statistics and every observed AS path,
/// answering neighbor, shortest-path and topology queries without a database or grain call.
/// </summary>
/// <remarks>
/// Queries read an immutable <see cref="AsGraph"/> snapshot. A statistics change of a known edge is
/// visible at once (written into the snapshot's statistics array); a new edge or AS makes the snapshot
/// stale, and it is rebuilt in the background at most every <see cref="RebuildInterval"/> (a rebuild of
/// 500,000 edges takes a few tens of milliseconds), so a new edge is searchable within about that long
/// after this index hears of it. Updates are applied only when they are not older than what the index
/// holds (observed counts only grow), so the local feed and the database poll can race harmlessly.
/// </remarks>
public sealed class AsGraphIndex
{
    public static readonly TimeSpan RebuildInterval = TimeSpan.FromMilliseconds(200);
    public const int MaxObservedPaths = 20;

    private readonly object gate = new();
    private readonly Dictionary<(long, long), int> slotOf = new();
    private readonly List<AsEdgeStats> stats = new();
    private readonly Dictionary<string, ObservedEntry> paths = new(StringComparer.Ordinal);
    private readonly Dictionary<long, List<ObservedEntry>> pathsThrough = new();
    private readonly TimeProvider clock;
    private Snapshot snapshot = new(AsGraph.Empty, []);
    private bool dirty;
    private int rebuilding;
    private DateTimeOffset? refreshedAt;
    private bool loaded;

    public AsGraphIndex(TimeProvider clock)
    {
        this.clock = clock;
    }

    public AsGraphIndex()
        : this(TimeProvider.System)
    {
    }

    private sealed record Snapshot(AsGraph Graph, AsEdgeStats[] Stats);

    /// <summary>The graph as one vantage point saw it, built from a snapshot on first use and kept until the next one.</summary>
    private sealed record VantageView(Snapshot Source, Snapshot View);

    private readonly Dictionary<(string Vantage, bool DirectOnly), VantageView> views = new();

    /// <summary>
    /// The snapshot to search: the whole graph, or only the edges seen from <paramref name="vantage"/>, and of those
    /// only the direct ones when <paramref name="directOnly"/>. A view is built once per snapshot (a kind that
    /// changes makes a new snapshot); a rebuild of the whole graph takes tens of ms.
    /// </summary>
    private Snapshot SnapshotFor(string? vantage, bool directOnly = false)
    {
        var current = Volatile.Read(ref snapshot);
        if (vantage is null && !directOnly)
        {
            return current;
        }
        lock (views)
        {
            var key = (vantage ?? "", directOnly);
            if (views.TryGetValue(key, out var view) && ReferenceEquals(view.Source, current))
            {
                return view.View;
            }
            var seen = current.Stats.Where(e => (vantage is null || e.Vantages.Contains(vantage, StringComparer.Ordinal))
                && (!directOnly || e.Kind == AsLinkKind.Direct)).ToArray();
            var built = new Snapshot(AsGraph.Build(Array.ConvertAll(seen, e => (e.SrcAsn, e.DstAsn))), seen);
            views[key] = new VantageView(current, built);
            return built;
        }
    }

    private sealed class ObservedEntry(long?[] path)
    {
        public long?[] Path { get; } = path;
        public long Count { get; set; }
        public DateTimeOffset FirstSeen { get; set; } = DateTimeOffset.MaxValue;
        public DateTimeOffset LastSeen { get; set; } = DateTimeOffset.MinValue;
        public SortedSet<string> Vantages { get; } = new(StringComparer.Ordinal);
    }

    /// <summary>Set by the loader once the whole <c>as_edges</c> table has been read.</summary>
    public bool Loaded
    {
        get => Volatile.Read(ref loaded);
        set => Volatile.Write(ref loaded, value);
    }

    public int EdgeCount
    {
        get
        {
            lock (gate)
            {
                return stats.Count;
            }
        }
    }

    public AsGraphFreshness Freshness()
    {
        var current = Volatile.Read(ref snapshot);
        lock (gate)
        {
            return new AsGraphFreshness(Loaded, current.Graph.NodeCount, current.Graph.EdgeCount, refreshedAt);
        }
    }

    /// <summary>Records that the index has caught up with the database at this time.</summary>
    public void MarkRefreshed()
    {
        lock (gate)
        {
            refreshedAt = clock.GetUtcNow();
        }
    }

    /// <summary>Applies edge statistics (from a grain or the database); older ones than held are ignored.</summary>
    public void Apply(AsEdgeStats edge) => Apply([edge]);

    public void Apply(IEnumerable<AsEdgeStats> edges)
    {
        var added = false;
        var kindChanged = false;
        lock (gate)
        {
            var current = snapshot;
            foreach (var edge in edges)
            {
                if (edge.SrcAsn == edge.DstAsn)
                {
                    continue;
                }
                if (slotOf.TryGetValue((edge.SrcAsn, edge.DstAsn), out var slot))
                {
                    var held = stats[slot];
                    if (edge.ObservedCount < held.ObservedCount || (edge.ObservedCount == held.ObservedCount && edge.LastSeen < held.LastSeen))
                    {
                        continue;
                    }
                    var update = edge.Relationship is null && held.Relationship is not null
                        ? edge with { Relationship = held.Relationship } // the grains' feed knows counts, not relationships
                        : edge;
                    stats[slot] = update;
                    if (slot < current.Stats.Length)
                    {
                        current.Stats[slot] = update;
                    }
                    // An indirect edge seen directly now belongs to the direct-only views: they are built per snapshot.
                    kindChanged |= held.Kind != edge.Kind;
                }
                else
                {
                    slotOf.Add((edge.SrcAsn, edge.DstAsn), stats.Count);
                    stats.Add(edge);
                    added = true;
                }
            }
            dirty |= added || kindChanged;
        }
        if (added || kindChanged)
        {
            ScheduleRebuild();
        }
    }

    /// <summary>
    /// Applies an observed AS path. <paramref name="increment"/> true adds one observation (the local
    /// pipeline); false takes the counts as totals (the database), kept only when not lower than held.
    /// </summary>
    public void ApplyPath(IReadOnlyList<long?> path, long observedCount, DateTimeOffset firstSeen, DateTimeOffset lastSeen,
        IEnumerable<string> vantages, bool increment)
    {
        if (path.Count == 0)
        {
            return;
        }
        var key = AsPathText.Format(path);
        lock (gate)
        {
            if (!paths.TryGetValue(key, out var entry))
            {
                entry = new ObservedEntry([.. path]);
                paths.Add(key, entry);
                foreach (var asn in path.OfType<long>().Distinct())
                {
                    if (!pathsThrough.TryGetValue(asn, out var list))
                    {
                        pathsThrough[asn] = list = [];
                    }
                    list.Add(entry);
                }
            }
            entry.Count = increment ? entry.Count + observedCount : Math.Max(entry.Count, observedCount);
            entry.FirstSeen = firstSeen < entry.FirstSeen ? firstSeen : entry.FirstSeen;
            entry.LastSeen = lastSeen > entry.LastSeen ? lastSeen : entry.LastSeen;
            entry.Vantages.UnionWith(vantages);
        }
    }

    /// <summary>Rebuilds the snapshot now if edges were added (tests, and the loader after a bulk load).</summary>
    public void RebuildNow()
    {
        (long, long)[] pairs;
        lock (gate)
        {
            if (!dirty)
            {
                return;
            }
            dirty = false;
            pairs = new (long, long)[stats.Count];
            for (var i = 0; i < pairs.Length; i++)
            {
                pairs[i] = (stats[i].SrcAsn, stats[i].DstAsn);
            }
        }
        var graph = AsGraph.Build(pairs);
        lock (gate)
        {
            // Statistics that changed while the graph was built are copied under the lock, so none is lost.
            var array = new AsEdgeStats[pairs.Length];
            stats.CopyTo(0, array, 0, pairs.Length);
            Volatile.Write(ref snapshot, new Snapshot(graph, array));
        }
    }

    private void ScheduleRebuild()
    {
        if (Interlocked.CompareExchange(ref rebuilding, 1, 0) != 0)
        {
            return;
        }
        _ = Task.Run(async () =>
        {
            try
            {
                await Task.Delay(RebuildInterval, clock);
                RebuildNow();
            }
            finally
            {
                Volatile.Write(ref rebuilding, 0);
                bool again;
                lock (gate)
                {
                    again = dirty;
                }
                if (again)
                {
                    ScheduleRebuild();
                }
            }
        });
    }

    public AsNeighborsAnswer Neighbors(long asn, string? vantage = null, bool directOnly = false)
    {
        var current = SnapshotFor(vantage, directOnly);
        var graph = current.Graph;
        if (!graph.TryGetNode(asn, out var node))
        {
            return new AsNeighborsAnswer(asn, false, [], Freshness());
        }
        var byAsn = new Dictionary<long, (AsEdgeStats? Out, AsEdgeStats? In)>();
        for (var i = graph.OutOffsets[node]; i < graph.OutOffsets[node + 1]; i++)
        {
            var other = graph.Asns[graph.OutTargets[i]];
            byAsn[other] = (current.Stats[graph.OutEdges[i]], byAsn.GetValueOrDefault(other).In);
        }
        for (var i = graph.InOffsets[node]; i < graph.InOffsets[node + 1]; i++)
        {
            var other = graph.Asns[graph.InSources[i]];
            byAsn[other] = (byAsn.GetValueOrDefault(other).Out, current.Stats[graph.InEdges[i]]);
        }
        var neighbors = byAsn
            .Select(kv => new AsNeighbor(kv.Key, kv.Value.Out, kv.Value.In))
            .OrderByDescending(n => (n.Out?.ObservedCount ?? 0) + (n.In?.ObservedCount ?? 0))
            .ThenBy(n => n.Asn)
            .ToArray();
        return new AsNeighborsAnswer(asn, true, neighbors, Freshness());
    }

    /// <summary>The edges a → b and b → a (either may be absent) and their relationship read from <paramref name="a"/>.</summary>
    public AsEdgeAnswer Edge(long a, long b)
    {
        var current = Volatile.Read(ref snapshot);
        AsEdgeStats? forward = null, backward = null;
        lock (gate)
        {
            // The live statistics, not the snapshot's: an edge added since the last rebuild is already answerable.
            if (slotOf.TryGetValue((a, b), out var slot))
            {
                forward = stats[slot];
            }
            if (slotOf.TryGetValue((b, a), out slot))
            {
                backward = stats[slot];
            }
        }
        var relationship = forward?.Relationship ?? backward?.Relationship?.Mirrored() ?? AsEdgeRelationship.Unknown;
        return new AsEdgeAnswer(a, b, forward is not null || backward is not null, forward, backward, relationship, Freshness());
    }

    /// <summary>Shortest AS path (fewest AS hops) as ASNs, or null; no statistics (the benchmark's unit).</summary>
    public long[]? ShortestPath(long srcAsn, long dstAsn, bool directed)
    {
        var graph = Volatile.Read(ref snapshot).Graph;
        if (!graph.TryGetNode(srcAsn, out var src) || !graph.TryGetNode(dstAsn, out var dst))
        {
            return null;
        }
        var nodes = AsGraphSearch.ShortestPath(graph, src, dst, directed);
        return nodes is null ? null : Array.ConvertAll(nodes, n => graph.Asns[n]);
    }

    public AsPathAnswer Path(long srcAsn, long dstAsn, bool directed, string? vantage = null, bool directOnly = false)
    {
        var current = SnapshotFor(vantage, directOnly);
        var graph = current.Graph;
        var srcKnown = graph.TryGetNode(srcAsn, out var src);
        var dstKnown = graph.TryGetNode(dstAsn, out var dst);
        int[]? nodes = srcKnown && dstKnown ? AsGraphSearch.ShortestPath(graph, src, dst, directed) : null;
        var links = new List<AsPathLink>();
        if (nodes is not null)
        {
            for (var i = 0; i + 1 < nodes.Length; i++)
            {
                var (a, b) = (nodes[i], nodes[i + 1]);
                if (FindEdge(current, a, b) is { } forward)
                {
                    links.Add(new AsPathLink(graph.Asns[a], graph.Asns[b], true, forward));
                }
                else if (FindEdge(current, b, a) is { } backward)
                {
                    links.Add(new AsPathLink(graph.Asns[a], graph.Asns[b], false, backward));
                }
            }
        }
        return new AsPathAnswer(srcAsn, dstAsn, directed, srcKnown, dstKnown,
            nodes is null ? null : Array.ConvertAll(nodes, n => graph.Asns[n]), links, Observed(srcAsn, dstAsn, directed, vantage, directOnly), Freshness());
    }

    private static AsEdgeStats? FindEdge(Snapshot current, int from, int to)
    {
        var graph = current.Graph;
        for (var i = graph.OutOffsets[from]; i < graph.OutOffsets[from + 1]; i++)
        {
            if (graph.OutTargets[i] == to)
            {
                return current.Stats[graph.OutEdges[i]];
            }
        }
        return null;
    }

    /// <summary>
    /// The stretches of observed AS paths from <paramref name="srcAsn"/> to <paramref name="dstAsn"/>
    /// (and, undirected, from dst to src, marked reversed), merged when equal, most observed first;
    /// <paramref name="directOnly"/> leaves out stretches with an indirect step (a gap).
    /// </summary>
    public IReadOnlyList<ObservedAsPath> Observed(long srcAsn, long dstAsn, bool directed, string? vantage = null, bool directOnly = false)
    {
        var merged = new Dictionary<(string, bool), ObservedAsPath>();
        lock (gate)
        {
            if (!pathsThrough.TryGetValue(srcAsn, out var fromSrc) || !pathsThrough.TryGetValue(dstAsn, out var fromDst))
            {
                return [];
            }
            foreach (var entry in fromSrc.Count <= fromDst.Count ? fromSrc : fromDst)
            {
                var i = Array.IndexOf(entry.Path, srcAsn);
                var j = Array.IndexOf(entry.Path, dstAsn);
                if (i < 0 || j < 0 || (directed && j < i) || (vantage is not null && !entry.Vantages.Contains(vantage)))
                {
                    continue;
                }
                var reversed = j < i;
                var stretch = reversed ? entry.Path[j..(i + 1)] : entry.Path[i..(j + 1)];
                if (directOnly && stretch.Contains(null))
                {
                    continue;
                }
                var key = (AsPathText.Format(stretch), reversed);
                merged[key] = merged.TryGetValue(key, out var held)
                    ? held with
                    {
                        ObservedCount = held.ObservedCount + entry.Count,
                        FirstSeen = entry.FirstSeen < held.FirstSeen ? entry.FirstSeen : held.FirstSeen,
                        LastSeen = entry.LastSeen > held.LastSeen ? entry.LastSeen : held.LastSeen,
                        Vantages = held.Vantages.Union(entry.Vantages).Order(StringComparer.Ordinal).ToArray(),
                    }
                    : new ObservedAsPath(stretch, reversed, entry.Count, entry.FirstSeen, entry.LastSeen, entry.Vantages.ToArray());
            }
        }
        return merged.Values.OrderBy(p => p.Reversed).ThenByDescending(p => p.ObservedCount).ThenBy(p => p.Path.Count)
            .Take(MaxObservedPaths).ToArray();
    }

    public AsTopologyAnswer Topology(long asn, int depth, int limit, string? vantage = null, bool directOnly = false)
    {
        var current = SnapshotFor(vantage, directOnly);
        var graph = current.Graph;
        if (!graph.TryGetNode(asn, out var centre))
        {
            return new AsTopologyAnswer(asn, depth, limit, false, [], [], false, Freshness());
        }
        var (found, truncated) = AsGraphSearch.Around(graph, centre, depth, limit);
        var included = new Dictionary<int, int>(found.Count);
        foreach (var (node, distance) in found)
        {
            included[node] = distance;
        }
        var maxEdges = limit * 10;
        var edges = new List<AsEdgeStats>();
        foreach (var (node, _) in found)
        {
            for (var i = graph.OutOffsets[node]; i < graph.OutOffsets[node + 1]; i++)
            {
                if (included.ContainsKey(graph.OutTargets[i]))
                {
                    if (edges.Count == maxEdges)
                    {
                        truncated = true;
                        break;
                    }
                    edges.Add(current.Stats[graph.OutEdges[i]]);
                }
            }
        }
        var nodes = found.Select(f => new AsTopologyNode(graph.Asns[f.Node], f.Distance, graph.Degree(f.Node))).ToArray();
        return new AsTopologyAnswer(asn, depth, limit, true, nodes, edges, truncated, Freshness());
    }
}
