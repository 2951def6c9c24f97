namespace CyberWatch.Measurement;

/// <summary>A stored measurement as the API shows it.</summary>
[GenerateSerializer, Immutable]
public sealed record MeasurementRecord
{
    /// <summary>Measurement id.</summary>
    [Id(0)] public long Id { get; init; }
    /// <summary>The probed address.</summary>
    [Id(1)] public string Target { get; init; } = "";
    /// <summary>scamper, mtr or traceroute.</summary>
    [Id(2)] public string Tool { get; init; } = "";
    /// <summary>Probe method (icmp_paris, udp_paris, tcp...).</summary>
    [Id(3)] public string Method { get; init; } = "";
    /// <summary>The vantage point that probed.</summary>
    [Id(4)] public string Vantage { get; init; } = "";
    /// <summary>When the probe started.</summary>
    [Id(5)] public DateTimeOffset StartedAt { get; init; }
    /// <summary>When the probe finished.</summary>
    [Id(6)] public DateTimeOffset? CompletedAt { get; init; }
    /// <summary>Whether the probe produced a result.</summary>
    [Id(7)] public bool Success { get; init; }
    /// <summary>Why the trace stopped (completed, gap_limit, unreach...).</summary>
    [Id(8)] public string? StopReason { get; init; }
    /// <summary>What went wrong when it did not succeed.</summary>
    [Id(9)] public string? FailureReason { get; init; }
    /// <summary>TTLs the trace covered.</summary>
    [Id(10)] public int? HopCount { get; init; }
    /// <summary>TTLs that answered.</summary>
    [Id(11)] public int? RespondingHops { get; init; }
    /// <summary>Lowest hop RTT.</summary>
    [Id(12)] public double? MinRttMs { get; init; }
    /// <summary>Mean hop RTT.</summary>
    [Id(13)] public double? AvgRttMs { get; init; }
    /// <summary>Highest hop RTT.</summary>
    [Id(14)] public double? MaxRttMs { get; init; }
    /// <summary>RTT of the destination's reply.</summary>
    [Id(15)] public double? DestRttMs { get; init; }
    /// <summary>Share of probes unanswered (mtr, ping).</summary>
    [Id(16)] public float? LossPct { get; init; }
    /// <summary>pending, done, partial, failed or skipped.</summary>
    [Id(17)] public string EnrichmentState { get; init; } = "";
    /// <summary>
    /// The AS path as the graph recorded it, <c>1100 1200 * 1500</c> (<c>*</c>: the two ASes around it were seen
    /// only across silent, private or unmapped hops — an indirect step); null when none was computed.
    /// </summary>
    [Id(18)] public string? AsPath { get; init; }
}

/// <summary>One reply of a stored measurement; a silent TTL has no address.</summary>
[GenerateSerializer, Immutable]
public sealed record HopRecord
{
    /// <summary>Probe TTL.</summary>
    [Id(0)] public int Ttl { get; init; }
    /// <summary>Which reply at this TTL (several under load balancing).</summary>
    [Id(1)] public int ReplyIndex { get; init; }
    /// <summary>The replying router; null for a silent hop.</summary>
    [Id(2)] public string? Address { get; init; }
    /// <summary>Round-trip time.</summary>
    [Id(3)] public double? RttMs { get; init; }
    /// <summary>Best RTT (mtr).</summary>
    [Id(4)] public double? RttBestMs { get; init; }
    /// <summary>Worst RTT (mtr).</summary>
    [Id(5)] public double? RttWorstMs { get; init; }
    /// <summary>RTT standard deviation (mtr).</summary>
    [Id(6)] public double? RttStdevMs { get; init; }
    /// <summary>Loss at this hop (mtr).</summary>
    [Id(7)] public float? LossPct { get; init; }
    /// <summary>TTL of the reply as received.</summary>
    [Id(8)] public int? ReplyTtl { get; init; }
    /// <summary>ICMP type of the reply.</summary>
    [Id(9)] public int? IcmpType { get; init; }
    /// <summary>ICMP code of the reply.</summary>
    [Id(10)] public int? IcmpCode { get; init; }
    /// <summary>RFC 4950 label stack as JSON.</summary>
    [Id(11)] public string? MplsLabels { get; init; }
    /// <summary>global, private, shared, loopback...</summary>
    [Id(12)] public string? AddressClass { get; init; }
    /// <summary>Origin ASN of the covering prefix.</summary>
    [Id(13)] public long? Asn { get; init; }
    /// <summary>All origins of a multi-origin prefix.</summary>
    [Id(14)] public long[]? OriginAsns { get; init; }
    /// <summary>Covering prefix.</summary>
    [Id(15)] public string? Prefix { get; init; }
    /// <summary>IXP whose peering LAN holds the address.</summary>
    [Id(16)] public string? Ixp { get; init; }
    /// <summary>Organisation of the origin AS.</summary>
    [Id(17)] public string? Org { get; init; }
    /// <summary>Country: the geolocation database's when it places the address, else the origin AS's.</summary>
    [Id(18)] public string? Country { get; init; }
    /// <summary>Reverse DNS name of the address (PTR), once looked up; null when it has none or was not asked yet.</summary>
    [Id(19)] public string? Hostname { get; init; }
    /// <summary>City from the geolocation database (CYBERWATCH_GEOIP_DB).</summary>
    [Id(20)] public string? City { get; init; }
    /// <summary>Latitude from the geolocation database, degrees.</summary>
    [Id(21)] public double? Latitude { get; init; }
    /// <summary>Longitude from the geolocation database, degrees.</summary>
    [Id(22)] public double? Longitude { get; init; }
    /// <summary>The database's accuracy radius around the coordinates, km.</summary>
    [Id(23)] public int? GeoAccuracyKm { get; init; }
    /// <summary>The location is farther from the vantage point than light in fibre goes in half the hop's RTT; null when it cannot be judged.</summary>
    [Id(24)] public bool? GeoImplausible { get; init; }
}

/// <summary>The latest stored measurement of a target with its hops in TTL order.</summary>
[GenerateSerializer, Immutable]
public sealed record LatestMeasurement(
    [property: Id(0)] MeasurementRecord Measurement,
    [property: Id(1)] HopRecord[] Hops);
