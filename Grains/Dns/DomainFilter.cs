using System.Net;

namespace CyberWatch.Dns;

/// <summary>Why a query does not count.</summary>
public enum DropReason
{
    None,
    Blocked,
    Malformed,
    IpLiteral,
    ReverseZone,
    IgnoredSuffix,
    IgnoredQtype,
    IgnoredClient,
    OwnLookup,
    TooLong,
}

/// <summary>
/// Normalises query names and drops what must not become a target: blocked queries, reverse zones,
/// the node's own lookups, malformed names, IP literals and the operator's ignore lists.
/// </summary>
public sealed class DomainFilter
{
    private readonly string[] ignoredSuffixes;
    private readonly string[] enrichmentSuffixes;
    private readonly HashSet<string> ignoredQtypes;
    private readonly HashSet<string> ignoredClients;
    private readonly HashSet<string> ownClients;
    private readonly int maxLength;

    public DomainFilter(DnsCollectorConfig.FilterSection filters)
    {
        ignoredSuffixes = filters.IgnoreSuffixes.Select(Suffix).ToArray();
        enrichmentSuffixes = filters.EnrichmentSuffixes.Select(Suffix).ToArray();
        ignoredQtypes = filters.IgnoreQtypes.Select(q => q.Trim().ToUpperInvariant()).ToHashSet();
        ignoredClients = filters.IgnoreClients.Select(CanonicalClient).ToHashSet();
        ownClients = filters.OwnClients.Select(CanonicalClient).ToHashSet();
        maxLength = filters.MaxDomainLength;
    }

    public DropReason Check(ObservedQuery query, out string domain)
    {
        domain = "";
        if (query.Outcome == QueryOutcome.Blocked)
        {
            return DropReason.Blocked;
        }
        var client = CanonicalClient(query.Client);
        if (ownClients.Contains(client))
        {
            return DropReason.OwnLookup;
        }
        if (ignoredClients.Contains(client))
        {
            return DropReason.IgnoredClient;
        }
        if (ignoredQtypes.Contains(query.QType.ToUpperInvariant()))
        {
            return DropReason.IgnoredQtype;
        }
        var reason = Normalize(query.Domain, maxLength, out domain);
        if (reason != DropReason.None)
        {
            return reason;
        }
        var dotted = "." + domain;
        if (dotted.EndsWith(".in-addr.arpa", StringComparison.Ordinal) || dotted.EndsWith(".ip6.arpa", StringComparison.Ordinal))
        {
            return DropReason.ReverseZone;
        }
        if (enrichmentSuffixes.Any(s => dotted.EndsWith(s, StringComparison.Ordinal)))
        {
            return DropReason.OwnLookup;
        }
        if (ignoredSuffixes.Any(s => dotted.EndsWith(s, StringComparison.Ordinal)))
        {
            return DropReason.IgnoredSuffix;
        }
        return DropReason.None;
    }

    /// <summary>
    /// Lower-cases and strips the root dot; refuses IP literals, single-label names and anything that is
    /// not letters, digits, hyphens and underscores in labels of 1 to 63 characters.
    /// </summary>
    public static DropReason Normalize(string? name, int maxLength, out string domain)
    {
        domain = "";
        if (string.IsNullOrWhiteSpace(name))
        {
            return DropReason.Malformed;
        }
        var text = name.Trim().TrimEnd('.').ToLowerInvariant();
        if (text.Length == 0)
        {
            return DropReason.Malformed;
        }
        if (text.Length > maxLength)
        {
            return DropReason.TooLong;
        }
        if (IPAddress.TryParse(text.Trim('[', ']'), out _) && (text.Contains(':') || text.Count(c => c == '.') == 3))
        {
            return DropReason.IpLiteral;
        }
        var labels = text.Split('.');
        if (labels.Length < 2)
        {
            return DropReason.Malformed;
        }
        foreach (var label in labels)
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
            {
                return DropReason.Malformed;
            }
            foreach (var c in label)
            {
                if (!(c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_'))
                {
                    return DropReason.Malformed;
                }
            }
        }
        if (labels[^1].All(char.IsAsciiDigit))
        {
            return DropReason.Malformed; // no all-numeric TLD: an IP-ish name like 10.1.2
        }
        domain = text;
        return DropReason.None;
    }

    private static string Suffix(string suffix)
    {
        var s = suffix.Trim().TrimEnd('.').ToLowerInvariant();
        return s.StartsWith('.') ? s : "." + s;
    }

    private static string CanonicalClient(string client)
    {
        var text = client.Trim();
        return IPAddress.TryParse(text, out var address)
            ? (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString()
            : text.ToLowerInvariant();
    }
}
