namespace CyberWatch.Topology;

/// <summary>How current the answering silo's graph index is.</summary>
[GenerateSerializer, Immutable]
public sealed record AsGraphFreshness(
    [property: Id(0)] bool Loaded,
    [property: Id(1)] int Nodes,
    [property: Id(2)] int Edges,
    [property: Id(3)] DateTimeOffset? RefreshedAt);

/// <summary>A neighbor of an AS with the edge(s) observed between them (out: AS → neighbor, in: neighbor → AS).</summary>
[GenerateSerializer, Immutable]
public sealed record AsNeighbor(
    [property: Id(0)] long Asn,
    [property: Id(1)] AsEdgeStats? Out,
    [property: Id(2)] AsEdgeStats? In);

/// <summary>Neighbors of an AS; <see cref="Known"/> false when the AS is in no observed edge.</summary>
[GenerateSerializer, Immutable]
public sealed record AsNeighborsAnswer(
    [property: Id(0)] long Asn,
    [property: Id(1)] bool Known,
    [property: Id(2)] IReadOnlyList<AsNeighbor> Neighbors,
    [property: Id(3)] AsGraphFreshness Freshness);

/// <summary>One step of a shortest path; <see cref="Forward"/> false when only To → From was observed.</summary>
[GenerateSerializer, Immutable]
public sealed record AsPathLink(
    [property: Id(0)] long From,
    [property: Id(1)] long To,
    [property: Id(2)] bool Forward,
    [property: Id(3)] AsEdgeStats Edge);

/// <summary>
/// An AS path seen in traceroutes (direction from the vantage point), or the stretch of one between two
/// ASes. A null element is a gap: hops that were silent, private or unmapped between two different ASes,
/// whose step is an indirect link.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ObservedAsPath(
    [property: Id(0)] IReadOnlyList<long?> Path,
    [property: Id(1)] bool Reversed,
    [property: Id(2)] long ObservedCount,
    [property: Id(3)] DateTimeOffset FirstSeen,
    [property: Id(4)] DateTimeOffset LastSeen,
    [property: Id(5)] IReadOnlyList<string> Vantages);

/// <summary>
/// Shortest AS path between two ASes over observed edges (fewest AS hops; null when none), and the
/// observed AS paths that went through both.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record AsPathAnswer(
    [property: Id(0)] long SrcAsn,
    [property: Id(1)] long DstAsn,
    [property: Id(2)] bool Directed,
    [property: Id(3)] bool SrcKnown,
    [property: Id(4)] bool DstKnown,
    [property: Id(5)] IReadOnlyList<long>? Path,
    [property: Id(6)] IReadOnlyList<AsPathLink> Links,
    [property: Id(7)] IReadOnlyList<ObservedAsPath> Observed,
    [property: Id(8)] AsGraphFreshness Freshness);

/// <summary>A node of a topology answer: its distance from the centre and its degree in the whole graph.</summary>
[GenerateSerializer, Immutable]
public sealed record AsTopologyNode(
    [property: Id(0)] long Asn,
    [property: Id(1)] int Distance,
    [property: Id(2)] int Degree);

/// <summary>The ASes within a few AS hops of one AS and the edges among them, for drawing.</summary>
[GenerateSerializer, Immutable]
public sealed record AsTopologyAnswer(
    [property: Id(0)] long Asn,
    [property: Id(1)] int Depth,
    [property: Id(2)] int Limit,
    [property: Id(3)] bool Known,
    [property: Id(4)] IReadOnlyList<AsTopologyNode> Nodes,
    [property: Id(5)] IReadOnlyList<AsEdgeStats> Edges,
    [property: Id(6)] bool Truncated,
    [property: Id(7)] AsGraphFreshness Freshness);

/// <summary>
/// The edge(s) between two ASes: <see cref="Forward"/> A → B and <see cref="Backward"/> B → A as observed (either may
/// be null), and their inferred relationship read from A (<c>p2c</c>: A is B's provider).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record AsEdgeAnswer(
    [property: Id(0)] long A,
    [property: Id(1)] long B,
    [property: Id(2)] bool Known,
    [property: Id(3)] AsEdgeStats? Forward,
    [property: Id(4)] AsEdgeStats? Backward,
    [property: Id(5)] AsEdgeRelationship Relationship,
    [property: Id(6)] AsGraphFreshness Freshness);

/// <summary>
/// Graph queries answered from the silo-local in-memory AS graph index (stateless: served by the
/// caller's silo, never by walking grains or asking the database).
/// </summary>
public interface IAsGraphGrain : IGrainWithIntegerKey
{
    /// <summary>Neighbors of an AS with the statistics of the edges to and from each (only edges seen from <paramref name="vantage"/> when given; only direct ones when <paramref name="directOnly"/>).</summary>
    Task<AsNeighborsAnswer> Neighbors(long asn, string? vantage = null, bool directOnly = false);

    /// <summary>Shortest AS path (BFS, fewest AS hops); directed follows edges in path order only; over the edges seen from <paramref name="vantage"/> when given, the direct ones when <paramref name="directOnly"/>.</summary>
    Task<AsPathAnswer> Path(long srcAsn, long dstAsn, bool directed, string? vantage = null, bool directOnly = false);

    /// <summary>ASes within <paramref name="depth"/> (1..3) AS hops, at most <paramref name="limit"/> of them, and the edges among them (seen from <paramref name="vantage"/> when given; direct ones only when <paramref name="directOnly"/>).</summary>
    Task<AsTopologyAnswer> Topology(long asn, int depth, int limit, string? vantage = null, bool directOnly = false);

    /// <summary>The edges between two ASes in both directions and their inferred relationship read from <paramref name="a"/>.</summary>
    Task<AsEdgeAnswer> Edge(long a, long b);

    /// <summary>Size and age of the answering silo's index.</summary>
    Task<AsGraphFreshness> Freshness();
}
