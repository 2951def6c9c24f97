namespace CyberWatch.Enrichment;

/// <summary>
/// What registries and operators say about one AS, gathered from the configured online sources (Team Cymru,
/// PeeringDB, RIPEstat) and the prefix table. <see cref="Sources"/> names the source of each field that is set
/// (<c>org_name</c> → <c>ripestat</c>); <see cref="Errors"/> holds, per source, why it gave nothing this time.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record AsnMetadata(
    [property: Id(0)] long Asn,
    [property: Id(1)] string? OrgName,
    [property: Id(2)] string? Country,
    [property: Id(3)] string? Registry,
    [property: Id(4)] int? PeeringDbId,
    [property: Id(5)] string? PeeringDbName,
    [property: Id(6)] int? FacilityCount,
    [property: Id(7)] string? PeeringPolicy,
    [property: Id(8)] string? TrafficLevel,
    [property: Id(9)] string? TrafficRatio,
    [property: Id(10)] string? IrrAsSet,
    [property: Id(11)] int? InfoPrefixes4,
    [property: Id(12)] int? InfoPrefixes6,
    [property: Id(13)] bool? Announced,
    [property: Id(14)] int? PrefixCount,
    [property: Id(15)] int? NeighborCount,
    [property: Id(16)] DateTimeOffset LastEnriched,
    [property: Id(17)] IReadOnlyDictionary<string, string> Sources,
    [property: Id(18)] IReadOnlyDictionary<string, string> Errors,
    [property: Id(19)] int? IxCount = null);
