namespace CyberWatch.WebApi.Access;

/// <summary>The <c>Api</c> section: who may do what, and how much.</summary>
public sealed class ApiAccessOptions
{
    public const string Section = "Api";

    /// <summary>Role of callers without a key (CYBERWATCH_API_ANONYMOUS_ROLE): none, read; probe and admin only on loopback.</summary>
    public string AnonymousRole { get; set; } = "none";

    /// <summary>On-demand probes one client (key, or address without one) may start per minute.</summary>
    public int ProbeRequestsPerMinute { get; set; } = 10;

    /// <summary>On-demand probes running at once, all clients together; more are refused with 503.</summary>
    public int MaxConcurrentProbes { get; set; } = 4;

    /// <summary>
    /// How long the last result of an on-demand probe may answer the same probe (tool, method, target) asked while the
    /// node would not probe it again (target cooldown, all slots busy).
    /// </summary>
    public int ProbeResultCacheSeconds { get; set; } = 60;

    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Reads (GET and HEAD) one client (key, or address without one; IPv6 addresses by /64) may make per minute,
    /// refilled evenly; more are answered 429 with Retry-After.
    /// </summary>
    public int ReadRequestsPerMinute { get; set; } = 600;

    /// <summary>Reads a client may make at once before the per-minute rate applies (the bucket's size).</summary>
    public int ReadBurst { get; set; } = 120;

    /// <summary>
    /// How long one export may run, slow readers included; then its connection is closed, which frees its
    /// PostgreSQL connection. A client runs one export at a time.
    /// </summary>
    public int ExportTimeoutSeconds { get; set; } = 120;

    /// <summary>
    /// Host names (and addresses) requests may carry in their Host header, separated by ',' or ';' (CYBERWATCH_API_ALLOWED_HOSTS);
    /// empty: the loopback names and the address the API is bound to.
    /// </summary>
    public string AllowedHosts { get; set; } = "";

    /// <summary>
    /// Addresses or prefixes of reverse proxies in front of the API (CYBERWATCH_API_TRUSTED_PROXIES); only their
    /// X-Forwarded-For/-Proto are believed. Empty: forwarded headers are ignored.
    /// </summary>
    public string TrustedProxies { get; set; } = "";

    /// <summary>PEM certificate the API serves HTTPS with (CYBERWATCH_API_TLS_CERT); unset: the node's cluster certificate, if any.</summary>
    public string TlsCertificate { get; set; } = "";

    /// <summary>Its unencrypted PEM private key (CYBERWATCH_API_TLS_KEY).</summary>
    public string TlsKey { get; set; } = "";

    /// <summary>Origins allowed to call the API from a browser (comma-separated); empty: CORS off.</summary>
    public string CorsOrigins { get; set; } = "";

    /// <summary>Why these options cannot work (empty when they can); the API refuses to start otherwise.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (ReadRequestsPerMinute < 1)
        {
            problems.Add($"CYBERWATCH_API_READ_RATE_PER_MINUTE must be at least 1 (is {ReadRequestsPerMinute})");
        }
        if (ReadBurst < 1)
        {
            problems.Add($"CYBERWATCH_API_READ_BURST must be at least 1 (is {ReadBurst})");
        }
        if (ExportTimeoutSeconds < 1)
        {
            problems.Add($"CYBERWATCH_API_EXPORT_TIMEOUT_SECONDS must be at least 1 (is {ExportTimeoutSeconds})");
        }
        return problems;
    }

    public ApiRole Anonymous => ApiRoles.TryParse(AnonymousRole, out var role)
        ? role
        : throw new Configuration.ConfigurationException($"CYBERWATCH_API_ANONYMOUS_ROLE '{AnonymousRole}' is not one of none, read, probe, dns, admin");
}
