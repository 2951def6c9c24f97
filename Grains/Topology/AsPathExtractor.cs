using CyberWatch.Enrichment;
namespace CyberWatch.Topology;

/// <summary>What an AS path extraction noticed; several can hold at once.</summary>
[Flags]
public enum AsPathFlags
{
    None = 0,

    /// <summary>The path has at least one gap between two different ASes (the edge across it is indirect).</summary>
    Gap = 1,

    /// <summary>A hop's prefix has several origin ASes (MOAS); the AS chosen is the one that continues the path.</summary>
    MultiOrigin = 2,

    /// <summary>The path crossed an IXP peering LAN.</summary>
    Ixp = 4,

    /// <summary>A single hop of another AS between hops of one AS was taken for a third-party address and folded into that AS.</summary>
    ThirdPartySuspected = 8,

    /// <summary>An AS appears twice, separated by another AS (routing change during the trace, or an address artifact).</summary>
    AsLoop = 16,

    /// <summary>Replies at one probe TTL came from different ASes (load balancing); the first reply decided the path.</summary>
    LoadBalancedAcrossAses = 32,

    /// <summary>An IXP hop was not directly between two mapped hops, so the edge across the IXP is only indirect.</summary>
    IxpWithoutEdge = 64,
}

/// <summary>Whether a path element is an AS or a gap marker.</summary>
public enum AsPathElementKind
{
    As,
    Gap,
}

/// <summary>
/// One element of an AS path: a run of consecutive hops in one AS, or a gap (silent, private/special or
/// unmapped hops between two different ASes; <see cref="Hops"/> counts them, IXP hops aside).
/// </summary>
/// <param name="OriginAsns">All origins of multi-origin prefixes met in the run, or null.</param>
/// <param name="EnteredViaIxp">The IXP crossed on the way into this AS, if any.</param>
/// <param name="FirstRttMs">RTT of the first hop of the run that has one.</param>
public sealed record AsPathElement(
    AsPathElementKind Kind,
    long Asn,
    int FirstTtl,
    int LastTtl,
    int Hops,
    IReadOnlyList<long>? OriginAsns = null,
    string? EnteredViaIxp = null,
    double? FirstRttMs = null,
    string? Org = null,
    string? Country = null)
{
    public bool IsGap => Kind == AsPathElementKind.Gap;
}

/// <summary>
/// An AS edge crossed by a measurement, in path order. <see cref="RttMs"/> is the RTT of the first hop in
/// the dst AS (the round trip from the vantage point to the far side of the edge; the figure the edge
/// statistics keep). <see cref="RttDeltaMs"/> is that minus the RTT of the last hop in the src AS: a hint
/// of the edge's own latency, noisy (ICMP generation on the near router can even make it negative).
/// <see cref="Kind"/> is indirect when <see cref="GapHops"/> hops that could not be placed in an AS lay between.
/// </summary>
public sealed record ExtractedAsEdge(
    long SrcAsn,
    long DstAsn,
    string? Ixp,
    double? RttMs,
    double? RttDeltaMs,
    int SrcTtl,
    int DstTtl,
    bool MultiOrigin,
    AsLinkKind Kind = AsLinkKind.Direct,
    int GapHops = 0);

/// <summary>
/// The AS path of one measurement, the AS edges it shows, and what was noticed on the way. <see cref="Steps"/>
/// and <see cref="Edges"/> come from the same walk: every step is an edge (an edge crossed twice is listed once,
/// direct if either crossing was).
/// </summary>
public sealed record AsPathExtraction(
    IReadOnlyList<AsPathElement> Elements,
    IReadOnlyList<ExtractedAsEdge> Edges,
    AsPathFlags Flags,
    IReadOnlyList<int> ThirdPartyTtls)
{
    public static AsPathExtraction Empty { get; } = new([], [], AsPathFlags.None, []);

    /// <summary>Consecutive ASes of the path with how each pair was seen (a gap element between them: indirect).</summary>
    public IReadOnlyList<AsPathStep> Steps => AsPathText.Steps(Path);

    /// <summary>The path as ASNs in order, null for a gap.</summary>
    public IReadOnlyList<long?> Path => Elements.Select(e => e.IsGap ? (long?)null : e.Asn).ToArray();

    /// <summary>The ASes of the path in order of first appearance.</summary>
    public IReadOnlyList<long> Asns => Elements.Where(e => !e.IsGap).Select(e => e.Asn).Distinct().ToArray();

    /// <summary>The path as text: <c>64500 64501 * 64502</c> (<c>*</c> is a gap).</summary>
    public string Text => AsPathText.Format(Path);

    public bool IsEmpty => Elements.Count == 0;
}

/// <summary>Text form of AS paths (<c>64500 64501 * 64502</c>), used as the key of observed paths.</summary>
public static class AsPathText
{
    public static string Format(IEnumerable<long?> path) =>
        string.Join(' ', path.Select(a => a is { } asn ? asn.ToString(System.Globalization.CultureInfo.InvariantCulture) : "*"));

    /// <summary>
    /// The steps of a path (null = gap): each AS to the next, indirect when a gap lies between. Gaps at either
    /// end, or next to each other, step nowhere.
    /// </summary>
    public static IReadOnlyList<AsPathStep> Steps(IReadOnlyList<long?> path)
    {
        var steps = new List<AsPathStep>();
        long? previous = null;
        var gap = false;
        foreach (var element in path)
        {
            if (element is not { } asn)
            {
                gap = previous is not null;
                continue;
            }
            if (previous is { } from && from != asn)
            {
                steps.Add(new AsPathStep(from, asn, gap ? AsLinkKind.Indirect : AsLinkKind.Direct));
            }
            previous = asn;
            gap = false;
        }
        return steps;
    }

    /// <summary>The ASes of a path in order, gaps dropped: what path-change detection compares.</summary>
    public static IReadOnlyList<long> Asns(IReadOnlyList<long?> path) => path.OfType<long>().ToArray();

    public static bool TryParse(string? text, out long?[] path)
    {
        var parts = (text ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        path = new long?[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (parts[i] == "*")
            {
                continue;
            }
            if (!long.TryParse(parts[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var asn)
                || asn > AsEdgeKey.MaxAsn)
            {
                return false;
            }
            path[i] = asn;
        }
        return parts.Length > 0;
    }
}

/// <summary>
/// Builds the AS path of a measurement from its enriched hops. Rules, in order:
/// <list type="number">
/// <item>Per probe TTL the first reply with an address decides (load balancing across ASes is flagged).</item>
/// <item>A hop is a gap when silent, when its address class is not global (private, CGNAT, ...) or when no
/// prefix maps it; it is an IXP hop when enrichment set its IXP or its address is in a known IXP peering
/// LAN (before the class check: IXP LANs are often not globally routed).</item>
/// <item>A multi-origin hop takes the origin that continues the path (the AS before it, else the one after
/// it), else its primary origin; the path is flagged.</item>
/// <item>A single responding hop of AS X between hops of AS A (A X A) is a third-party address — typically
/// a router of A answering from an interface numbered out of X's space — and is folded into A.</item>
/// <item>Consecutive hops of one AS collapse, across gaps too. Between two different ASes the edge is
/// direct when their hops are on adjacent TTLs, or separated by IXP hops only (A, IXP, B gives the edge
/// A→B tagged with the IXP, never an edge to an AS announcing the LAN; a known member's port is the member's
/// router, so A, port of B, silent, B is direct too). Otherwise only hops that could not be placed in an AS
/// lie between them: a gap marker is put in the path and the edge is indirect, with the number of those hops
/// (IXP hops aside), tagged with an IXP crossed in the gap. As CAIDA does for Ark, the indirect link is kept
/// rather than dropped; readers filter by kind.</item>
/// </list>
/// What a third-party address that is not sandwiched does cannot be seen from one trace: a border router
/// of B answering from A's link prefix (the usual numbering of a provider–customer link) only moves the
/// A/B boundary one hop into B — the edge A→B is still right and its RTT is taken one hop inside B; a
/// router of B answering from a third AS C's prefix on a path A→B→D produces the false edges A→C→B.
/// </summary>
public sealed class AsPathExtractor(IxpPrefixes ixps, IxpDirectory? directory = null)
{
    public AsPathExtractor()
        : this(IxpPrefixes.None)
    {
    }

    private enum HopKind
    {
        Gap,
        Ixp,
        Mapped,
    }

    private sealed class Probe
    {
        public int Ttl;
        public HopKind Kind;
        public long Asn;
        public long[]? Origins;
        public bool MultiOrigin;
        public string? Ixp;
        public double? RttMs;
        public string? Org;
        public string? Country;
    }

    private sealed class Run(long asn, Probe first, string? enteredViaIxp)
    {
        public long Asn { get; } = asn;
        public int FirstTtl { get; } = first.Ttl;
        public int LastTtl { get; set; } = first.Ttl;
        public int Hops { get; set; } = 1;
        public SortedSet<long>? Origins { get; set; }
        public string? EnteredViaIxp { get; } = enteredViaIxp;
        public double? FirstRttMs { get; set; } = first.RttMs;
        public string? Org { get; set; } = first.Org;
        public string? Country { get; set; } = first.Country;

        public void Add(Probe probe)
        {
            LastTtl = probe.Ttl;
            Hops++;
            FirstRttMs ??= probe.RttMs;
            Org ??= probe.Org;
            Country ??= probe.Country;
            AddOrigins(probe);
        }

        public void AddOrigins(Probe probe)
        {
            if (probe.MultiOrigin && probe.Origins is not null)
            {
                Origins ??= [];
                Origins.UnionWith(probe.Origins);
            }
        }

        public AsPathElement ToElement() =>
            new(AsPathElementKind.As, Asn, FirstTtl, LastTtl, Hops, Origins?.ToArray(), EnteredViaIxp, FirstRttMs, Org, Country);
    }

    public AsPathExtraction Extract(IEnumerable<PathHop> hops)
    {
        var flags = AsPathFlags.None;
        var probes = new List<Probe>();
        foreach (var group in hops.Where(h => h.Ttl > 0).GroupBy(h => h.Ttl).OrderBy(g => g.Key))
        {
            var replies = group.Where(h => h.Address is not null).OrderBy(h => h.ReplyIndex).ToList();
            if (replies.Count == 0)
            {
                probes.Add(new Probe { Ttl = group.Key, Kind = HopKind.Gap });
                continue;
            }
            var probe = Classify(replies[0]);
            if (probe.Kind == HopKind.Mapped && replies.Skip(1).Select(Classify).Any(other =>
                    other.Kind == HopKind.Mapped && !(probe.Origins ?? [probe.Asn]).Intersect(other.Origins ?? [other.Asn]).Any()))
            {
                flags |= AsPathFlags.LoadBalancedAcrossAses;
            }
            probes.Add(probe);
        }

        flags |= ResolveMultiOrigin(probes);
        var thirdParty = FoldThirdPartyAddresses(probes);
        if (thirdParty.Count > 0)
        {
            flags |= AsPathFlags.ThirdPartySuspected;
        }

        var elements = new List<AsPathElement>();
        var edges = new List<ExtractedAsEdge>();
        var seenEdges = new Dictionary<(long, long), int>();
        var seenAses = new HashSet<long>();
        Run? current = null;
        Probe? lastMapped = null;
        var gapSince = false;
        string? ixpName = null;
        var ixpLastTtl = 0;
        var ixpInGap = false;
        // IXP hops since the last mapped hop: not unplaceable (the LAN is known), so not counted in a gap.
        var ixpHops = 0;
        string? crossedIxp = null;
        foreach (var probe in probes)
        {
            switch (probe.Kind)
            {
                case HopKind.Gap:
                    if (current is not null)
                    {
                        gapSince = true;
                    }
                    break;
                case HopKind.Ixp:
                    flags |= AsPathFlags.Ixp;
                    ixpHops++;
                    crossedIxp ??= probe.Ixp;
                    if (current is null)
                    {
                        ixpInGap = true;
                    }
                    else if (ixpName is not null && ixpName == probe.Ixp && probe.Ttl == ixpLastTtl + 1 && !gapSince)
                    {
                        ixpLastTtl = probe.Ttl;
                    }
                    else if (ixpName is null && !gapSince && probe.Ttl == lastMapped!.Ttl + 1)
                    {
                        ixpName = probe.Ixp;
                        ixpLastTtl = probe.Ttl;
                    }
                    else
                    {
                        // After a gap, or a second IXP right after the first: no clean crossing to tag.
                        ixpName = null;
                        ixpInGap = true;
                        gapSince = true;
                    }
                    break;
                case HopKind.Mapped:
                    if (probe.Ixp is not null)
                    {
                        flags |= AsPathFlags.Ixp;
                    }
                    if (current is null)
                    {
                        current = new Run(probe.Asn, probe, null);
                        current.AddOrigins(probe);
                        seenAses.Add(probe.Asn);
                    }
                    else if (probe.Asn == current.Asn)
                    {
                        current.Add(probe);
                    }
                    else
                    {
                        var adjacent = !gapSince && probe.Ttl == (ixpName is null ? lastMapped!.Ttl : ixpLastTtl) + 1;
                        ixpName ??= probe.Ixp;
                        elements.Add(current.ToElement());
                        var gapHops = probe.Ttl - lastMapped!.Ttl - 1 - ixpHops;
                        if (!adjacent)
                        {
                            flags |= AsPathFlags.Gap;
                            if (ixpName is not null || ixpInGap)
                            {
                                flags |= AsPathFlags.IxpWithoutEdge;
                            }
                            elements.Add(new AsPathElement(AsPathElementKind.Gap, 0, lastMapped.Ttl + 1, probe.Ttl - 1, gapHops));
                        }
                        var edge = new ExtractedAsEdge(current.Asn, probe.Asn, adjacent ? ixpName : crossedIxp ?? probe.Ixp, probe.RttMs,
                            probe.RttMs - lastMapped.RttMs, lastMapped.Ttl, probe.Ttl, current.Origins is not null || probe.MultiOrigin,
                            adjacent ? AsLinkKind.Direct : AsLinkKind.Indirect, adjacent ? 0 : gapHops);
                        if (!seenEdges.TryGetValue((current.Asn, probe.Asn), out var seen))
                        {
                            seenEdges.Add((current.Asn, probe.Asn), edges.Count);
                            edges.Add(edge);
                        }
                        else if (adjacent && edges[seen].Kind == AsLinkKind.Indirect)
                        {
                            // Crossed twice in one trace, once with the gap answered: that crossing is the evidence.
                            edges[seen] = edge;
                        }
                        if (!seenAses.Add(probe.Asn))
                        {
                            flags |= AsPathFlags.AsLoop;
                        }
                        current = new Run(probe.Asn, probe, adjacent ? ixpName : null);
                        current.AddOrigins(probe);
                    }
                    lastMapped = probe;
                    gapSince = false;
                    ixpName = null;
                    ixpInGap = false;
                    ixpHops = 0;
                    crossedIxp = null;
                    break;
            }
        }
        if (current is not null)
        {
            elements.Add(current.ToElement());
        }
        if (ixpName is not null || ixpInGap)
        {
            flags |= AsPathFlags.IxpWithoutEdge;
        }
        return elements.Count == 0 && flags == AsPathFlags.None
            ? AsPathExtraction.Empty
            : new AsPathExtraction(elements, edges, flags, thirdParty);
    }

    private Probe Classify(PathHop hop)
    {
        var probe = new Probe { Ttl = hop.Ttl, RttMs = hop.RttMs, Org = hop.Org, Country = hop.Country };
        var synced = hop.Address is null ? null : directory?.Find(hop.Address);
        var ixp = hop.Ixp ?? ixps.Find(hop.Address) ?? synced?.Name;
        if (ixp is not null)
        {
            probe.Ixp = ixp;
            if ((ixps.MemberAsn(hop.Address) ?? synced?.MemberAsn) is { } member)
            {
                // A known member's port: the hop is that member's router, entered across the IXP.
                probe.Kind = HopKind.Mapped;
                probe.Asn = member;
                return probe;
            }
            probe.Kind = HopKind.Ixp;
            return probe;
        }
        if ((hop.AddressClass is not null && hop.AddressClass != "global") || hop.Asn is not { } asn)
        {
            probe.Kind = HopKind.Gap;
            return probe;
        }
        probe.Kind = HopKind.Mapped;
        probe.Asn = asn;
        if (hop.OriginAsns is { Count: > 1 } origins)
        {
            probe.Origins = origins.Distinct().ToArray();
            probe.MultiOrigin = probe.Origins.Length > 1;
            if (!probe.MultiOrigin)
            {
                probe.Asn = probe.Origins[0];
                probe.Origins = null;
            }
        }
        return probe;
    }

    /// <summary>Gives each multi-origin hop the origin that continues the path.</summary>
    private static AsPathFlags ResolveMultiOrigin(List<Probe> probes)
    {
        var flags = AsPathFlags.None;
        long? previous = null;
        for (var i = 0; i < probes.Count; i++)
        {
            var probe = probes[i];
            if (probe.Kind != HopKind.Mapped)
            {
                continue;
            }
            if (probe.MultiOrigin)
            {
                flags |= AsPathFlags.MultiOrigin;
                var origins = probe.Origins!;
                if (previous is { } before && origins.Contains(before))
                {
                    probe.Asn = before;
                }
                else if (probes.Skip(i + 1).FirstOrDefault(p => p.Kind == HopKind.Mapped) is { } next)
                {
                    var after = next.Origins ?? [next.Asn];
                    var common = origins.Where(after.Contains).ToArray();
                    if (common.Length > 0)
                    {
                        probe.Asn = common.Contains(probe.Asn) ? probe.Asn : common[0];
                    }
                }
            }
            previous = probe.Asn;
        }
        return flags;
    }

    /// <summary>Folds A X A (one responding hop of X between hops of A) into A; returns the TTLs folded.</summary>
    private static List<int> FoldThirdPartyAddresses(List<Probe> probes)
    {
        var folded = new List<int>();
        var responding = probes.Where(p => p.Kind != HopKind.Gap).ToList();
        for (var i = 1; i + 1 < responding.Count; i++)
        {
            var (before, probe, after) = (responding[i - 1], responding[i], responding[i + 1]);
            if (probe.Kind == HopKind.Mapped && before.Kind == HopKind.Mapped && after.Kind == HopKind.Mapped
                && before.Asn == after.Asn && probe.Asn != before.Asn)
            {
                probe.Asn = before.Asn;
                probe.MultiOrigin = false;
                probe.Origins = null;
                folded.Add(probe.Ttl);
            }
        }
        return folded;
    }
}
