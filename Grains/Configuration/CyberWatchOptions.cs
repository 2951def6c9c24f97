namespace CyberWatch.Configuration;

/// <summary>Node configuration, bound from the <c>CyberWatch</c> section (appsettings.json, then environment).</summary>
public sealed class CyberWatchOptions
{
    public const string Section = "CyberWatch";

    /// <summary>PostgreSQL connection: an Npgsql connection string or a postgresql:// URI.</summary>
    public string? PostgresDsn { get; set; }

    /// <summary>Redis for the DNS handoff, e.g. <c>127.0.0.1:6379</c>, <c>redis://:pw@host:6379</c> or a Unix socket path.</summary>
    public string? RedisUrl { get; set; }

    /// <summary>The Redis stream the DNS collector appends to and the silos read (CYBERWATCH_DNS_STREAM).</summary>
    public string DnsStream { get; set; } = "cyberwatch:dns";

    public string ClusterId { get; set; } = "cyberwatch";
    public string ServiceId { get; set; } = "cyberwatch";

    /// <summary>Name of this vantage point as stored with every measurement.</summary>
    public string Vantage { get; set; } = Environment.MachineName;

    public int SiloPort { get; set; } = 11111;
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Address other silos and clients use to reach this silo.</summary>
    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    /// <summary>Where the silo serves /metrics and /healthz.</summary>
    public string SiloHttpUrl { get; set; } = "http://127.0.0.1:8001";

    public string? Neo4jUri { get; set; }
    public string? Neo4jUser { get; set; }
    public string? Neo4jPassword { get; set; }

    /// <summary>
    /// Prefixes that may be probed although they are special (private, CGNAT, ...): a lab, or an
    /// operator's own network. Comma-separated in CYBERWATCH_ALLOWED_TARGETS.
    /// </summary>
    public string AllowedTargetPrefixes { get; set; } = "";

    /// <summary>
    /// Prefix-to-origin data files (pyasn .dat[.gz], pfx2as, ip2asn TSV, MRT RIB dumps), separated by
    /// commas or colons (CYBERWATCH_PREFIX_DATA). Reloaded when a file changes.
    /// </summary>
    public string PrefixData { get; set; } = "";

    /// <summary>This node's own addresses or prefixes, never probed and classed as "own" in hops (CYBERWATCH_OWN_ADDRESSES).</summary>
    public string OwnAddresses { get; set; } = "";

    /// <summary>Path or name of the scamper binary.</summary>
    public string ScamperPath { get; set; } = "scamper";

    /// <summary>
    /// Control socket of a scamper daemon to attach to instead of starting scamper (CYBERWATCH_SCAMPER_SOCKET);
    /// the installed node's silo has no privilege to start Debian's setuid scamper, so cyberwatch-scamper runs it.
    /// </summary>
    public string ScamperSocket { get; set; } = "";
}
