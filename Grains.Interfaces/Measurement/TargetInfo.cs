namespace CyberWatch.Measurement;

/// <summary>What a target grain knows of its target.</summary>
[GenerateSerializer, Immutable]
public sealed record TargetInfo(
    [property: Id(0)] string Address,
    [property: Id(1)] IReadOnlyList<TargetSource> Sources,
    [property: Id(2)] DateTimeOffset? FirstSeen,
    [property: Id(3)] DateTimeOffset? LastSeen,
    [property: Id(4)] DateTimeOffset? LastMeasuredAt,
    [property: Id(5)] long? LastMeasurementId,
    [property: Id(6)] DateTimeOffset? NextDueAt,
    [property: Id(7)] bool Active,
    [property: Id(8)] IReadOnlyList<string?> LastIpPath,
    [property: Id(9)] double? RttBaselineMs,
    [property: Id(10)] IReadOnlyList<long> LastAsPath);

/// <summary>Outcome of offering an address as a target.</summary>
[GenerateSerializer, Immutable]
public sealed record TargetAcceptance(
    [property: Id(0)] bool Created,
    [property: Id(1)] TargetInfo Target);

/// <summary>Whether a probe of the target may run now, or when it may.</summary>
[GenerateSerializer, Immutable]
public sealed record ProbePermission(
    [property: Id(0)] bool Allowed,
    [property: Id(1)] TimeSpan RetryAfter,
    [property: Id(2)] long? LastMeasurementId);
