namespace CyberWatch.Topology.Relationships;

/// <summary>
/// Infers customer→provider and peer relationships of AS pairs from observed AS paths (traceroute AS
/// paths and BGP AS_PATHs, each written observer first), in the valley-free style of Gao (2001) and
/// CAIDA's AS Rank (Luckie et al., 2013): transit degree, a clique of transit-free ASes, then each path
/// read from its top down. The algorithm, its rules in order and its limits are in docs/topology.md.
/// </summary>
/// <remarks>
/// Valley-free: a route climbs customer→provider links, crosses at most one peer link, then descends;
/// read from the observer, a path goes up to its top and down to the origin. The top of a path is its
/// clique segment if it has one, else its highest-ranked AS (transit degree, then degree, then the lower
/// ASN). Links away from the top are firm evidence (up before it, down after it; a path with a clique
/// segment has its one peer link inside the segment, so all its other links are firm). A link next to
/// a single top AS may be the path's peer link or a provider link: it is decided by the weaker rules
/// (IXP, stubs, neither transiting the other). Pure and single-threaded: one instance per computation.
/// </remarks>
public sealed class AsRelationshipInference
{
    /// <summary>Transit-degree leaders searched for the largest clique (AS Rank uses 10).</summary>
    public const int CliqueSeedCandidates = 10;

    /// <summary>How far down the ranking the clique may grow by ASes adjacent to all its members.</summary>
    public const int CliqueExtensionCandidates = 50;

    private readonly Dictionary<string, (long[] Asns, AsRelationshipSource Source)> paths = new(StringComparer.Ordinal);
    private readonly HashSet<(long, long)> ixpPairs = [];

    /// <summary>Adds one observed path, observer first, origin last; the same path from another source merges its source.</summary>
    public void AddPath(IReadOnlyList<long> asns, AsRelationshipSource source)
    {
        if (asns.Count < 2)
        {
            return;
        }
        var key = string.Join(' ', asns);
        paths[key] = paths.TryGetValue(key, out var known) ? (known.Asns, known.Source | source) : ([.. asns], source);
    }

    public void AddPath(ReadOnlySpan<uint> asns, AsRelationshipSource source)
    {
        var copy = new long[asns.Length];
        for (var i = 0; i < asns.Length; i++)
        {
            copy[i] = asns[i];
        }
        AddPath(copy, source);
    }

    /// <summary>
    /// Adds a stored trace path (<c>as_paths.path</c>, e.g. <c>1100 1200 * 1500</c>): a gap may hide an AS,
    /// so the path is used as the separate runs of ASes between gaps.
    /// </summary>
    public void AddTracePath(string storedPath)
    {
        foreach (var run in storedPath.Split('*', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var asns = new List<long>();
            foreach (var token in run.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (!long.TryParse(token, out var asn))
                {
                    throw new FormatException($"stored AS path '{storedPath}': '{token}' is not an ASN");
                }
                asns.Add(asn);
            }
            AddPath(asns, AsRelationshipSource.Traces);
        }
    }

    /// <summary>Marks a pair whose link a trace saw crossing an IXP peering LAN.</summary>
    public void AddIxpLink(long a, long b)
    {
        if (a != b)
        {
            ixpPairs.Add(Pair(a, b));
        }
    }

    public AsRelationshipResult Infer()
    {
        var discardedReserved = 0;
        var discardedLoops = 0;
        var usable = new List<(long[] Asns, AsRelationshipSource Source)>(paths.Count);
        foreach (var (asns, source) in paths.Values)
        {
            var collapsed = Collapse(asns);
            if (collapsed.Any(IsReserved))
            {
                discardedReserved++;
            }
            else if (collapsed.Distinct().Count() != collapsed.Length)
            {
                discardedLoops++;
            }
            else if (collapsed.Length >= 2)
            {
                usable.Add((collapsed, source));
            }
        }

        var neighbors = new Dictionary<long, HashSet<long>>();
        var transit = new Dictionary<long, HashSet<long>>();
        foreach (var (asns, _) in usable)
        {
            for (var i = 0; i < asns.Length; i++)
            {
                var set = Get(neighbors, asns[i]);
                if (i > 0)
                {
                    set.Add(asns[i - 1]);
                }
                if (i < asns.Length - 1)
                {
                    set.Add(asns[i + 1]);
                }
                if (i > 0 && i < asns.Length - 1)
                {
                    var through = Get(transit, asns[i]);
                    through.Add(asns[i - 1]);
                    through.Add(asns[i + 1]);
                }
            }
        }
        int TransitDegree(long asn) => transit.TryGetValue(asn, out var set) ? set.Count : 0;

        var ranking = neighbors.Keys
            .OrderByDescending(TransitDegree)
            .ThenByDescending(asn => neighbors[asn].Count)
            .ThenBy(asn => asn)
            .ToList();
        var rank = new Dictionary<long, int>(ranking.Count);
        for (var i = 0; i < ranking.Count; i++)
        {
            rank[ranking[i]] = i;
        }
        var clique = Clique(ranking, neighbors, TransitDegree);

        var pairs = new Dictionary<(long, long), PairEvidence>();
        var discardedPoisoned = 0;
        foreach (var (asns, source) in usable)
        {
            var members = new List<int>();
            for (var i = 0; i < asns.Length; i++)
            {
                if (clique.Contains(asns[i]))
                {
                    members.Add(i);
                }
            }
            if (members.Count >= 2 && members[^1] - members[0] + 1 != members.Count)
            {
                // A non-clique AS between clique members is a valley through the top: a leak or a poisoned path.
                discardedPoisoned++;
                continue;
            }
            int topStart, topEnd;
            if (members.Count > 0)
            {
                (topStart, topEnd) = (members[0], members[^1]);
            }
            else
            {
                var top = 0;
                for (var i = 1; i < asns.Length; i++)
                {
                    if (rank[asns[i]] < rank[asns[top]])
                    {
                        top = i;
                    }
                }
                (topStart, topEnd) = (top, top);
            }
            var cliqueTop = topEnd > topStart;
            for (var i = 0; i < asns.Length - 1; i++)
            {
                var evidence = Get(pairs, Pair(asns[i], asns[i + 1]));
                evidence.Paths++;
                evidence.Source |= source;
                if (i >= topStart && i < topEnd)
                {
                    continue; // inside the clique segment: decided by the clique
                }
                var upward = i < topStart;
                var nextToTop = !cliqueTop && (i == topStart - 1 || i == topEnd);
                if (nextToTop)
                {
                    evidence.NextToTop++;
                    continue;
                }
                // Upward: asns[i] is a customer of asns[i + 1]; downward: asns[i + 1] is a customer of asns[i].
                var customer = upward ? asns[i] : asns[i + 1];
                if (customer == Math.Min(asns[i], asns[i + 1]))
                {
                    evidence.ACustomer++;
                }
                else
                {
                    evidence.BCustomer++;
                }
            }
        }

        var relationships = new List<AsRelationship>(pairs.Count);
        foreach (var ((a, b), evidence) in pairs.OrderBy(p => p.Key))
        {
            relationships.Add(Decide(a, b, evidence, clique, TransitDegree(a), TransitDegree(b), ixpPairs.Contains((a, b))));
        }
        return new AsRelationshipResult(
            relationships,
            [.. ranking.Where(clique.Contains)],
            paths.Count,
            usable.Count - discardedPoisoned,
            discardedReserved,
            discardedLoops,
            discardedPoisoned,
            ranking.ToDictionary(asn => asn, TransitDegree));
    }

    private static AsRelationship Decide(long a, long b, PairEvidence e, HashSet<long> clique, int transitA, int transitB, bool ixp)
    {
        AsRelationship Make(AsRelationshipKind kind, AsRelationshipBasis basis, double confidence) =>
            new(a, b, kind, e.Source, Math.Round(confidence, 2), basis, e.Paths);

        if (clique.Contains(a) && clique.Contains(b))
        {
            return Make(AsRelationshipKind.P2P, AsRelationshipBasis.Clique, 0.9);
        }
        var firm = e.ACustomer + e.BCustomer;
        if (firm > 0)
        {
            if (e.ACustomer == e.BCustomer)
            {
                return Make(AsRelationshipKind.Unknown, AsRelationshipBasis.Conflict, 0);
            }
            var agreeing = Math.Max(e.ACustomer, e.BCustomer);
            var confidence = 0.55 + 0.4 * (2 * agreeing - firm) / firm;
            return Make(e.ACustomer > e.BCustomer ? AsRelationshipKind.C2P : AsRelationshipKind.P2C, AsRelationshipBasis.Transit, confidence);
        }
        if (e.NextToTop == 0)
        {
            return Make(AsRelationshipKind.Unknown, AsRelationshipBasis.None, 0);
        }
        if (ixp)
        {
            return Make(AsRelationshipKind.P2P, AsRelationshipBasis.Ixp, 0.7);
        }
        return (transitA, transitB) switch
        {
            (0, 0) => Make(AsRelationshipKind.P2P, AsRelationshipBasis.Stubs, 0.6),
            (0, _) => Make(AsRelationshipKind.C2P, AsRelationshipBasis.Stub, 0.6),
            (_, 0) => Make(AsRelationshipKind.P2C, AsRelationshipBasis.Stub, 0.6),
            _ => Make(AsRelationshipKind.P2P, AsRelationshipBasis.TopOnly, 0.5),
        };
    }

    /// <summary>
    /// The largest clique among the <see cref="CliqueSeedCandidates"/> transit-degree leaders (ties: the
    /// better-ranked set), grown greedily down the ranking by ASes adjacent to every member. Only ASes
    /// that transit something are candidates: a clique of stubs says nothing about the top.
    /// </summary>
    private static HashSet<long> Clique(List<long> ranking, Dictionary<long, HashSet<long>> neighbors, Func<long, int> transitDegree)
    {
        var candidates = ranking.Where(asn => transitDegree(asn) > 0).Take(CliqueExtensionCandidates).ToList();
        var seeds = candidates.Take(CliqueSeedCandidates).ToList();
        var best = 0;
        var bestSize = 0;
        var bestRankSum = int.MaxValue;
        for (var mask = 1; mask < 1 << seeds.Count; mask++)
        {
            var size = System.Numerics.BitOperations.PopCount((uint)mask);
            if (size < bestSize)
            {
                continue;
            }
            var rankSum = 0;
            var isClique = true;
            for (var i = 0; i < seeds.Count && isClique; i++)
            {
                if ((mask & 1 << i) == 0)
                {
                    continue;
                }
                rankSum += i;
                for (var j = i + 1; j < seeds.Count; j++)
                {
                    if ((mask & 1 << j) != 0 && !neighbors[seeds[i]].Contains(seeds[j]))
                    {
                        isClique = false;
                        break;
                    }
                }
            }
            if (isClique && (size > bestSize || rankSum < bestRankSum))
            {
                (best, bestSize, bestRankSum) = (mask, size, rankSum);
            }
        }
        var clique = new HashSet<long>();
        for (var i = 0; i < seeds.Count; i++)
        {
            if ((best & 1 << i) != 0)
            {
                clique.Add(seeds[i]);
            }
        }
        foreach (var asn in candidates.Skip(seeds.Count))
        {
            if (clique.All(member => neighbors[asn].Contains(member)))
            {
                clique.Add(asn);
            }
        }
        return clique;
    }

    private static long[] Collapse(long[] asns)
    {
        var list = new List<long>(asns.Length);
        foreach (var asn in asns)
        {
            if (list.Count == 0 || list[^1] != asn)
            {
                list.Add(asn);
            }
        }
        return [.. list];
    }

    /// <summary>ASNs no real path carries: 0, AS_TRANS, documentation, private and reserved ranges (IANA).</summary>
    public static bool IsReserved(long asn) =>
        asn is 0 or 23456 or (>= 64496 and <= 131071) or (>= 4_200_000_000) or < 0;

    private static (long, long) Pair(long x, long y) => x < y ? (x, y) : (y, x);

    private static TValue Get<TKey, TValue>(Dictionary<TKey, TValue> map, TKey key)
        where TKey : notnull
        where TValue : new()
    {
        if (!map.TryGetValue(key, out var value))
        {
            value = new TValue();
            map[key] = value;
        }
        return value;
    }

    private sealed class PairEvidence
    {
        public int Paths;
        public AsRelationshipSource Source;
        public int ACustomer;
        public int BCustomer;
        public int NextToTop;
    }
}

/// <summary>What one inference produced, with the counts that say how much it rests on.</summary>
/// <param name="Clique">The inferred transit-free clique, best-ranked first.</param>
/// <param name="DistinctPaths">Distinct paths given (both sources).</param>
/// <param name="UsedPaths">Paths the relationships rest on (after the discards).</param>
/// <param name="TransitDegrees">Each AS's transit degree (distinct neighbors it was seen between).</param>
public sealed record AsRelationshipResult(
    IReadOnlyList<AsRelationship> Relationships,
    IReadOnlyList<long> Clique,
    int DistinctPaths,
    int UsedPaths,
    int DiscardedReserved,
    int DiscardedLoops,
    int DiscardedPoisoned,
    IReadOnlyDictionary<long, int> TransitDegrees)
{
    public AsRelationship? Find(long x, long y) =>
        Relationships.FirstOrDefault(r => (r.A, r.B) == (Math.Min(x, y), Math.Max(x, y)));
}
