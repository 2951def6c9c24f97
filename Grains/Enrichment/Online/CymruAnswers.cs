using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace CyberWatch.Enrichment.Online;

/// <summary>Team Cymru's answer for one address: origin ASN(s) (several when the prefix has several origins) and registry facts.</summary>
public sealed record CymruOrigin(IReadOnlyList<long> Asns, string? Prefix, string? Country, string? Registry, string? Allocated, string? AsName);

/// <summary>Team Cymru's answer for one AS.</summary>
public sealed record CymruAsName(long Asn, string? Country, string? Registry, string? Allocated, string? Name);

/// <summary>
/// Parses the answers of Team Cymru's IP-to-ASN service: bulk whois verbose lines
/// (<c>AS | IP | BGP Prefix | CC | Registry | Allocated | AS Name</c> and, for <c>ASn</c> queries,
/// <c>AS | CC | Registry | Allocated | AS Name</c>) and the DNS TXT records of <c>origin</c>, <c>origin6</c> and <c>ASn</c>.
/// </summary>
public static class CymruAnswers
{
    /// <summary>Reads a bulk whois answer: origins by address (canonical text) and AS names by ASN. Headers, comments and errors are skipped.</summary>
    public static (Dictionary<string, CymruOrigin> Origins, Dictionary<long, CymruAsName> Names) ParseWhois(string answer)
    {
        var origins = new Dictionary<string, CymruOrigin>(StringComparer.Ordinal);
        var names = new Dictionary<long, CymruAsName>();
        foreach (var raw in answer.Split('\n'))
        {
            var fields = raw.TrimEnd('\r').Split('|').Select(f => f.Trim()).ToArray();
            if (fields.Length == 7 && IPAddress.TryParse(fields[1], out var address))
            {
                var key = Key(address);
                var asns = ParseAsns(fields[0]);
                if (asns.Count == 0)
                {
                    continue; // NA: not routed
                }
                // A prefix with several origins comes as one line per origin.
                if (origins.TryGetValue(key, out var held) && held.Prefix == Na(fields[2]))
                {
                    asns = [.. held.Asns.Union(asns)];
                }
                origins[key] = new CymruOrigin(asns, Na(fields[2]), Na(fields[3]), Na(fields[4]), Na(fields[5]), Na(fields[6]));
            }
            else if (fields.Length == 5 && ParseAsns(fields[0]) is [var asn])
            {
                names[asn] = new CymruAsName(asn, Na(fields[1]), Na(fields[2]), Na(fields[3]), Na(fields[4]));
            }
        }
        return (origins, names);
    }

    /// <summary>Reads one TXT string of <c>origin.asn.cymru.com</c>: <c>23028 | 216.90.108.0/24 | US | arin | 1998-09-25</c>.</summary>
    public static CymruOrigin? ParseOriginTxt(string txt)
    {
        var fields = txt.Split('|').Select(f => f.Trim()).ToArray();
        if (fields.Length < 2 || ParseAsns(fields[0]) is not { Count: > 0 } asns)
        {
            return null;
        }
        return new CymruOrigin(asns, Na(fields[1]), Field(fields, 2), Field(fields, 3), Field(fields, 4), null);
    }

    /// <summary>Reads one TXT string of <c>ASn.asn.cymru.com</c>: <c>23028 | US | arin | 2002-01-04 | TEAMCYMRU - SAUNET, US</c>.</summary>
    public static CymruAsName? ParseAsNameTxt(string txt)
    {
        var fields = txt.Split('|').Select(f => f.Trim()).ToArray();
        if (fields.Length < 5 || ParseAsns(fields[0]) is not [var asn])
        {
            return null;
        }
        // The name may itself hold '|'.
        return new CymruAsName(asn, Na(fields[1]), Na(fields[2]), Na(fields[3]), Na(string.Join(" | ", fields[4..])));
    }

    /// <summary>The bulk whois request for these lines (addresses or <c>ASn</c>), verbose.</summary>
    public static string BulkRequest(IEnumerable<string> lines)
    {
        var request = new StringBuilder("begin\nverbose\n");
        foreach (var line in lines)
        {
            request.Append(line).Append('\n');
        }
        return request.Append("end\n").ToString();
    }

    /// <summary>Query name of the DNS interface: <c>31.108.90.216.origin.asn.cymru.com</c>, or the nibbles under <c>origin6</c>.</summary>
    public static string OriginName(IPAddress address, string zone)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        var bytes = address.GetAddressBytes();
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return $"{bytes[3]}.{bytes[2]}.{bytes[1]}.{bytes[0]}.origin.{zone}";
        }
        var name = new StringBuilder(80);
        for (var i = bytes.Length - 1; i >= 0; i--)
        {
            name.Append(HexDigit(bytes[i] & 0xF)).Append('.').Append(HexDigit(bytes[i] >> 4)).Append('.');
        }
        return name.Append("origin6.").Append(zone).ToString();
    }

    public static string AsName(long asn, string zone) => $"AS{asn}.{zone}";

    /// <summary>Canonical text of an address, the key of answers and of the cache.</summary>
    public static string Key(IPAddress address) => (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();

    private static char HexDigit(int nibble) => "0123456789abcdef"[nibble];

    private static List<long> ParseAsns(string field)
    {
        var asns = new List<long>();
        foreach (var part in field.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var digits = part.StartsWith("AS", StringComparison.OrdinalIgnoreCase) ? part[2..] : part;
            if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var asn) || asn > uint.MaxValue)
            {
                return [];
            }
            asns.Add(asn);
        }
        return asns;
    }

    private static string? Field(string[] fields, int index) => index < fields.Length ? Na(fields[index]) : null;

    private static string? Na(string field) => field.Length == 0 || field == "NA" ? null : field;
}
