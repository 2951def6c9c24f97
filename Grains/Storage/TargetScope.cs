namespace CyberWatch.Storage;

/// <summary>
/// Which targets a reader may see. A target known only because the local resolver saw its domain asked for tells
/// who on the network looked what up: only the dns role (and admin) see it. Every read of the API that can name a
/// target address or show its measurements takes a scope and filters with <see cref="TargetScopes.Visible"/>.
/// </summary>
public enum TargetScope
{
    /// <summary>What a public looking glass shows: DNS-only targets and everything measured of them left out.</summary>
    Public,

    /// <summary>Every target, the DNS-only ones included (the dns and admin roles, the node itself).</summary>
    IncludingDns,
}

/// <summary>The one rule, in SQL, of which target rows a <see cref="TargetScope.Public"/> reader does not see.</summary>
public static class TargetScopes
{
    /// <summary>
    /// SQL true when <paramref name="sources"/> (a <c>targets.sources</c> array) is that of a DNS-only target: 'dns'
    /// among them and neither 'static' nor 'api' (a target the operator also listed or enqueued is public anyway;
    /// 'hop' and 'asn_expansion' are routers and neighbours the node found, not what a user visited).
    /// </summary>
    public static string DnsOnlySources(string sources) => $"('dns' = ANY({sources}) AND NOT {sources} && ARRAY['static', 'api'])";

    /// <summary>SQL true when the address expression <paramref name="address"/> is a DNS-only target (one index probe of <c>targets</c>).</summary>
    public static string DnsOnlyAddress(string address) =>
        $"EXISTS (SELECT 1 FROM targets dns_only WHERE dns_only.ip = {address} AND {DnsOnlySources("dns_only.sources")})";

    /// <summary>
    /// A condition on the address expression <paramref name="address"/> that keeps the rows this scope may see:
    /// <c>true</c> for <see cref="TargetScope.IncludingDns"/>, else "not a DNS-only target".
    /// </summary>
    public static string Visible(this TargetScope scope, string address) =>
        scope == TargetScope.IncludingDns ? "true" : $"NOT {DnsOnlyAddress(address)}";
}
