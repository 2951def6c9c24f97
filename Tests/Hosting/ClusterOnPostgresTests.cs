using System.Net;
using System.Text.Json;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Hosting;

/// <summary>Real silo and API processes, clustered through the real PostgreSQL.</summary>
public sealed class ClusterOnPostgresTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Second_silo_with_other_ports_joins_the_cluster_and_the_api_sees_both()
    {
        await using var db = await TestDatabase.CreateAsync();
        var node = new NodeEnvironment(db.ConnectionString, "cw-" + Guid.NewGuid().ToString("n")[..8]);

        await using var first = NodeProcess.Start(Repository.SiloDll, node.Silo(out _, out _, out var firstHttp));
        await first.WaitForHttpAsync($"{firstHttp}/healthz", StartTimeout);
        await using var second = NodeProcess.Start(Repository.SiloDll, node.Silo(out _, out _, out var secondHttp));
        await second.WaitForHttpAsync($"{secondHttp}/healthz", StartTimeout);

        await WaitUntilAsync(async () => await db.ScalarAsync<long>(
            $"SELECT count(*) FROM orleans_membership WHERE deploymentid = '{node.ClusterId}' AND status = 3") == 2, StartTimeout);

        await using var api = NodeProcess.Start(Repository.ApiDll, node.Api(out var apiUrl));
        using var http = new HttpClient();
        JsonElement info = default;
        await WaitUntilAsync(async () =>
        {
            try
            {
                info = JsonDocument.Parse(await http.GetStringAsync($"{apiUrl}/service-info")).RootElement;
                return info.GetProperty("siloCount").GetInt32() == 2;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, StartTimeout);
        Assert.Equal("cyberWatch", info.GetProperty("name").GetString());
        Assert.Equal(node.ClusterId, info.GetProperty("clusterId").GetString());

        // A silo that leaves cleanly is marked dead, and the cluster carries on with one.
        await second.StopAsync();
        Assert.Equal(0, second.ExitCode);
        await WaitUntilAsync(async () => await db.ScalarAsync<long>(
            $"SELECT count(*) FROM orleans_membership WHERE deploymentid = '{node.ClusterId}' AND status = 3") == 1, StartTimeout);
    }

    [Fact]
    public async Task Health_lists_every_check_with_its_status()
    {
        await using var db = await TestDatabase.CreateAsync();
        var node = new NodeEnvironment(db.ConnectionString, "cw-" + Guid.NewGuid().ToString("n")[..8]);
        await using var silo = NodeProcess.Start(Repository.SiloDll, node.Silo(out _, out _, out var siloHttp));
        await silo.WaitForHttpAsync($"{siloHttp}/healthz", StartTimeout);
        await using var api = NodeProcess.Start(Repository.ApiDll, node.Api(out var apiUrl));

        using var http = new HttpClient();
        JsonElement health = default;
        HttpStatusCode status = default;
        await WaitUntilAsync(async () =>
        {
            try
            {
                using var response = await http.GetAsync($"{apiUrl}/health");
                status = response.StatusCode;
                health = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
                return health.GetProperty("checks").GetProperty("cluster").GetProperty("status").GetString() == "Healthy";
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, StartTimeout);

        var checks = health.GetProperty("checks");
        Assert.Equal(["cluster", "postgresql", "redis", "scamper"], checks.EnumerateObject().Select(c => c.Name).Order());
        Assert.Equal("Healthy", checks.GetProperty("postgresql").GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, status);
        var redisUrl = Environment.GetEnvironmentVariable("CYBERWATCH_TEST_REDIS_URL");
        if (redisUrl is not null)
        {
            Assert.Equal("Healthy", checks.GetProperty("redis").GetProperty("status").GetString());
        }

        using var ready = await http.GetAsync($"{apiUrl}/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var openApi = JsonDocument.Parse(await http.GetStringAsync($"{apiUrl}/openapi/v1.json")).RootElement;
        Assert.True(openApi.GetProperty("paths").TryGetProperty("/service-info", out _));
        using var dashboard = await http.GetAsync($"{apiUrl}/dashboard/");
        Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
        using var docs = await http.GetAsync($"{apiUrl}/docs/");
        Assert.Equal(HttpStatusCode.OK, docs.StatusCode);
    }

    [Fact]
    public async Task Api_without_a_silo_answers_health_with_the_cluster_unhealthy()
    {
        await using var db = await TestDatabase.CreateAsync();
        var node = new NodeEnvironment(db.ConnectionString, "cw-" + Guid.NewGuid().ToString("n")[..8]);
        await using var api = NodeProcess.Start(Repository.ApiDll, node.Api(out var apiUrl));

        using var http = new HttpClient();
        HttpResponseMessage? response = null;
        await WaitUntilAsync(async () =>
        {
            try
            {
                response = await http.GetAsync($"{apiUrl}/health");
                return true;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, StartTimeout);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response!.StatusCode);
        var health = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("Unhealthy", health.GetProperty("checks").GetProperty("cluster").GetProperty("status").GetString());
        Assert.Equal("Healthy", health.GetProperty("checks").GetProperty("postgresql").GetProperty("status").GetString());
    }

    internal static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"condition not met within {timeout}");
            }
            await Task.Delay(250);
        }
    }
}
