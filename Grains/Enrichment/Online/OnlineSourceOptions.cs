using System.Net;
using CyberWatch.Configuration;
using Microsoft.Extensions.Configuration;

namespace CyberWatch.Enrichment.Online;

/// <summary>
/// The online enrichment sources, each off until enabled (section <c>CyberWatch:Online</c>, environment
/// CYBERWATCH_CYMRU_*, CYBERWATCH_PEERINGDB_*, CYBERWATCH_RIPESTAT_*, CYBERWATCH_ONLINE_*).
/// </summary>
public sealed class OnlineSourceOptions
{
    public const string Section = "CyberWatch:Online";

    /// <summary>Team Cymru bulk whois over TCP (CYBERWATCH_CYMRU_ENABLED).</summary>
    public bool CymruEnabled { get; set; }

    /// <summary>host:port of the bulk whois server (CYBERWATCH_CYMRU_WHOIS).</summary>
    public string CymruWhois { get; set; } = "whois.cymru.com:43";

    /// <summary>Team Cymru DNS interface instead of whois for single lookups (CYBERWATCH_CYMRU_DNS_ENABLED).</summary>
    public bool CymruDnsEnabled { get; set; }

    /// <summary>ip:port of the resolver to ask; empty: the system's resolvers (CYBERWATCH_CYMRU_DNS_SERVER).</summary>
    public string CymruDnsServer { get; set; } = "";

    /// <summary>Zone of the DNS interface (CYBERWATCH_CYMRU_DNS_ZONE).</summary>
    public string CymruDnsZone { get; set; } = "asn.cymru.com";

    /// <summary>Whois connections or DNS queries per minute (CYBERWATCH_CYMRU_RATE_PER_MINUTE).</summary>
    public double CymruRatePerMinute { get; set; } = 60;

    /// <summary>CYBERWATCH_PEERINGDB_ENABLED.</summary>
    public bool PeeringDbEnabled { get; set; }

    /// <summary>Base URL of the PeeringDB API host (CYBERWATCH_PEERINGDB_URL).</summary>
    public string PeeringDbUrl { get; set; } = "https://www.peeringdb.com";

    /// <summary>Sent as <c>Authorization: Api-Key …</c> when set (CYBERWATCH_PEERINGDB_API_KEY).</summary>
    public string PeeringDbApiKey { get; set; } = "";

    /// <summary>
    /// Full sync of PeeringDB's networks, IXP LANs and member interfaces once per TTL, instead of one request per AS,
    /// and to mark IXP hops and their member ASN (CYBERWATCH_PEERINGDB_IXP_SYNC; needs CYBERWATCH_PEERINGDB_ENABLED).
    /// </summary>
    public bool PeeringDbIxpSync { get; set; }

    /// <summary>PeeringDB allows 20 anonymous requests a minute (CYBERWATCH_PEERINGDB_RATE_PER_MINUTE).</summary>
    public double PeeringDbRatePerMinute { get; set; } = 20;

    /// <summary>CYBERWATCH_RIPESTAT_ENABLED.</summary>
    public bool RipeStatEnabled { get; set; }

    /// <summary>Base URL of RIPEstat (CYBERWATCH_RIPESTAT_URL).</summary>
    public string RipeStatUrl { get; set; } = "https://stat.ripe.net";

    /// <summary>The <c>sourceapp</c> parameter RIPEstat asks callers to send (CYBERWATCH_RIPESTAT_SOURCEAPP).</summary>
    public string RipeStatSourceApp { get; set; } = "cyberwatch";

    /// <summary>CYBERWATCH_RIPESTAT_RATE_PER_MINUTE.</summary>
    public double RipeStatRatePerMinute { get; set; } = 60;

    /// <summary>ip-api.com batch lookups, for hops no prefix covers (CYBERWATCH_IPAPI_ENABLED).</summary>
    public bool IpApiEnabled { get; set; }

    /// <summary>Base URL; the free service is plain http, the pro one https://pro.ip-api.com (CYBERWATCH_IPAPI_URL).</summary>
    public string IpApiUrl { get; set; } = "http://ip-api.com";

    /// <summary>Key of the pro service, sent as <c>key</c> (CYBERWATCH_IPAPI_KEY).</summary>
    public string IpApiKey { get; set; } = "";

    /// <summary>The free batch endpoint allows 15 requests a minute (CYBERWATCH_IPAPI_RATE_PER_MINUTE).</summary>
    public double IpApiRatePerMinute { get; set; } = 15;

    /// <summary>ipinfo.io lookups, for hops no prefix covers (CYBERWATCH_IPINFO_ENABLED).</summary>
    public bool IpInfoEnabled { get; set; }

    /// <summary>CYBERWATCH_IPINFO_URL.</summary>
    public string IpInfoUrl { get; set; } = "https://ipinfo.io";

    /// <summary>Sent as <c>Authorization: Bearer …</c> (CYBERWATCH_IPINFO_TOKEN).</summary>
    public string IpInfoToken { get; set; } = "";

    /// <summary>CYBERWATCH_IPINFO_RATE_PER_MINUTE.</summary>
    public double IpInfoRatePerMinute { get; set; } = 30;

    /// <summary>How long an answer is cached and AS metadata kept before it is asked again (CYBERWATCH_ONLINE_TTL_HOURS).</summary>
    public double TtlHours { get; set; } = 24;

    /// <summary>Timeout of one request attempt (CYBERWATCH_ONLINE_TIMEOUT_SECONDS).</summary>
    public double TimeoutSeconds { get; set; } = 10;

    /// <summary>Attempts after the first failure of a request (CYBERWATCH_ONLINE_RETRIES).</summary>
    public int Retries { get; set; } = 2;

    public bool AnyEnabled => CymruEnabled || CymruDnsEnabled || PeeringDbEnabled || RipeStatEnabled || IpApiEnabled || IpInfoEnabled;

    /// <summary>Whether any source maps addresses to origin ASNs (the fallback for hops no prefix covers).</summary>
    public bool AnyIpOriginEnabled => CymruEnabled || CymruDnsEnabled || IpApiEnabled || IpInfoEnabled;

    public TimeSpan Ttl => TimeSpan.FromHours(TtlHours);

    public TimeSpan Timeout => TimeSpan.FromSeconds(TimeoutSeconds);

    /// <summary>Reads and checks the section; a bad value is a <see cref="ConfigurationException"/> naming its variable.</summary>
    public static OnlineSourceOptions From(IConfiguration configuration)
    {
        OnlineSourceOptions options;
        try
        {
            options = configuration.GetSection(Section).Get<OnlineSourceOptions>() ?? new OnlineSourceOptions();
        }
        catch (InvalidOperationException e)
        {
            // "Failed to convert configuration value at 'CyberWatch:Online:CymruEnabled' to type 'System.Boolean'."
            var key = System.Text.RegularExpressions.Regex.Match(e.Message, "'(CyberWatch:Online:[^']+)'").Groups[1].Value;
            var variable = EnvironmentVariables.Map.FirstOrDefault(m => m.Value == key).Key ?? key;
            throw new ConfigurationException($"online enrichment settings: {variable} '{configuration[key]}' is not valid ({e.Message})");
        }
        options.Validate();
        return options;
    }

    public void Validate()
    {
        if (CymruEnabled)
        {
            ParseHostPort(CymruWhois, 43, "CYBERWATCH_CYMRU_WHOIS");
        }
        if (CymruDnsEnabled && CymruDnsServer.Length > 0)
        {
            DnsServer();
        }
        if (PeeringDbEnabled)
        {
            BaseUrl(PeeringDbUrl, "CYBERWATCH_PEERINGDB_URL");
        }
        if (PeeringDbIxpSync && !PeeringDbEnabled)
        {
            throw new ConfigurationException("CYBERWATCH_PEERINGDB_IXP_SYNC needs CYBERWATCH_PEERINGDB_ENABLED=true");
        }
        if (RipeStatEnabled)
        {
            BaseUrl(RipeStatUrl, "CYBERWATCH_RIPESTAT_URL");
        }
        if (IpApiEnabled)
        {
            BaseUrl(IpApiUrl, "CYBERWATCH_IPAPI_URL");
        }
        if (IpInfoEnabled)
        {
            BaseUrl(IpInfoUrl, "CYBERWATCH_IPINFO_URL");
        }
        Positive(IpApiRatePerMinute, "CYBERWATCH_IPAPI_RATE_PER_MINUTE");
        Positive(IpInfoRatePerMinute, "CYBERWATCH_IPINFO_RATE_PER_MINUTE");
        Positive(CymruRatePerMinute, "CYBERWATCH_CYMRU_RATE_PER_MINUTE");
        Positive(PeeringDbRatePerMinute, "CYBERWATCH_PEERINGDB_RATE_PER_MINUTE");
        Positive(RipeStatRatePerMinute, "CYBERWATCH_RIPESTAT_RATE_PER_MINUTE");
        Positive(TtlHours, "CYBERWATCH_ONLINE_TTL_HOURS");
        Positive(TimeoutSeconds, "CYBERWATCH_ONLINE_TIMEOUT_SECONDS");
        if (Retries is < 0 or > 10)
        {
            throw new ConfigurationException($"CYBERWATCH_ONLINE_RETRIES must be 0..10, not {Retries}");
        }
    }

    public (string Host, int Port) WhoisEndpoint() => ParseHostPort(CymruWhois, 43, "CYBERWATCH_CYMRU_WHOIS");

    /// <summary>The resolver of the DNS interface, or null for the system's.</summary>
    public IPEndPoint? DnsServer()
    {
        if (CymruDnsServer.Length == 0)
        {
            return null;
        }
        var (host, port) = ParseHostPort(CymruDnsServer, 53, "CYBERWATCH_CYMRU_DNS_SERVER");
        return IPAddress.TryParse(host, out var address)
            ? new IPEndPoint(address, port)
            : throw new ConfigurationException($"CYBERWATCH_CYMRU_DNS_SERVER '{CymruDnsServer}' must be an IP address with an optional port, like 127.0.0.1:5353");
    }

    public static Uri BaseUrl(string text, string variable) =>
        Uri.TryCreate(text.TrimEnd('/') + "/", UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw new ConfigurationException($"{variable} '{text}' is not an http(s) URL");

    private static (string Host, int Port) ParseHostPort(string text, int defaultPort, string variable)
    {
        text = text.Trim();
        if (IPAddress.TryParse(text, out var bare))
        {
            return (bare.ToString(), defaultPort);
        }
        if (IPEndPoint.TryParse(text, out var endpoint) && text.Contains(':') && (text.StartsWith('[') || text.Count(c => c == ':') == 1))
        {
            return (endpoint.Address.ToString(), endpoint.Port);
        }
        var colon = text.LastIndexOf(':');
        var host = colon < 0 ? text : text[..colon];
        var port = defaultPort;
        if (host.Length == 0 || host.Contains(':') || (colon >= 0 && (!int.TryParse(text[(colon + 1)..], out port) || port is < 1 or > 65535)))
        {
            throw new ConfigurationException($"{variable} '{text}' is not host:port");
        }
        return (host, port);
    }

    private static void Positive(double value, string variable)
    {
        if (!double.IsFinite(value) || value <= 0)
        {
            throw new ConfigurationException($"{variable} must be a positive number, not {value}");
        }
    }
}
