namespace CyberWatch.Topology;

/// <summary>One measurement whose AS path went through an AS.</summary>
[GenerateSerializer, Immutable]
public sealed record AsnObservation(
    [property: Id(0)] long MeasurementId,
    [property: Id(1)] string Vantage,
    [property: Id(2)] DateTimeOffset ObservedAt,
    [property: Id(3)] double? FirstHopRttMs,
    [property: Id(4)] IReadOnlyList<long> InNeighbors,
    [property: Id(5)] IReadOnlyList<long> OutNeighbors,
    [property: Id(6)] string? OrgName,
    [property: Id(7)] string? Country);

/// <summary>
/// What the node knows of one AS from its own measurements. <see cref="AvgRttMs"/> is the mean RTT of the
/// first hop seen inside the AS; neighbors are ASes seen directly before (in) or after (out) it on a path.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record AsnInfo(
    [property: Id(0)] long Asn,
    [property: Id(1)] string? OrgName,
    [property: Id(2)] string? Country,
    [property: Id(3)] long MeasurementCount,
    [property: Id(4)] double? AvgRttMs,
    [property: Id(5)] DateTimeOffset? FirstSeen,
    [property: Id(6)] DateTimeOffset? LastSeen,
    [property: Id(7)] IReadOnlyList<long> InNeighbors,
    [property: Id(8)] IReadOnlyList<long> OutNeighbors)
{
    /// <summary>Whether any measurement went through the AS.</summary>
    public bool Seen => FirstSeen is not null;
}

/// <summary>Outcome of <see cref="IAsnGrain.ObserveAll"/>: for each observation, whether it was counted now; the AS after them.</summary>
[GenerateSerializer, Immutable]
public sealed record AsnObservationsResult(
    [property: Id(0)] bool[] Counted,
    [property: Id(1)] AsnInfo Asn);

/// <summary>Outcome of <see cref="IAsnGrain.Observe"/>: whether the measurement was counted now (false: counted before).</summary>
[GenerateSerializer, Immutable]
public sealed record AsnObservationResult(
    [property: Id(0)] bool Counted,
    [property: Id(1)] AsnInfo Asn);

/// <summary>One autonomous system (key: the ASN); keeps its neighbor sets and measurement statistics.</summary>
public interface IAsnGrain : IGrainWithIntegerKey
{
    /// <summary>Counts one measurement through the AS; a measurement already counted is ignored.</summary>
    Task<AsnObservationResult> Observe(AsnObservation observation);

    /// <summary>Counts several measurements with one state write; for each, whether it was counted now (false: counted before).</summary>
    Task<AsnObservationsResult> ObserveAll(IReadOnlyList<AsnObservation> observations);

    /// <summary>What is known of the AS (<see cref="AsnInfo.Seen"/> false when nothing).</summary>
    Task<AsnInfo> GetInfo();

    /// <summary>
    /// Registry and PeeringDB metadata of the AS (null until first enriched). Asks the online sources for a
    /// refresh in the background when they are configured and the metadata is older than its TTL.
    /// </summary>
    Task<CyberWatch.Enrichment.AsnMetadata?> GetMetadata();

    /// <summary>Stores metadata fetched from the online sources.</summary>
    Task ApplyMetadata(CyberWatch.Enrichment.AsnMetadata metadata);
}
