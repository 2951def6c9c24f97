using CyberWatch.Configuration;
using CyberWatch.Enrichment;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace CyberWatch.Dns;

/// <summary>
/// The collector's configuration (<c>/etc/cyberwatch/dns.yaml</c>, or the file named by CYBERWATCH_DNS_CONFIG).
/// Field names are the YAML's, in snake_case; see dns.example.yaml.
/// </summary>
public sealed class DnsCollectorConfig
{
    public const string DefaultPath = "/etc/cyberwatch/dns.yaml";
    public const string PathVariable = "CYBERWATCH_DNS_CONFIG";

    public bool Enabled { get; set; } = true;

    /// <summary><c>pihole</c> (its HTTP API) or <c>logfile</c> (a dnsmasq / Pi-hole FTL query log).</summary>
    public string Source { get; set; } = "logfile";

    public int PollIntervalSeconds { get; set; } = 10;

    /// <summary>Where the cursor or file offset and the outgoing spool are kept.</summary>
    public string StateDir { get; set; } = "/var/lib/cyberwatch/dns";

    public PiholeSection Pihole { get; set; } = new();
    public LogfileSection Logfile { get; set; } = new();
    public FilterSection Filters { get; set; } = new();
    public ResolutionSection DnsResolution { get; set; } = new();
    public PrivacySection Privacy { get; set; } = new();
    public SuspicionSection Suspicion { get; set; } = new();
    public RedisSection Redis { get; set; } = new();

    public sealed class PiholeSection
    {
        /// <summary>Longest stretch of time asked for in one poll.</summary>
        public const int MaxSpanSeconds = 3600;

        /// <summary>Base URL of the Pi-hole web server, e.g. http://127.0.0.1:8080.</summary>
        public string Url { get; set; } = "http://127.0.0.1";

        /// <summary>6 (/api, session login) or 5 (admin/api.php with an API token).</summary>
        public int ApiVersion { get; set; } = 6;

        /// <summary>v6: the web interface or application password.</summary>
        public string? Password { get; set; }

        /// <summary>v5: the API token (WEBPASSWORD hash shown in Settings / API).</summary>
        public string? ApiToken { get; set; }

        /// <summary>Queries per page (v6).</summary>
        public int PageSize { get; set; } = 1000;

        /// <summary>How far back the first run reads, when there is no saved cursor.</summary>
        public int InitialLookbackSeconds { get; set; } = 300;
    }

    public sealed class LogfileSection
    {
        public string Path { get; set; } = "/var/log/pihole/pihole.log";
    }

    public sealed class FilterSection
    {
        public List<string> IgnoreSuffixes { get; set; } = [".local", ".lan", ".home.arpa", ".localdomain", ".internal"];
        public List<string> IgnoreQtypes { get; set; } = ["PTR", "SRV", "TXT", "SOA", "NS", "ANY", "DS", "DNSKEY"];
        public List<string> IgnoreClients { get; set; } = [];

        /// <summary>
        /// Clients whose queries are the node's own lookups (the collector's resolutions, enrichment);
        /// dropped, as are names under <see cref="EnrichmentSuffixes"/>.
        /// </summary>
        public List<string> OwnClients { get; set; } = ["127.0.0.1", "::1"];
        public List<string> EnrichmentSuffixes { get; set; } = [".asn.cymru.com", ".cymru.com", ".shadowserver.org", ".routeviews.org"];
        public int MaxDomainLength { get; set; } = 253;
    }

    public sealed class ResolutionSection
    {
        public bool Enabled { get; set; } = true;
        public int TimeoutMs { get; set; } = 2000;
        public int MaxIpsPerDomain { get; set; } = 4;

        /// <summary>Resolvers to ask ("addr" or "addr:port"); empty: the system's.</summary>
        public List<string> Servers { get; set; } = [];

        /// <summary>A released domain is resolved again at most this often.</summary>
        public int RefreshSeconds { get; set; } = 3600;

        /// <summary>Special prefixes that are nonetheless targets (a lab); everything else special is dropped.</summary>
        public List<string> AllowedPrefixes { get; set; } = [];
    }

    public sealed class PrivacySection
    {
        /// <summary><c>plain</c>, <c>hashed</c> (HMAC-SHA256 with <see cref="HmacKey"/>) or <c>none</c>.</summary>
        public string DomainPolicy { get; set; } = "plain";
        public string? HmacKey { get; set; }

        /// <summary>Distinct clients needed within the window before a domain counts at all.</summary>
        public int KAnonymity { get; set; } = 2;
        public int WindowMinutes { get; set; } = 60;

        /// <summary>IPv6 clients in one prefix of this length are one device (privacy addresses rotate inside a /64).</summary>
        public int Ipv6DevicePrefix { get; set; } = 64;

        /// <summary>Domains tracked in memory at most (oldest forgotten first).</summary>
        public int MaxTrackedDomains { get; set; } = 100_000;
    }

    public sealed class SuspicionSection
    {
        /// <summary>Names scoring at least this are kept with their score but not resolved or probed.</summary>
        public double Threshold { get; set; } = 0.7;
        public bool ProbeSuspicious { get; set; }
    }

    public sealed class RedisSection
    {
        /// <summary>Redis address; empty: CYBERWATCH_REDIS_URL.</summary>
        public string? Url { get; set; }
        public string Stream { get; set; } = DnsStream.DefaultStream;

        /// <summary>Bound of the on-disk spool that holds entries while Redis is unreachable.</summary>
        public long MaxSpoolBytes { get; set; } = 64L * 1024 * 1024;
    }

    public DomainPolicy ParsedDomainPolicy => Privacy.DomainPolicy.Trim().ToLowerInvariant() switch
    {
        "plain" => Dns.DomainPolicy.Plain,
        "hashed" => Dns.DomainPolicy.Hashed,
        "none" => Dns.DomainPolicy.None,
        _ => throw new ConfigurationException($"privacy.domain_policy '{Privacy.DomainPolicy}' must be plain, hashed or none"),
    };

    public IReadOnlyList<IpPrefix> ParsedAllowedPrefixes() => DnsResolution.AllowedPrefixes.Select(text =>
        IpPrefix.TryParse(text, out var prefix)
            ? prefix
            : throw new ConfigurationException($"dns_resolution.allowed_prefixes: '{text}' is not a prefix like 10.0.0.0/8")).ToList();

    public static string ResolvePath() =>
        Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } path ? path : DefaultPath;

    public static DnsCollectorConfig Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new ConfigurationException($"DNS collector configuration {path} not found (set {PathVariable}; dns.example.yaml in the repository shows every field)");
        }
        return Parse(File.ReadAllText(path), path);
    }

    public static DnsCollectorConfig Parse(string yaml, string origin = "dns.yaml")
    {
        var deserializer = new DeserializerBuilder().WithNamingConvention(UnderscoredNamingConvention.Instance).Build();
        DnsCollectorConfig config;
        try
        {
            config = deserializer.Deserialize<DnsCollectorConfig?>(yaml) ?? new DnsCollectorConfig();
        }
        catch (YamlException e)
        {
            var inner = e.InnerException?.Message ?? e.Message;
            throw new ConfigurationException($"{origin} line {e.Start.Line}: {inner}");
        }
        config.Validate(origin);
        return config;
    }

    public void Validate(string origin)
    {
        try
        {
            Check(origin);
        }
        catch (ConfigurationException e) when (!e.Message.StartsWith(origin + ":", StringComparison.Ordinal))
        {
            throw new ConfigurationException($"{origin}: {e.Message}");
        }
    }

    private void Check(string origin)
    {
        void Fail(string message) => throw new ConfigurationException($"{origin}: {message}");
        if (Source is not ("pihole" or "logfile"))
        {
            Fail($"source '{Source}' must be pihole or logfile");
        }
        if (PollIntervalSeconds is < 1 or > 3600)
        {
            Fail("poll_interval_seconds must be between 1 and 3600");
        }
        if (Source == "pihole" && Pihole.ApiVersion is not (5 or 6))
        {
            Fail("pihole.api_version must be 5 or 6");
        }
        if (Source == "pihole" && !Uri.TryCreate(Pihole.Url, UriKind.Absolute, out _))
        {
            Fail($"pihole.url '{Pihole.Url}' is not a URL");
        }
        if (Filters.MaxDomainLength is < 1 or > 253)
        {
            Fail("filters.max_domain_length must be between 1 and 253");
        }
        if (DnsResolution.TimeoutMs < 1 || DnsResolution.MaxIpsPerDomain < 1)
        {
            Fail("dns_resolution.timeout_ms and max_ips_per_domain must be positive");
        }
        if (Privacy.KAnonymity < 2)
        {
            // k = 1 would release what a single device asked: exactly what the threshold exists to hide.
            Fail($"privacy.k_anonymity must be at least 2 (is {Privacy.KAnonymity}): one device alone must never make a domain count");
        }
        if (Privacy.WindowMinutes < 1 || Privacy.MaxTrackedDomains < 1)
        {
            Fail("privacy.window_minutes and max_tracked_domains must be at least 1");
        }
        if (Privacy.Ipv6DevicePrefix is < 32 or > 128)
        {
            Fail("privacy.ipv6_device_prefix must be between 32 and 128");
        }
        if (ParsedDomainPolicy == Dns.DomainPolicy.Hashed && (Privacy.HmacKey is null || Privacy.HmacKey.Length < 16))
        {
            Fail("privacy.domain_policy hashed needs privacy.hmac_key of at least 16 characters");
        }
        if (Suspicion.Threshold is < 0 or > 1)
        {
            Fail("suspicion.threshold must be between 0 and 1");
        }
        _ = ParsedAllowedPrefixes();
    }
}

public enum DomainPolicy
{
    Plain,
    Hashed,
    None,
}
