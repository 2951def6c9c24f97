using System.Net.Http.Headers;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Api;

/// <summary>
/// One silo and API for the API tests, allowed to probe 127.0.0.0/8, with callers without a key refused
/// (anonymous role none). <see cref="Http"/> sends an admin key; <see cref="Client"/> makes clients with other keys.
/// </summary>
public class ApiNode : IAsyncLifetime
{
    private NodeProcess silo = null!;
    private NodeProcess api = null!;
    private readonly List<HttpClient> clients = [];

    public TestDatabase Database { get; private set; } = null!;
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromMinutes(2) };
    public string Url { get; private set; } = "";
    /// <summary>Where the silo serves /metrics.</summary>
    public string SiloHttp { get; private set; } = "";
    public string AdminKey { get; private set; } = "";
    public string ProbeKey { get; private set; } = "";
    public string ReadKey { get; private set; } = "";
    public NodeProcess ApiProcess => api;
    public NodeProcess SiloProcess => silo;

    /// <summary>Extra API environment of a derived fixture (rate limits, ...).</summary>
    protected virtual void Configure(Dictionary<string, string?> apiEnvironment)
    {
    }

    public async ValueTask InitializeAsync()
    {
        if (Environment.UserName != "root" || !File.Exists("/usr/bin/scamper"))
        {
            Assert.Skip("needs root and scamper (raw sockets) to probe");
        }
        Database = await TestDatabase.CreateAsync();
        await Database.ScalarAsync<object>("""
            UPDATE settings SET value = value || '{"rate_limit_per_minute": 6000, "per_prefix_interval_seconds": 0,
                "target_cooldown_seconds": 30}'::jsonb WHERE key = 'worker_settings'
            """);
        AdminKey = await ApiKeys.CreateAsync(Database.ConnectionString, "admin");
        ProbeKey = await ApiKeys.CreateAsync(Database.ConnectionString, "probe");
        ReadKey = await ApiKeys.CreateAsync(Database.ConnectionString, "read");
        var node = new NodeEnvironment(Database.ConnectionString, "cw-" + Guid.NewGuid().ToString("n")[..8]);
        var siloEnvironment = node.Silo(out _, out _, out var siloHttp);
        siloEnvironment["CYBERWATCH_ALLOWED_TARGETS"] = "127.0.0.0/8";
        silo = NodeProcess.Start(Repository.SiloDll, siloEnvironment, "run");
        await silo.WaitForHttpAsync($"{siloHttp}/healthz", TimeSpan.FromSeconds(90));
        SiloHttp = siloHttp;
        var apiEnvironment = node.Api(out var url);
        apiEnvironment["CYBERWATCH_ALLOWED_TARGETS"] = "127.0.0.0/8";
        apiEnvironment["CYBERWATCH_API_ANONYMOUS_ROLE"] = "none";
        Configure(apiEnvironment);
        api = NodeProcess.Start(Repository.ApiDll, apiEnvironment);
        Url = url;
        Http.BaseAddress = new Uri(url);
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        await api.WaitForHttpAsync($"{url}/ready", TimeSpan.FromSeconds(90));
    }

    /// <summary>A client sending <paramref name="key"/> (none when null).</summary>
    public HttpClient Client(string? key)
    {
        var client = new HttpClient { BaseAddress = new Uri(Url), Timeout = TimeSpan.FromMinutes(2) };
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        clients.Add(client);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        if (api is not null)
        {
            await api.DisposeAsync();
        }
        if (silo is not null)
        {
            await silo.DisposeAsync();
        }
        if (Database is not null)
        {
            await Database.DisposeAsync();
        }
        foreach (var client in clients)
        {
            client.Dispose();
        }
        Http.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>API keys made the way an operator makes them: the API executable's <c>apikey create</c> command.</summary>
public static class ApiKeys
{
    public static async Task<string> CreateAsync(string connectionString, string role)
    {
        var environment = new Dictionary<string, string?> { ["CYBERWATCH_PG_DSN"] = connectionString };
        await using var command = NodeProcess.Start(Repository.ApiDll, environment, "apikey", "create", "--role", role, "--name", "test");
        var (exitCode, output) = await command.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(exitCode == 0, output);
        var key = output.Trim().Split('\n')[^1].Trim();
        Assert.StartsWith("cw_", key);
        return key;
    }
}
