using System.Net;

namespace CyberWatch.Storage;

/// <summary>A measurement as stored: one row of <c>measurements</c> and its rows of <c>hops</c>.</summary>
public sealed record MeasurementRow
{
    public required IPAddress Target { get; init; }
    public required string Tool { get; init; }
    public required string Method { get; init; }
    public required string Vantage { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public bool Success { get; init; }
    public string? StopReason { get; init; }
    public string? FailureReason { get; init; }
    public short? HopCount { get; init; }
    public short? RespondingHops { get; init; }
    public double? MinRttMs { get; init; }
    public double? AvgRttMs { get; init; }
    public double? MaxRttMs { get; init; }
    public double? DestRttMs { get; init; }
    public float? LossPct { get; init; }
    public string RawFormat { get; init; } = "json";
    public string? RawResult { get; init; }
    public string EnrichmentState { get; init; } = "pending";
    /// <summary>The AS path the extractor gave for the hops (<c>1100 1200 * 1500</c>), null when none was computed.</summary>
    public string? AsPath { get; init; }
    public IReadOnlyList<HopRow> Hops { get; init; } = [];

    /// <summary>
    /// The id a remote agent gave this measurement (null for a silo's own): stored once in <c>agent_deliveries</c>
    /// in the measurement's transaction, so a result the agent delivers twice is stored once.
    /// </summary>
    public Guid? DeliveryId { get; init; }
}

/// <summary>One reply (or one silent TTL, with no address) of a measurement.</summary>
public sealed record HopRow
{
    public required short Ttl { get; init; }
    public short ReplyIndex { get; init; }
    public IPAddress? Address { get; init; }
    public double? RttMs { get; init; }
    public double? RttBestMs { get; init; }
    public double? RttWorstMs { get; init; }
    public double? RttStdevMs { get; init; }
    public float? LossPct { get; init; }
    public short? ReplyTtl { get; init; }
    public short? IcmpType { get; init; }
    public short? IcmpCode { get; init; }

    /// <summary>MPLS label stack as JSON (<c>[{"label":..,"exp":..,"s":..,"ttl":..}]</c>), or null.</summary>
    public string? MplsLabelsJson { get; init; }

    public string? AddressClass { get; init; }
    public long? Asn { get; init; }
    public long[]? OriginAsns { get; init; }
    public (IPAddress Network, int Length)? Prefix { get; init; }
    public string? Ixp { get; init; }
    public string? Org { get; init; }
    public string? Country { get; init; }
    public string? EnrichmentError { get; init; }
}
