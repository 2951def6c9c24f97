using System.Net;
using CyberWatch.Measurement;
using CyberWatch.Storage;

namespace CyberWatch.Topology;

/// <summary>
/// One reply of a measurement as AS-path extraction needs it: probe TTL, replying address and its
/// enrichment (address class, origin ASN(s), IXP). A silent TTL has no address.
/// </summary>
public sealed record PathHop(
    int Ttl,
    IPAddress? Address,
    double? RttMs = null,
    string? AddressClass = "global",
    long? Asn = null,
    IReadOnlyList<long>? OriginAsns = null,
    string? Ixp = null,
    int ReplyIndex = 0,
    string? Org = null,
    string? Country = null)
{
    public static PathHop From(HopRow hop) => new(
        hop.Ttl, hop.Address, hop.RttMs, hop.AddressClass, hop.Asn, hop.OriginAsns, hop.Ixp, hop.ReplyIndex, hop.Org, hop.Country);

    public static PathHop From(HopRecord hop) => new(
        hop.Ttl, hop.Address is null ? null : IPAddress.Parse(hop.Address), hop.RttMs, hop.AddressClass, hop.Asn, hop.OriginAsns,
        hop.Ixp, hop.ReplyIndex, hop.Org, hop.Country);
}
