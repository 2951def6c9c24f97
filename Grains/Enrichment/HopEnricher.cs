using System.Diagnostics.Metrics;
using System.Net;
using CyberWatch.Storage;

namespace CyberWatch.Enrichment;

/// <summary>
/// Maps every hop of a measurement to its address class and, for global addresses, the covering
/// prefix and origin ASN(s) from the prefix table — in memory, before the measurement is stored.
/// Special addresses are classified and never looked up or sent anywhere. A hop in an IXP peering LAN of the
/// <see cref="IxpDirectory"/> (PeeringDB sync, when configured) is marked with the IX name and, when its address
/// is a known member interface, the member's ASN.
/// </summary>
public sealed class HopEnricher(PrefixTableService prefixes, SpecialAddresses special, IxpDirectory? ixps = null,
    IMeterFactory? meters = null)
{
    private readonly Counter<long>? lookups = meters?.Create("CyberWatch.Enrichment").CreateCounter<long>(
        "cyberwatch.enrichment.lookups", description: "prefix-table lookups of global hop addresses, by result (found, unmapped)");

    public MeasurementRow Enrich(MeasurementRow measurement)
    {
        if (measurement.Hops.Count == 0)
        {
            return measurement;
        }
        var table = prefixes.Table;
        var hops = new HopRow[measurement.Hops.Count];
        var unmapped = 0;
        for (var i = 0; i < hops.Length; i++)
        {
            hops[i] = Enrich(measurement.Hops[i], table, ref unmapped);
        }
        return measurement with
        {
            Hops = hops,
            // Data configured but not loaded yet: leave it pending so the backfill maps it once loaded.
            EnrichmentState = table.PrefixCount == 0 && prefixes.Files.Count > 0 ? "pending" : unmapped == 0 ? "done" : "partial",
        };
    }

    public HopRow Enrich(HopRow hop, PrefixTable table, ref int unmapped)
    {
        if (hop.Address is not { } address)
        {
            return hop;
        }
        var addressClass = special.Classify(address);
        // IXP LANs may be in private space (and so are lab ones); the member interface still names its AS.
        if (ixps?.Find(address) is { } ixp)
        {
            hop = hop with { Ixp = hop.Ixp ?? ixp.Name, Asn = ixp.MemberAsn ?? hop.Asn };
        }
        if (addressClass != AddressClass.Global)
        {
            return hop with { AddressClass = Name(addressClass) };
        }
        var match = table.Lookup(address);
        lookups?.Add(1, new KeyValuePair<string, object?>("result", match.Found ? "found" : "unmapped"));
        if (!match.Found && hop.Ixp is not null && hop.Asn is not null)
        {
            return hop with { AddressClass = "global", EnrichmentError = null };
        }
        if (!match.Found)
        {
            unmapped++;
            return hop with
            {
                AddressClass = "global",
                EnrichmentError = table.PrefixCount > 0 ? "no covering prefix in the prefix table"
                    : prefixes.Files.Count == 0 ? "no prefix data configured" : null,
            };
        }
        var origins = match.Origins;
        return hop with
        {
            AddressClass = "global",
            Asn = hop.Ixp is not null && hop.Asn is { } member ? member : origins.Primary,
            OriginAsns = origins.HasMultipleOrigins ? origins.Asns.Select(a => (long)a).ToArray() : null,
            Prefix = (match.Prefix.NetworkAddress, match.Prefix.Length),
            Country = hop.Country ?? match.Metadata?.Country,
            Org = hop.Org ?? match.Metadata?.Description,
            EnrichmentError = null,
        };
    }

    /// <summary>The class as stored in <c>hops.address_class</c>: snake case (<c>link_local</c>, <c>six_to_four</c>).</summary>
    public static string Name(AddressClass addressClass) =>
        System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(addressClass.ToString());

    /// <summary>Address class of a single address (for the lookup endpoint).</summary>
    public AddressClass Classify(IPAddress address) => special.Classify(address);
}
