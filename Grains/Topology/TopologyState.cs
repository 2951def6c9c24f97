namespace CyberWatch.Topology;

/// <summary>Persistent state of an <see cref="AsEdgeGrain"/>.</summary>
[GenerateSerializer]
public sealed class AsEdgeState
{
    [Id(0)] public long ObservedCount { get; set; }
    [Id(1)] public double? MinRttMs { get; set; }
    [Id(2)] public double? MaxRttMs { get; set; }
    [Id(3)] public double RttSumMs { get; set; }
    [Id(4)] public long RttCount { get; set; }
    [Id(5)] public DateTimeOffset? FirstSeen { get; set; }
    [Id(6)] public DateTimeOffset? LastSeen { get; set; }
    [Id(7)] public string? Ixp { get; set; }
    [Id(8)] public SortedSet<string> Vantages { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Measurements counted lately, so a repeated report of one is not counted twice.</summary>
    [Id(9)] public List<long> RecentMeasurements { get; set; } = [];

    /// <summary>Crossings seen directly and across unplaceable hops; state written before they were kept has neither (all its crossings were direct).</summary>
    [Id(10)] public long DirectCount { get; set; }
    [Id(11)] public long IndirectCount { get; set; }
    [Id(12)] public int? MinGapHops { get; set; }
}

/// <summary>Persistent state of an <see cref="AsnGrain"/>.</summary>
[GenerateSerializer]
public sealed class AsnState
{
    [Id(0)] public long MeasurementCount { get; set; }
    [Id(1)] public double RttSumMs { get; set; }
    [Id(2)] public long RttCount { get; set; }
    [Id(3)] public DateTimeOffset? FirstSeen { get; set; }
    [Id(4)] public DateTimeOffset? LastSeen { get; set; }
    [Id(5)] public SortedSet<long> InNeighbors { get; set; } = [];
    [Id(6)] public SortedSet<long> OutNeighbors { get; set; } = [];
    [Id(7)] public string? OrgName { get; set; }
    [Id(8)] public string? Country { get; set; }
    [Id(9)] public List<long> RecentMeasurements { get; set; } = [];

    /// <summary>Registry and PeeringDB facts from the online sources (null until first enriched).</summary>
    [Id(10)] public CyberWatch.Enrichment.AsnMetadata? Metadata { get; set; }
}

internal static class RecentMeasurements
{
    public const int Keep = 64;

    /// <summary>Adds the id; false when it was already there.</summary>
    public static bool Add(List<long> recent, long measurementId)
    {
        if (recent.Contains(measurementId))
        {
            return false;
        }
        recent.Add(measurementId);
        if (recent.Count > Keep)
        {
            recent.RemoveAt(0);
        }
        return true;
    }
}
