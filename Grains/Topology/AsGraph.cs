namespace CyberWatch.Topology;

/// <summary>
/// An immutable AS graph in compressed sparse row form: ASNs mapped to dense node numbers, and per node
/// its out-edges, in-edges and undirected neighbors as slices of flat int arrays. Built once from an edge
/// list (O(V + E)); searches allocate nothing per edge.
/// </summary>
public sealed class AsGraph
{
    private readonly Dictionary<long, int> nodeOf;

    private AsGraph(long[] asns, Dictionary<long, int> nodeOf, int[] outOffsets, int[] outTargets, int[] outEdges,
        int[] inOffsets, int[] inSources, int[] inEdges, int[] adjOffsets, int[] adjTargets, long[] edgeSrc, long[] edgeDst)
    {
        Asns = asns;
        this.nodeOf = nodeOf;
        OutOffsets = outOffsets;
        OutTargets = outTargets;
        OutEdges = outEdges;
        InOffsets = inOffsets;
        InSources = inSources;
        InEdges = inEdges;
        AdjOffsets = adjOffsets;
        AdjTargets = adjTargets;
        EdgeSrc = edgeSrc;
        EdgeDst = edgeDst;
    }

    public static AsGraph Empty { get; } = Build([]);

    /// <summary>ASN of each node number.</summary>
    public long[] Asns { get; }

    public int NodeCount => Asns.Length;

    public int EdgeCount => EdgeSrc.Length;

    /// <summary>Out-edges of node n: <c>OutTargets[OutOffsets[n]..OutOffsets[n+1]]</c> (node numbers), with their edge numbers in <see cref="OutEdges"/>.</summary>
    public int[] OutOffsets { get; }

    public int[] OutTargets { get; }

    public int[] OutEdges { get; }

    public int[] InOffsets { get; }

    public int[] InSources { get; }

    public int[] InEdges { get; }

    /// <summary>Undirected neighbors (either direction observed), each once.</summary>
    public int[] AdjOffsets { get; }

    public int[] AdjTargets { get; }

    /// <summary>Endpoints of edge number e, in the order the edges were given to <see cref="Build"/>.</summary>
    public long[] EdgeSrc { get; }

    public long[] EdgeDst { get; }

    public bool TryGetNode(long asn, out int node) => nodeOf.TryGetValue(asn, out node);

    public int Degree(int node) => AdjOffsets[node + 1] - AdjOffsets[node];

    /// <summary>
    /// Builds the graph from directed edges (src, dst). Self edges and duplicates must not be given; edge
    /// number e is the e-th pair.
    /// </summary>
    public static AsGraph Build(IReadOnlyList<(long Src, long Dst)> edges, IEnumerable<long>? extraNodes = null)
    {
        var nodeOf = new Dictionary<long, int>();
        var asns = new List<long>();
        int Node(long asn)
        {
            if (!nodeOf.TryGetValue(asn, out var n))
            {
                n = asns.Count;
                nodeOf.Add(asn, n);
                asns.Add(asn);
            }
            return n;
        }
        var src = new int[edges.Count];
        var dst = new int[edges.Count];
        var edgeSrc = new long[edges.Count];
        var edgeDst = new long[edges.Count];
        for (var e = 0; e < edges.Count; e++)
        {
            (edgeSrc[e], edgeDst[e]) = edges[e];
            src[e] = Node(edges[e].Src);
            dst[e] = Node(edges[e].Dst);
        }
        foreach (var asn in extraNodes ?? [])
        {
            Node(asn);
        }
        var n = asns.Count;
        var (outOffsets, outTargets, outEdges) = Csr(n, src, dst);
        var (inOffsets, inSources, inEdges) = Csr(n, dst, src);

        // Undirected: out ∪ in per node, each neighbor once (A→B and B→A observed make one adjacency).
        var adjOffsets = new int[n + 1];
        var adj = new List<int>(edges.Count * 2);
        var mark = new int[n];
        Array.Fill(mark, -1);
        for (var v = 0; v < n; v++)
        {
            adjOffsets[v] = adj.Count;
            for (var i = outOffsets[v]; i < outOffsets[v + 1]; i++)
            {
                if (mark[outTargets[i]] != v)
                {
                    mark[outTargets[i]] = v;
                    adj.Add(outTargets[i]);
                }
            }
            for (var i = inOffsets[v]; i < inOffsets[v + 1]; i++)
            {
                if (mark[inSources[i]] != v)
                {
                    mark[inSources[i]] = v;
                    adj.Add(inSources[i]);
                }
            }
        }
        adjOffsets[n] = adj.Count;
        return new AsGraph(asns.ToArray(), nodeOf, outOffsets, outTargets, outEdges, inOffsets, inSources, inEdges,
            adjOffsets, adj.ToArray(), edgeSrc, edgeDst);
    }

    // Counting sort by the first endpoint: O(V + E), stable in edge order.
    private static (int[] Offsets, int[] Targets, int[] Edges) Csr(int n, int[] from, int[] to)
    {
        var offsets = new int[n + 1];
        foreach (var f in from)
        {
            offsets[f + 1]++;
        }
        for (var v = 0; v < n; v++)
        {
            offsets[v + 1] += offsets[v];
        }
        var next = (int[])offsets.Clone();
        var targets = new int[from.Length];
        var edges = new int[from.Length];
        for (var e = 0; e < from.Length; e++)
        {
            var slot = next[from[e]]++;
            targets[slot] = to[e];
            edges[slot] = e;
        }
        return (offsets, targets, edges);
    }
}
