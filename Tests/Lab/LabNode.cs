using System.Diagnostics;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Lab;

/// <summary>A cyberWatch silo and API running inside the lab's vantage namespace, on a test database.</summary>
public sealed class LabNode : IAsyncDisposable
{
    private LabNode(TestDatabase database, NodeProcess silo, NodeProcess api, string apiUrl)
    {
        Database = database;
        Silo = silo;
        Api = api;
        ApiUrl = apiUrl;
    }

    public TestDatabase Database { get; }
    public NodeProcess Silo { get; }
    public NodeProcess Api { get; }

    /// <summary>The API's URL inside the vantage namespace (reach it with <see cref="LabFixture.CurlAsync"/>).</summary>
    public string ApiUrl { get; }

    /// <summary>Starts a node whose settings were first adjusted by <paramref name="settingsSql"/>; <paramref name="overrides"/> wins over its environment.</summary>
    public static async Task<LabNode> StartAsync(LabFixture lab, string settingsSql, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var database = await TestDatabase.CreateAsync();
        await database.ScalarAsync<object>(settingsSql);
        var clusterId = "lab-" + Guid.NewGuid().ToString("n")[..8];
        // Ports are free in the vantage namespace's own port space; random ones keep runs apart.
        var siloPort = Random.Shared.Next(20000, 29000);
        var environment = new Dictionary<string, string?>
        {
            ["CYBERWATCH_PG_DSN"] = database.ConnectionString,
            ["CYBERWATCH_CLUSTER_ID"] = clusterId,
            ["CYBERWATCH_SERVICE_ID"] = clusterId,
            ["CYBERWATCH_SILO_PORT"] = siloPort.ToString(),
            ["CYBERWATCH_GATEWAY_PORT"] = (siloPort + 1).ToString(),
            ["CYBERWATCH_SILO_HTTP"] = $"http://127.0.0.1:{siloPort + 2}",
            ["CYBERWATCH_API_URL"] = $"http://127.0.0.1:{siloPort + 3}",
            ["CYBERWATCH_PREFIX_DATA"] = lab.PrefixFile,
            ["CYBERWATCH_VANTAGE"] = "lab-vantage",
            // Its own stream: a collector feeding the shared Redis must not lose entries to a test silo.
            ["CYBERWATCH_DNS_STREAM"] = $"cyberwatch:dns:{clusterId}",
            ["CYBERWATCH_REDIS_URL"] = Environment.GetEnvironmentVariable("CYBERWATCH_TEST_REDIS_URL") ?? "127.0.0.1:1",
            ["CYBERWATCH_API_ANONYMOUS_ROLE"] = "admin",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            environment[key] = value;
        }
        var silo = NodeProcess.StartIn(LabFixture.Vantage, Repository.SiloDll, environment, "run");
        await WaitUntilAsync(async () => await database.ScalarAsync<long>(
            $"SELECT count(*) FROM orleans_membership WHERE deploymentid = '{clusterId}' AND status = 3") == 1,
            TimeSpan.FromSeconds(90), () => silo.Output);
        var api = NodeProcess.StartIn(LabFixture.Vantage, Repository.ApiDll, environment);
        var apiUrl = $"http://127.0.0.1:{siloPort + 3}";
        await WaitUntilAsync(async () => (await LabFixture.CurlAsync("GET", $"{apiUrl}/ready")).Status == 200,
            TimeSpan.FromSeconds(90), () => api.Output);
        return new LabNode(database, silo, api, apiUrl);
    }

    public Task<(int Status, string Body)> PostAsync(string path, string json) => LabFixture.CurlAsync("POST", ApiUrl + path, json);

    public Task<(int Status, string Body)> GetAsync(string path) => LabFixture.CurlAsync("GET", ApiUrl + path);

    /// <summary>The silo's scamper process (its control socket is named after the silo's pid).</summary>
    public int? ScamperProcessId()
    {
        var socket = $"cyberwatch-scamper-{Silo.ProcessId}.sock";
        foreach (var process in Process.GetProcessesByName("scamper"))
        {
            var commandLine = File.ReadAllText($"/proc/{process.Id}/cmdline").Replace('\0', ' ');
            if (commandLine.Contains(socket, StringComparison.Ordinal))
            {
                return process.Id;
            }
        }
        return null;
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string>? context = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"condition not met within {timeout}\n{context?.Invoke()}");
            }
            await Task.Delay(500);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Api.DisposeAsync();
        await Silo.DisposeAsync();
        await Database.DisposeAsync();
    }
}
