namespace CyberWatch.Enrichment;

/// <summary>Origin of one address as the silo's prefix table sees it.</summary>
[GenerateSerializer, Immutable]
public sealed record PrefixLookupResult(
    [property: Id(0)] string Address,
    [property: Id(1)] string AddressClass,
    [property: Id(2)] long? Asn,
    [property: Id(3)] IReadOnlyList<long> OriginAsns,
    [property: Id(4)] string? Prefix,
    [property: Id(5)] bool MultipleOrigins,
    [property: Id(6)] string? Country,
    [property: Id(7)] string? Description,
    [property: Id(8)] int TablePrefixes,
    [property: Id(9)] DateTimeOffset? TableLoadedAt);

/// <summary>Answers origin-ASN lookups from the silo's in-memory prefix table (stateless, served locally).</summary>
public interface IPrefixLookupGrain : IGrainWithIntegerKey
{
    /// <summary>Classifies and, for a global address, looks up its covering prefix and origin ASNs.</summary>
    Task<PrefixLookupResult> Lookup(string address);
}
