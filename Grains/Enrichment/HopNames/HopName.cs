using System.Net;

namespace CyberWatch.Enrichment.HopNames;

/// <summary>What a PTR lookup of a hop address gave, as stored in <c>hop_names</c>.</summary>
public enum HopNameStatus
{
    /// <summary>A PTR record: <see cref="HopName.Hostname"/> holds it.</summary>
    Name,

    /// <summary>The reverse name does not exist (NXDOMAIN): a negative answer, cached for its TTL.</summary>
    NxDomain,

    /// <summary>The reverse name exists but has no PTR record (NOERROR, empty answer): negative, cached.</summary>
    NoData,

    /// <summary>No usable answer (timeout, SERVFAIL, REFUSED...): asked again after the retry delay.</summary>
    Failed,
}

/// <summary>The reverse DNS name of one hop address, or why there is none, and how long it holds.</summary>
public sealed record HopName(IPAddress Address, HopNameStatus Status, string? Hostname, string? Error, TimeSpan Ttl)
{
    public string StatusText => Status switch
    {
        HopNameStatus.Name => "name",
        HopNameStatus.NxDomain => "nxdomain",
        HopNameStatus.NoData => "nodata",
        _ => "failed",
    };
}

/// <summary>One PTR record of an answer.</summary>
public readonly record struct PtrRecord(string Name, int Ttl);

/// <summary>The SOA of a negative answer's authority section: its own TTL and its MINIMUM field.</summary>
public readonly record struct NegativeSoa(int Ttl, long Minimum);

/// <summary>
/// Turns a reverse DNS answer into a <see cref="HopName"/>: the first PTR name, kept for its TTL; a negative
/// answer kept for the SOA's negative TTL (RFC 2308: the smaller of the SOA's TTL and its MINIMUM) or the
/// configured default when the answer carries no SOA; anything else a failure retried soon. TTLs are held
/// within the configured bounds.
/// </summary>
public static class ReverseAnswer
{
    /// <summary>Longest name DNS can carry (RFC 1035: 255 octets on the wire, 253 as text).</summary>
    public const int MaxNameLength = 253;

    /// <param name="responseCode">The answer's RCODE (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED...).</param>
    public static HopName Interpret(IPAddress address, int responseCode, IReadOnlyList<PtrRecord> ptrs, NegativeSoa? soa, HopNameOptions options)
    {
        switch (responseCode)
        {
            case 0 when ptrs.Count > 0:
                var ptr = ptrs[0];
                var name = ptr.Name.TrimEnd('.');
                if (name.Length is 0 or > MaxNameLength)
                {
                    return Failed(address, $"PTR record '{Shorten(ptr.Name)}' is not a usable host name", options);
                }
                return new HopName(address, HopNameStatus.Name, name, null, Bound(TimeSpan.FromSeconds(ptr.Ttl), options));
            case 0:
                return new HopName(address, HopNameStatus.NoData, null, null, Negative(soa, options));
            case 3:
                return new HopName(address, HopNameStatus.NxDomain, null, null, Negative(soa, options));
            default:
                return Failed(address, $"the resolver answered {RcodeName(responseCode)}", options);
        }
    }

    public static HopName Failed(IPAddress address, string error, HopNameOptions options) =>
        new(address, HopNameStatus.Failed, null, error, TimeSpan.FromSeconds(options.RetrySeconds));

    private static TimeSpan Negative(NegativeSoa? soa, HopNameOptions options) =>
        soa is { } s
            ? Bound(TimeSpan.FromSeconds(Math.Min(s.Ttl, s.Minimum)), options)
            : Bound(TimeSpan.FromSeconds(options.NegativeTtlSeconds), options);

    private static TimeSpan Bound(TimeSpan ttl, HopNameOptions options) =>
        TimeSpan.FromSeconds(Math.Clamp(ttl.TotalSeconds, options.MinTtlSeconds, options.MaxTtlSeconds));

    private static string RcodeName(int code) => code switch
    {
        1 => "FORMERR",
        2 => "SERVFAIL",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => $"RCODE {code}",
    };

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "…";
}
