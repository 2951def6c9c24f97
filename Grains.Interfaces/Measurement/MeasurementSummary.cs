namespace CyberWatch.Measurement;

/// <summary>The gist of a stored measurement, as the target grain keeps it; <see cref="Vantage"/> is where it was taken from.</summary>
[GenerateSerializer, Immutable]
public sealed record MeasurementSummary(
    [property: Id(0)] long MeasurementId,
    [property: Id(1)] string Target,
    [property: Id(2)] string Method,
    [property: Id(3)] bool Success,
    [property: Id(4)] DateTimeOffset StartedAt,
    [property: Id(5)] int HopCount,
    [property: Id(6)] double? DestinationRttMs,
    [property: Id(7)] string? StopReason,
    [property: Id(8)] string? FailureReason,
    [property: Id(9)] IReadOnlyList<string?> IpPath,
    [property: Id(10)] IReadOnlyList<long> AsPath,
    [property: Id(11)] string Vantage);
