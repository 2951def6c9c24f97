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
        ["CYBERWATCH_DNS_STREAM"] = "CyberWatch:DnsStream",
        ["CYBERWATCH_CLUSTER_ID"] = "CyberWatch:ClusterId",
        ["CYBERWATCH_SERVICE_ID"] = "CyberWatch:ServiceId",
        ["CYBERWATCH_VANTAGE"] = "CyberWatch:Vantage",
        ["CYBERWATCH_VANTAGE_DOWN_AFTER_SECONDS"] = "CyberWatch:Vantages:DownAfterSeconds",
        ["CYBERWATCH_VANTAGE_LEASE_SECONDS"] = "CyberWatch:Vantages:LeaseSeconds",
        ["CYBERWATCH_SILO_PORT"] = "CyberWatch:SiloPort",
        ["CYBERWATCH_GATEWAY_PORT"] = "CyberWatch:GatewayPort",
        ["CYBERWATCH_ADVERTISED_ADDRESS"] = "CyberWatch:AdvertisedAddress",
        ["CYBERWATCH_SILO_HTTP"] = "CyberWatch:SiloHttpUrl",
        ["CYBERWATCH_TLS_CA"] = "CyberWatch:Tls:Ca",
        ["CYBERWATCH_TLS_CERT"] = "CyberWatch:Tls:Certificate",
        ["CYBERWATCH_TLS_KEY"] = "CyberWatch:Tls:Key",
        ["CYBERWATCH_SCAMPER"] = "CyberWatch:ScamperPath",
        ["CYBERWATCH_SCAMPER_SOCKET"] = "CyberWatch:ScamperSocket",
        ["CYBERWATCH_ALLOWED_TARGETS"] = "CyberWatch:AllowedTargetPrefixes",
        ["CYBERWATCH_PREFIX_DATA"] = "CyberWatch:PrefixData",
        ["CYBERWATCH_OWN_ADDRESSES"] = "CyberWatch:OwnAddresses",
        ["CYBERWATCH_IXP_PREFIXES"] = "CyberWatch:IxpPrefixes",
        ["CYBERWATCH_IXP_MEMBERS"] = "CyberWatch:IxpMembers",
        ["CYBERWATCH_TOPOLOGY_CATCH_UP_AFTER_SECONDS"] = "CyberWatch:Topology:CatchUpAfterSeconds",
        ["CYBERWATCH_TOPOLOGY_CATCH_UP_INTERVAL_SECONDS"] = "CyberWatch:Topology:CatchUpIntervalSeconds",
        ["CYBERWATCH_AS_RELATIONSHIPS_INTERVAL_SECONDS"] = "CyberWatch:Topology:Relationships:IntervalSeconds",
        ["CYBERWATCH_CYMRU_ENABLED"] = "CyberWatch:Online:CymruEnabled",
        ["CYBERWATCH_CYMRU_WHOIS"] = "CyberWatch:Online:CymruWhois",
        ["CYBERWATCH_CYMRU_DNS_ENABLED"] = "CyberWatch:Online:CymruDnsEnabled",
        ["CYBERWATCH_CYMRU_DNS_SERVER"] = "CyberWatch:Online:CymruDnsServer",
        ["CYBERWATCH_CYMRU_DNS_ZONE"] = "CyberWatch:Online:CymruDnsZone",
        ["CYBERWATCH_CYMRU_RATE_PER_MINUTE"] = "CyberWatch:Online:CymruRatePerMinute",
        ["CYBERWATCH_PEERINGDB_ENABLED"] = "CyberWatch:Online:PeeringDbEnabled",
        ["CYBERWATCH_PEERINGDB_URL"] = "CyberWatch:Online:PeeringDbUrl",
        ["CYBERWATCH_PEERINGDB_API_KEY"] = "CyberWatch:Online:PeeringDbApiKey",
        ["CYBERWATCH_PEERINGDB_RATE_PER_MINUTE"] = "CyberWatch:Online:PeeringDbRatePerMinute",
        ["CYBERWATCH_PEERINGDB_IXP_SYNC"] = "CyberWatch:Online:PeeringDbIxpSync",
        ["CYBERWATCH_RIPESTAT_ENABLED"] = "CyberWatch:Online:RipeStatEnabled",
        ["CYBERWATCH_RIPESTAT_URL"] = "CyberWatch:Online:RipeStatUrl",
        ["CYBERWATCH_RIPESTAT_SOURCEAPP"] = "CyberWatch:Online:RipeStatSourceApp",
        ["CYBERWATCH_RIPESTAT_RATE_PER_MINUTE"] = "CyberWatch:Online:RipeStatRatePerMinute",
        ["CYBERWATCH_IPAPI_ENABLED"] = "CyberWatch:Online:IpApiEnabled",
        ["CYBERWATCH_IPAPI_URL"] = "CyberWatch:Online:IpApiUrl",
        ["CYBERWATCH_IPAPI_KEY"] = "CyberWatch:Online:IpApiKey",
        ["CYBERWATCH_IPAPI_RATE_PER_MINUTE"] = "CyberWatch:Online:IpApiRatePerMinute",
        ["CYBERWATCH_IPINFO_ENABLED"] = "CyberWatch:Online:IpInfoEnabled",
        ["CYBERWATCH_IPINFO_URL"] = "CyberWatch:Online:IpInfoUrl",
        ["CYBERWATCH_IPINFO_TOKEN"] = "CyberWatch:Online:IpInfoToken",
        ["CYBERWATCH_IPINFO_RATE_PER_MINUTE"] = "CyberWatch:Online:IpInfoRatePerMinute",
        ["CYBERWATCH_ONLINE_TTL_HOURS"] = "CyberWatch:Online:TtlHours",
        ["CYBERWATCH_ONLINE_TIMEOUT_SECONDS"] = "CyberWatch:Online:TimeoutSeconds",
        ["CYBERWATCH_ONLINE_RETRIES"] = "CyberWatch:Online:Retries",
        ["CYBERWATCH_RDNS_ENABLED"] = "CyberWatch:HopNames:Enabled",
        ["CYBERWATCH_RDNS_SERVER"] = "CyberWatch:HopNames:Server",
        ["CYBERWATCH_RDNS_RATE_PER_SECOND"] = "CyberWatch:HopNames:RatePerSecond",
        ["CYBERWATCH_RDNS_CONCURRENCY"] = "CyberWatch:HopNames:Concurrency",
        ["CYBERWATCH_RDNS_TIMEOUT_SECONDS"] = "CyberWatch:HopNames:TimeoutSeconds",
        ["CYBERWATCH_RDNS_POLL_SECONDS"] = "CyberWatch:HopNames:PollSeconds",
        ["CYBERWATCH_RDNS_NEGATIVE_TTL_SECONDS"] = "CyberWatch:HopNames:NegativeTtlSeconds",
        ["CYBERWATCH_RDNS_RETRY_SECONDS"] = "CyberWatch:HopNames:RetrySeconds",
        ["CYBERWATCH_ALERT_WEBHOOKS"] = "CyberWatch:IncidentAlerts:Webhooks",
        ["CYBERWATCH_ALERT_EXTERNAL_URL"] = "CyberWatch:IncidentAlerts:ExternalUrl",
        ["CYBERWATCH_ALERT_POLL_SECONDS"] = "CyberWatch:IncidentAlerts:PollSeconds",
        ["CYBERWATCH_ALERT_RETRIES"] = "CyberWatch:IncidentAlerts:Retries",
        ["CYBERWATCH_ALERT_RETRY_DELAY_SECONDS"] = "CyberWatch:IncidentAlerts:RetryDelaySeconds",
        ["CYBERWATCH_ALERT_TIMEOUT_SECONDS"] = "CyberWatch:IncidentAlerts:TimeoutSeconds",
        ["CYBERWATCH_ALERT_LOOKBACK_HOURS"] = "CyberWatch:IncidentAlerts:LookbackHours",
        ["CYBERWATCH_ALERTMANAGERS"] = "CyberWatch:IncidentAlerts:Alertmanagers",
        ["CYBERWATCH_GEOIP_DB"] = "CyberWatch:Geo:Database",
        ["CYBERWATCH_VANTAGE_LOCATIONS"] = "CyberWatch:Geo:VantageLocations",
        ["CYBERWATCH_AGENT_URL"] = "Agent:Url",
        ["CYBERWATCH_AGENT_KEY"] = "Agent:Key",
        ["CYBERWATCH_AGENT_KEY_FILE"] = "Agent:KeyFile",
        ["CYBERWATCH_AGENT_NAME"] = "Agent:Name",
        ["CYBERWATCH_AGENT_BUFFER"] = "Agent:BufferDirectory",
        ["CYBERWATCH_AGENT_BUFFER_MB"] = "Agent:BufferMegabytes",
        ["CYBERWATCH_AGENT_CA"] = "Agent:CaFile",
        ["CYBERWATCH_API_URL"] = "Api:Url",
        ["CYBERWATCH_API_ANONYMOUS_ROLE"] = "Api:AnonymousRole",
        ["CYBERWATCH_API_PROBE_RATE_PER_MINUTE"] = "Api:ProbeRequestsPerMinute",
        ["CYBERWATCH_API_MAX_CONCURRENT_PROBES"] = "Api:MaxConcurrentProbes",
        ["CYBERWATCH_API_CORS_ORIGINS"] = "Api:CorsOrigins",
        ["CYBERWATCH_API_READ_RATE_PER_MINUTE"] = "Api:ReadRequestsPerMinute",
        ["CYBERWATCH_API_READ_BURST"] = "Api:ReadBurst",
        ["CYBERWATCH_API_EXPORT_TIMEOUT_SECONDS"] = "Api:ExportTimeoutSeconds",
        ["CYBERWATCH_API_ALLOWED_HOSTS"] = "Api:AllowedHosts",
        ["CYBERWATCH_API_TRUSTED_PROXIES"] = "Api:TrustedProxies",
        ["CYBERWATCH_API_TLS_CERT"] = "Api:TlsCertificate",
        ["CYBERWATCH_API_TLS_KEY"] = "Api:TlsKey",
        ["CYBERWATCH_LOG_LEVEL"] = "Logging:LogLevel:Default",
        ["CYBERWATCH_LOG_FILE"] = "Logging:File",
        ["CYBERWATCH_LOG_MAX_BYTES"] = "Logging:MaxBytes",
        ["CYBERWATCH_LOG_RETAINED_FILES"] = "Logging:RetainedFiles",
        ["CYBERWATCH_LOG_COMPONENT"] = "Logging:Component",
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
