namespace CyberWatch.Topology.Relationships;

/// <summary>The AS_PATHs of the BGP data the node has loaded (implemented by the prefix table's loader).</summary>
public interface IBgpPathSource
{
    /// <summary>Distinct AS_PATHs, the collector's peer first; empty when no MRT dump is loaded.</summary>
    IReadOnlyList<uint[]> BgpPaths();

    /// <summary>When the paths last changed (a reload); null before the first load.</summary>
    DateTimeOffset? BgpPathsLoadedAt { get; }
}
