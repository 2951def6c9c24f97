using System.Net;
using CyberWatch.Enrichment;

namespace CyberWatch.Topology;

/// <summary>
/// Peering LAN prefixes of internet exchange points. A hop in one of them is a member's router
/// answering from its IXP-facing interface, whatever the address class (lab and some real IXP LANs use
/// private space) and whatever AS (if any) announces the LAN. Where the member owning an address on the
/// LAN is known (PeeringDB's netixlan, or configuration), the hop belongs to that member's AS, as
/// traIXroute-style IXP detection does.
/// </summary>
public sealed class IxpPrefixes
{
    private readonly (IpPrefix Prefix, string Name)[] prefixes;
    private readonly Dictionary<IPAddress, long> members;

    public IxpPrefixes(IEnumerable<(IpPrefix Prefix, string Name)> prefixes, IReadOnlyDictionary<IPAddress, long>? members = null)
    {
        // Longest first, so a more specific LAN wins over a covering one.
        this.prefixes = prefixes.OrderByDescending(p => p.Prefix.Length).ToArray();
        this.members = members is null ? [] : new Dictionary<IPAddress, long>(members);
    }

    public static IxpPrefixes None { get; } = new([]);

    public int Count => prefixes.Length;

    public int MemberCount => members.Count;

    /// <summary>
    /// Parses the LANs as <see cref="Parse(string?)"/> and the members as <c>ADDRESS=ASN[,ADDRESS=ASN...]</c>
    /// (e.g. <c>10.99.0.15=64500</c>); a member address outside every LAN is refused.
    /// </summary>
    public static IxpPrefixes Parse(string? lans, string? memberText)
    {
        var parsed = Parse(lans);
        var members = new Dictionary<IPAddress, long>();
        foreach (var item in (memberText ?? "").Split([',', ';', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = item.IndexOf('=');
            if (equals <= 0 || !IPAddress.TryParse(item.AsSpan(0, equals), out var address)
                || !long.TryParse(item.AsSpan(equals + 1), out var asn) || asn is <= 0 or > uint.MaxValue)
            {
                throw new FormatException($"IXP member '{item}' is not ADDRESS=ASN (e.g. 10.99.0.15=64500)");
            }
            if (parsed.Find(address) is null)
            {
                throw new FormatException($"IXP member address {address} is in no configured IXP peering LAN");
            }
            members[address] = asn;
        }
        return new IxpPrefixes(parsed.prefixes, members);
    }

    /// <summary>The member AS that holds this address on an IXP LAN, when known.</summary>
    public long? MemberAsn(IPAddress? address) =>
        address is not null && members.TryGetValue(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address, out var asn) ? asn : null;

    /// <summary>
    /// Parses <c>NAME=PREFIX[,NAME=PREFIX...]</c> (also separated by spaces or semicolons), e.g.
    /// <c>LAB-IX=10.99.0.0/24,LAB-IX=2001:db8:99::/64</c>.
    /// </summary>
    public static IxpPrefixes Parse(string? text)
    {
        var list = new List<(IpPrefix, string)>();
        foreach (var item in (text ?? "").Split([',', ';', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = item.IndexOf('=');
            if (equals <= 0 || !IpPrefix.TryParse(item.AsSpan(equals + 1), out var prefix))
            {
                throw new FormatException($"IXP prefix '{item}' is not NAME=PREFIX (e.g. LAB-IX=10.99.0.0/24)");
            }
            list.Add((prefix, item[..equals]));
        }
        return new IxpPrefixes(list);
    }

    /// <summary>The IXP whose peering LAN holds the address, or null.</summary>
    public string? Find(IPAddress? address)
    {
        if (address is null)
        {
            return null;
        }
        foreach (var (prefix, name) in prefixes)
        {
            if (prefix.Contains(address))
            {
                return name;
            }
        }
        return null;
    }
}
