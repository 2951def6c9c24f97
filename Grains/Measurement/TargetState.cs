using CyberWatch.Vantages;

namespace CyberWatch.Measurement;

/// <summary>Persistent state of a <see cref="TargetGrain"/>.</summary>
[GenerateSerializer]
public sealed class TargetState
{
    [Id(0)] public HashSet<TargetSource> Sources { get; set; } = [];
    [Id(1)] public DateTimeOffset? FirstSeen { get; set; }
    [Id(2)] public DateTimeOffset? LastSeen { get; set; }
    [Id(6)] public bool Active { get; set; }

    /// <summary>Which vantage points measure the target (null, as in states written before vantage points: all).</summary>
    [Id(14)] public VantageSelection? Vantages { get; set; }

    /// <summary>The path history of each vantage point that measured the target, by vantage name.</summary>
    [Id(15)] public Dictionary<string, VantageHistory> History { get; set; } = new(StringComparer.Ordinal);

    // One history per target, as states written before vantage points have it; moved into History on activation.
    [Id(3)] public DateTimeOffset? LastMeasuredAt { get; set; }
    [Id(4)] public long? LastMeasurementId { get; set; }
    [Id(7)] public List<string?> LastIpPath { get; set; } = [];
    [Id(8)] public List<double> RecentRttsMs { get; set; } = [];
    [Id(10)] public DateTimeOffset? LastProbeRequestedAt { get; set; }
    [Id(11)] public List<long> LastAsPath { get; set; } = [];
    [Id(12)] public List<HashSet<string>> SeenPerTtl { get; set; } = [];
    [Id(13)] public long? LastSuccessfulMeasurementId { get; set; }
}

/// <summary>A target's path history as seen from one vantage point: what its path changes are judged against.</summary>
[GenerateSerializer]
public sealed class VantageHistory
{
    [Id(0)] public DateTimeOffset? LastMeasuredAt { get; set; }
    [Id(1)] public long? LastMeasurementId { get; set; }
    [Id(2)] public long? LastSuccessfulMeasurementId { get; set; }
    [Id(3)] public List<string?> LastIpPath { get; set; } = [];
    [Id(4)] public List<long> LastAsPath { get; set; } = [];

    /// <summary>Addresses seen at each TTL recently (index = TTL - 1), so ECMP alternates are not taken for path changes.</summary>
    [Id(5)] public List<HashSet<string>> SeenPerTtl { get; set; } = [];

    /// <summary>Recent destination RTTs, oldest first, for a robust (median) latency baseline.</summary>
    [Id(6)] public List<double> RecentRttsMs { get; set; } = [];

    [Id(7)] public DateTimeOffset? LastProbeRequestedAt { get; set; }
}
