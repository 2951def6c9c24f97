namespace CyberWatch.Topology.Relationships;

/// <summary>The business relationship of an AS edge, read from the edge's first AS.</summary>
public enum AsRelationshipKind
{
    /// <summary>No path shows how the two ASes relate (only indirect trace links, or only discarded paths).</summary>
    Unknown,

    /// <summary>The first AS is the provider of the second (sells it transit).</summary>
    P2C,

    /// <summary>The first AS is a customer of the second.</summary>
    C2P,

    /// <summary>Settlement-free peers: each passes the other only its own and its customers' routes.</summary>
    P2P,
}

/// <summary>Which observed paths an inference rests on.</summary>
[Flags]
public enum AsRelationshipSource
{
    None = 0,

    /// <summary>AS paths of the node's traceroutes (<c>as_paths</c>).</summary>
    Traces = 1,

    /// <summary>AS_PATHs of a loaded MRT RIB dump.</summary>
    Bgp = 2,

    Both = Traces | Bgp,
}

/// <summary>What decided an inference, from strongest to weakest; the confidence follows from it.</summary>
public enum AsRelationshipBasis
{
    /// <summary>Nothing usable.</summary>
    None,

    /// <summary>Both ASes are in the inferred clique of transit-free ASes: peers.</summary>
    Clique,

    /// <summary>Paths show one AS carrying the other's routes away from the top of the path (valley-free: only a provider does that).</summary>
    Transit,

    /// <summary>Only seen next to the top of paths, crossing an IXP peering LAN in a trace: peers.</summary>
    Ixp,

    /// <summary>Only seen next to the top of paths; one AS never transits anything (a stub), so it is the other's customer.</summary>
    Stub,

    /// <summary>Only seen next to the top of paths, between two ASes that never transit anything: peers.</summary>
    Stubs,

    /// <summary>Only seen next to the top of paths, between two transit ASes neither of which is seen carrying the other's routes further: peers.</summary>
    TopOnly,

    /// <summary>Paths disagree on who is the provider as often one way as the other.</summary>
    Conflict,
}

/// <summary>One inferred relationship of an unordered AS pair, stored with <see cref="A"/> &lt; <see cref="B"/>.</summary>
/// <param name="Kind">Read from <see cref="A"/>: <see cref="AsRelationshipKind.P2C"/> means A is B's provider.</param>
/// <param name="Confidence">0..1 from the basis and, for transit evidence, from how many paths agree; a ranking, not a calibrated probability.</param>
/// <param name="Paths">Distinct paths that contained the adjacency.</param>
public sealed record AsRelationship(
    long A,
    long B,
    AsRelationshipKind Kind,
    AsRelationshipSource Source,
    double Confidence,
    AsRelationshipBasis Basis,
    int Paths)
{
    /// <summary>The relationship read from <paramref name="from"/>'s side (which must be A or B).</summary>
    public AsRelationshipKind From(long from) => from == A ? Kind : Mirror(Kind);

    /// <summary>The same relationship read from the other AS.</summary>
    public static AsRelationshipKind Mirror(AsRelationshipKind kind) => kind switch
    {
        AsRelationshipKind.P2C => AsRelationshipKind.C2P,
        AsRelationshipKind.C2P => AsRelationshipKind.P2C,
        var same => same,
    };

    public static string WireName(AsRelationshipKind kind) => kind switch
    {
        AsRelationshipKind.P2C => "p2c",
        AsRelationshipKind.C2P => "c2p",
        AsRelationshipKind.P2P => "p2p",
        _ => "unknown",
    };

    public static string WireName(AsRelationshipSource source) => source switch
    {
        AsRelationshipSource.Both => "both",
        AsRelationshipSource.Bgp => "bgp",
        AsRelationshipSource.Traces => "traces",
        _ => "none",
    };

    public static AsRelationshipKind ParseKind(string? wire) => wire switch
    {
        "p2c" => AsRelationshipKind.P2C,
        "c2p" => AsRelationshipKind.C2P,
        "p2p" => AsRelationshipKind.P2P,
        _ => AsRelationshipKind.Unknown,
    };

    public static AsRelationshipSource ParseSource(string? wire) => wire switch
    {
        "both" => AsRelationshipSource.Both,
        "bgp" => AsRelationshipSource.Bgp,
        "traces" => AsRelationshipSource.Traces,
        _ => AsRelationshipSource.None,
    };
}
