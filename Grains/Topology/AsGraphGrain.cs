using Orleans.Concurrency;

namespace CyberWatch.Topology;

/// <summary>Answers graph queries from the local silo's <see cref="AsGraphIndex"/>; one activation per silo core, no state.</summary>
[StatelessWorker]
public sealed class AsGraphGrain(AsGraphIndex index) : Grain, IAsGraphGrain
{
    public const int MaxDepth = 3;
    public const int MaxLimit = 5000;

    public Task<AsNeighborsAnswer> Neighbors(long asn, string? vantage = null, bool directOnly = false) =>
        Task.FromResult(index.Neighbors(asn, vantage, directOnly));

    public Task<AsPathAnswer> Path(long srcAsn, long dstAsn, bool directed, string? vantage = null, bool directOnly = false) =>
        Task.FromResult(index.Path(srcAsn, dstAsn, directed, vantage, directOnly));

    public Task<AsTopologyAnswer> Topology(long asn, int depth, int limit, string? vantage = null, bool directOnly = false)
    {
        if (depth is < 1 or > MaxDepth || limit is < 1 or > MaxLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(depth), $"depth must be 1..{MaxDepth} and limit 1..{MaxLimit}");
        }
        return Task.FromResult(index.Topology(asn, depth, limit, vantage, directOnly));
    }

    public Task<AsEdgeAnswer> Edge(long a, long b) => Task.FromResult(index.Edge(a, b));

    public Task<AsGraphFreshness> Freshness() => Task.FromResult(index.Freshness());
}
