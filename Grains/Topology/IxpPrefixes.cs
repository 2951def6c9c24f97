using System.Net;
using CyberWatch.Enrichment;

namespace CyberWatch.Topology;

/// <summary>
/// Peering LAN prefixes of internet exchange points. A hop in one of them is a member's router
/// answering from its IXP-facing interface, whatever the address class (lab and some real IXP LANs use
/// private space) and whatever AS (if any) announces the LAN.
/// </summary>
public sealed class IxpPrefixes
{
    private readonly (IpPrefix Prefix, string Name)[] prefixes;

    public IxpPrefixes(IEnumerable<(IpPrefix Prefix, string Name)> prefixes)
    {
        // Longest first, so a more specific LAN wins over a covering one.
        this.prefixes = prefixes.OrderByDescending(p => p.Prefix.Length).ToArray();
    }

    public static IxpPrefixes None { get; } = new([]);

    public int Count => prefixes.Length;

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
