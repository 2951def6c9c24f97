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

    /// <summary>Origins allowed to call the API from a browser (comma-separated); empty: CORS off.</summary>
    public string CorsOrigins { get; set; } = "";

    public ApiRole Anonymous => ApiRoles.TryParse(AnonymousRole, out var role)
        ? role
        : throw new Configuration.ConfigurationException($"CYBERWATCH_API_ANONYMOUS_ROLE '{AnonymousRole}' is not one of none, read, probe, admin");
}
