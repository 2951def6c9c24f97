using CyberWatch.Vantages;

namespace CyberWatch.Measurement;

/// <summary>
/// What a target grain knows of its target. The top-level last-measurement, path and baseline fields are
/// those of the vantage that measured it most recently; <see cref="PerVantage"/> has each vantage's own.
/// </summary>
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
    [property: Id(10)] IReadOnlyList<long> LastAsPath,
    [property: Id(11)] VantageSelection Vantages,
    [property: Id(12)] IReadOnlyList<TargetVantageInfo> PerVantage);

/// <summary>A target as seen from one vantage point: its schedule and its own path history.</summary>
[GenerateSerializer, Immutable]
public sealed record TargetVantageInfo(
    [property: Id(0)] string Vantage,
    [property: Id(1)] bool Scheduled,
    [property: Id(2)] DateTimeOffset? NextDueAt,
    [property: Id(3)] DateTimeOffset? LastMeasuredAt,
    [property: Id(4)] long? LastMeasurementId,
    [property: Id(5)] IReadOnlyList<string?> LastIpPath,
    [property: Id(6)] IReadOnlyList<long> LastAsPath,
    [property: Id(7)] double? RttBaselineMs);

/// <summary>Outcome of offering an address as a target; <see cref="Refused"/> says why a grain would not take it.</summary>
[GenerateSerializer, Immutable]
public sealed record TargetAcceptance(
    [property: Id(0)] bool Created,
    [property: Id(1)] TargetInfo Target,
    [property: Id(2)] string? Refused = null);

/// <summary>Whether a probe of the target may run now, or when it may.</summary>
[GenerateSerializer, Immutable]
public sealed record ProbePermission(
    [property: Id(0)] bool Allowed,
    [property: Id(1)] TimeSpan RetryAfter,
    [property: Id(2)] long? LastMeasurementId);
