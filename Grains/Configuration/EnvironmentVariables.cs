using Microsoft.Extensions.Configuration;

namespace CyberWatch.Configuration;

/// <summary>
/// Maps the environment variable names operators know (CYBERWATCH_PG_DSN, NEO4J_URI, ...) onto the
/// <see cref="CyberWatchOptions"/> keys, so both appsettings.json and the environment configure the node.
/// </summary>
public static class EnvironmentVariables
{
    public static readonly IReadOnlyDictionary<string, string> Map = new Dictionary<string, string>
    {
        ["CYBERWATCH_PG_DSN"] = "CyberWatch:PostgresDsn",
        ["CYBERWATCH_REDIS_URL"] = "CyberWatch:RedisUrl",
        ["CYBERWATCH_CLUSTER_ID"] = "CyberWatch:ClusterId",
        ["CYBERWATCH_SERVICE_ID"] = "CyberWatch:ServiceId",
        ["CYBERWATCH_VANTAGE"] = "CyberWatch:Vantage",
        ["CYBERWATCH_SILO_PORT"] = "CyberWatch:SiloPort",
        ["CYBERWATCH_GATEWAY_PORT"] = "CyberWatch:GatewayPort",
        ["CYBERWATCH_ADVERTISED_ADDRESS"] = "CyberWatch:AdvertisedAddress",
        ["CYBERWATCH_SILO_HTTP"] = "CyberWatch:SiloHttpUrl",
        ["CYBERWATCH_SCAMPER"] = "CyberWatch:ScamperPath",
        ["CYBERWATCH_ALLOWED_TARGETS"] = "CyberWatch:AllowedTargetPrefixes",
        ["CYBERWATCH_PREFIX_DATA"] = "CyberWatch:PrefixData",
        ["CYBERWATCH_OWN_ADDRESSES"] = "CyberWatch:OwnAddresses",
        ["CYBERWATCH_IXP_PREFIXES"] = "CyberWatch:IxpPrefixes",
        ["CYBERWATCH_API_URL"] = "Api:Url",
        ["CYBERWATCH_API_ANONYMOUS_ROLE"] = "Api:AnonymousRole",
        ["CYBERWATCH_API_PROBE_RATE_PER_MINUTE"] = "Api:ProbeRequestsPerMinute",
        ["CYBERWATCH_API_MAX_CONCURRENT_PROBES"] = "Api:MaxConcurrentProbes",
        ["CYBERWATCH_API_CORS_ORIGINS"] = "Api:CorsOrigins",
        ["CYBERWATCH_LOG_LEVEL"] = "Logging:LogLevel:Default",
        ["NEO4J_URI"] = "CyberWatch:Neo4jUri",
        ["NEO4J_USER"] = "CyberWatch:Neo4jUser",
        ["NEO4J_PASSWORD"] = "CyberWatch:Neo4jPassword",
    };

    /// <summary>Adds the mapped variables last, so they override appsettings.json.</summary>
    public static IConfigurationBuilder AddCyberWatchEnvironment(this IConfigurationBuilder builder)
    {
        var values = new Dictionary<string, string?>();
        foreach (var (variable, key) in Map)
        {
            var value = Environment.GetEnvironmentVariable(variable);
            if (!string.IsNullOrEmpty(value))
            {
                values[key] = variable == "CYBERWATCH_LOG_LEVEL" ? NormalizeLevel(value) : value;
            }
        }
        return builder.AddInMemoryCollection(values);
    }

    private static string NormalizeLevel(string level) => level.Trim().ToUpperInvariant() switch
    {
        "DEBUG" => "Debug",
        "TRACE" => "Trace",
        "INFO" or "INFORMATION" => "Information",
        "WARN" or "WARNING" => "Warning",
        "ERROR" => "Error",
        "CRITICAL" or "FATAL" => "Critical",
        _ => level,
    };
}
