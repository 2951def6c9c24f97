namespace CyberWatch.Topology;

/// <summary>
/// Searches over an <see cref="AsGraph"/>. Every search uses per-thread scratch arrays stamped with a
/// search number, so nothing is cleared or allocated per visited node.
/// </summary>
public static class AsGraphSearch
{
    [ThreadStatic]
    private static Scratch? scratch;

    private sealed class Scratch(int size)
    {
        public readonly int[] StampF = new int[size];
        public readonly int[] StampB = new int[size];
        public readonly int[] ParentF = new int[size];
        public readonly int[] ParentB = new int[size];
        public readonly int[] QueueF = new int[size];
        public readonly int[] QueueB = new int[size];
        public int Stamp;

        public int Size => StampF.Length;

        public int Next()
        {
            if (++Stamp == int.MaxValue)
            {
                Array.Clear(StampF);
                Array.Clear(StampB);
                Stamp = 1;
            }
            return Stamp;
        }
    }

    private static Scratch For(AsGraph graph)
    {
        if (scratch is null || scratch.Size < graph.NodeCount)
        {
            scratch = new Scratch(Math.Max(graph.NodeCount, 16));
        }
        return scratch;
    }

    /// <summary>
    /// Shortest path in AS hops from <paramref name="src"/> to <paramref name="dst"/> (node numbers), by
    /// bidirectional breadth-first search that always grows the cheaper side. Directed follows edges in
    /// their observed direction (the backward side walks in-edges); undirected treats every observed edge
    /// as an adjacency. Returns the node numbers of the path, or null when there is none.
    /// </summary>
    public static int[]? ShortestPath(AsGraph graph, int src, int dst, bool directed)
    {
        if (src == dst)
        {
            return [src];
        }
        var s = For(graph);
        var stamp = s.Next();
        var (fwdOffsets, fwdTargets) = directed ? (graph.OutOffsets, graph.OutTargets) : (graph.AdjOffsets, graph.AdjTargets);
        var (bwdOffsets, bwdTargets) = directed ? (graph.InOffsets, graph.InSources) : (graph.AdjOffsets, graph.AdjTargets);
        s.StampF[src] = stamp;
        s.ParentF[src] = -1;
        s.StampB[dst] = stamp;
        s.ParentB[dst] = -1;
        s.QueueF[0] = src;
        s.QueueB[0] = dst;
        int headF = 0, tailF = 1, headB = 0, tailB = 1;
        long workF = Work(fwdOffsets, src), workB = Work(bwdOffsets, dst);
        while (headF < tailF && headB < tailB)
        {
            // Grow the side whose next level costs fewer edge scans.
            var forward = workF <= workB;
            var (offsets, targets, queue, own, other, parent) = forward
                ? (fwdOffsets, fwdTargets, s.QueueF, s.StampF, s.StampB, s.ParentF)
                : (bwdOffsets, bwdTargets, s.QueueB, s.StampB, s.StampF, s.ParentB);
            ref var head = ref forward ? ref headF : ref headB;
            ref var tail = ref forward ? ref tailF : ref tailB;
            var levelEnd = tail;
            long nextWork = 0;
            while (head < levelEnd)
            {
                var u = queue[head++];
                for (var i = offsets[u]; i < offsets[u + 1]; i++)
                {
                    var v = targets[i];
                    if (other[v] == stamp)
                    {
                        // The first meeting is a shortest path: levels are expanded whole and every newly reached
                        // node is checked against the other side, so a shorter path would have met earlier.
                        return forward ? Join(s, u, v) : Join(s, v, u);
                    }
                    if (own[v] != stamp)
                    {
                        own[v] = stamp;
                        parent[v] = u;
                        queue[tail++] = v;
                        nextWork += offsets[v + 1] - offsets[v];
                    }
                }
            }
            if (forward)
            {
                workF = nextWork;
            }
            else
            {
                workB = nextWork;
            }
        }
        return null;
    }

    private static long Work(int[] offsets, int node) => offsets[node + 1] - offsets[node];

    // Path = src ... a (forward parents) then b ... dst (backward parents), where a→b is the meeting step.
    private static int[] Join(Scratch s, int a, int b)
    {
        var left = new List<int>();
        for (var v = a; v != -1; v = s.ParentF[v])
        {
            left.Add(v);
        }
        left.Reverse();
        for (var v = b; v != -1; v = s.ParentB[v])
        {
            left.Add(v);
        }
        return left.ToArray();
    }

    /// <summary>Hop distances from <paramref name="src"/> to every node (undirected; -1 unreachable), for tests and checks.</summary>
    public static int[] Distances(AsGraph graph, int src, bool directed)
    {
        var (offsets, targets) = directed ? (graph.OutOffsets, graph.OutTargets) : (graph.AdjOffsets, graph.AdjTargets);
        var distance = new int[graph.NodeCount];
        Array.Fill(distance, -1);
        var queue = new Queue<int>();
        distance[src] = 0;
        queue.Enqueue(src);
        while (queue.TryDequeue(out var u))
        {
            for (var i = offsets[u]; i < offsets[u + 1]; i++)
            {
                if (distance[targets[i]] < 0)
                {
                    distance[targets[i]] = distance[u] + 1;
                    queue.Enqueue(targets[i]);
                }
            }
        }
        return distance;
    }

    /// <summary>
    /// Nodes within <paramref name="depth"/> hops of <paramref name="centre"/> (undirected), at most
    /// <paramref name="limit"/>: level by level, preferring well-connected nodes when a level does not fit.
    /// </summary>
    public static (List<(int Node, int Distance)> Nodes, bool Truncated) Around(AsGraph graph, int centre, int depth, int limit)
    {
        var s = For(graph);
        var stamp = s.Next();
        var result = new List<(int, int)> { (centre, 0) };
        s.StampF[centre] = stamp;
        var frontier = new List<int> { centre };
        var truncated = false;
        for (var level = 1; level <= depth && frontier.Count > 0 && !truncated; level++)
        {
            var next = new List<int>();
            foreach (var u in frontier)
            {
                for (var i = graph.AdjOffsets[u]; i < graph.AdjOffsets[u + 1]; i++)
                {
                    var v = graph.AdjTargets[i];
                    if (s.StampF[v] != stamp)
                    {
                        s.StampF[v] = stamp;
                        next.Add(v);
                    }
                }
            }
            var room = limit - result.Count;
            if (next.Count > room)
            {
                truncated = true;
                next.Sort((a, b) => graph.Degree(b).CompareTo(graph.Degree(a)) is var c && c != 0 ? c : graph.Asns[a].CompareTo(graph.Asns[b]));
                next.RemoveRange(room, next.Count - room);
            }
            foreach (var v in next)
            {
                result.Add((v, level));
            }
            frontier = next;
        }
        return (result, truncated);
    }
}
