namespace CyberWatch.Tests.Infrastructure;

/// <summary>Environment for a silo or API process of a test cluster on free ports.</summary>
public sealed record NodeEnvironment(string ConnectionString, string ClusterId)
{
    public Dictionary<string, string?> Silo(out int siloPort, out int gatewayPort, out string httpUrl)
    {
        siloPort = Repository.FreeTcpPort();
        gatewayPort = Repository.FreeTcpPort();
        httpUrl = $"http://127.0.0.1:{Repository.FreeTcpPort()}";
        return new Dictionary<string, string?>
        {
            ["CYBERWATCH_PG_DSN"] = ConnectionString,
            ["CYBERWATCH_CLUSTER_ID"] = ClusterId,
            ["CYBERWATCH_SERVICE_ID"] = ClusterId,
            ["CYBERWATCH_SILO_PORT"] = siloPort.ToString(),
            ["CYBERWATCH_GATEWAY_PORT"] = gatewayPort.ToString(),
            ["CYBERWATCH_SILO_HTTP"] = httpUrl,
            ["CYBERWATCH_LOG_LEVEL"] = "Information",
        };
    }

    public Dictionary<string, string?> Api(out string url, string? redisUrl = null)
    {
        url = $"http://127.0.0.1:{Repository.FreeTcpPort()}";
        return new Dictionary<string, string?>
        {
            ["CYBERWATCH_PG_DSN"] = ConnectionString,
            ["CYBERWATCH_CLUSTER_ID"] = ClusterId,
            ["CYBERWATCH_SERVICE_ID"] = ClusterId,
            ["CYBERWATCH_API_URL"] = url,
            ["CYBERWATCH_REDIS_URL"] = redisUrl ?? Environment.GetEnvironmentVariable("CYBERWATCH_TEST_REDIS_URL") ?? "127.0.0.1:1",
            // Tests of other features call the API without keys; Tests/Api checks the keys themselves.
            ["CYBERWATCH_API_ANONYMOUS_ROLE"] = "admin",
            // Tests poll the API from one address; the read limit has tests of its own (Tests/Api/ReadLimitTests.cs).
            ["CYBERWATCH_API_READ_RATE_PER_MINUTE"] = "100000",
            ["CYBERWATCH_API_READ_BURST"] = "10000",
        };
    }
}
