namespace CyberWatch.Measurement;

/// <summary>Persistent state of a <see cref="TargetGrain"/>.</summary>
[GenerateSerializer]
public sealed class TargetState
{
    [Id(0)] public HashSet<TargetSource> Sources { get; set; } = [];
    [Id(1)] public DateTimeOffset? FirstSeen { get; set; }
    [Id(2)] public DateTimeOffset? LastSeen { get; set; }
    [Id(3)] public DateTimeOffset? LastMeasuredAt { get; set; }
    [Id(4)] public long? LastMeasurementId { get; set; }
    [Id(5)] public DateTimeOffset? NextDueAt { get; set; }
    [Id(6)] public bool Active { get; set; }
    [Id(7)] public List<string?> LastIpPath { get; set; } = [];

    /// <summary>Recent destination RTTs, oldest first, for a robust (median) latency baseline.</summary>
    [Id(8)] public List<double> RecentRttsMs { get; set; } = [];

    /// <summary>When a scheduled probe was handed to a worker and not yet reported back.</summary>
    [Id(9)] public DateTimeOffset? ProbePendingSince { get; set; }

    [Id(10)] public DateTimeOffset? LastProbeRequestedAt { get; set; }

    [Id(11)] public List<long> LastAsPath { get; set; } = [];

    /// <summary>Addresses seen at each TTL recently (index = TTL - 1), so ECMP alternates are not taken for path changes.</summary>
    [Id(12)] public List<HashSet<string>> SeenPerTtl { get; set; } = [];

    [Id(13)] public long? LastSuccessfulMeasurementId { get; set; }
}
