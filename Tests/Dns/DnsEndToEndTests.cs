using System.Net.Http.Json;
using System.Text.Json;
using CyberWatch.Dns;
using CyberWatch.Tests.Infrastructure;
using StackExchange.Redis;

namespace CyberWatch.Tests.Dns;

/// <summary>
/// The whole path with real processes: a query log read by <c>dns-collect</c>, resolved against a local
/// DNS server, handed through the real Redis to a real silo whose target grains accept the addresses
/// (127.0.0.0/8, allowed for the test), the tables served by the real API. No client address may appear
/// in the stream, the tables or any process's output.
/// </summary>
public sealed class DnsEndToEndTests : IAsyncLifetime
{
    private static readonly string[] Clients = ["10.66.0.21", "10.66.0.22", "10.66.0.23"];
    private readonly string directory = Directory.CreateTempSubdirectory("cw-dns-e2e-").FullName;
    private readonly string stream = TestRedis.NewStream();
    private readonly FakeDnsServer dns = new();
    private ConnectionMultiplexer redis = null!;
    private TestDatabase db = null!;
    private NodeProcess? silo;
    private NodeProcess? api;

    public async ValueTask InitializeAsync()
    {
        redis = await TestRedis.ConnectAsync();
        db = await TestDatabase.CreateAsync();
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
        if (redis is not null)
        {
            await redis.GetDatabase().KeyDeleteAsync([stream, DnsStream.DeadLetters(stream)]);
            await redis.DisposeAsync();
        }
        if (db is not null)
        {
            await db.DisposeAsync();
        }
        dns.Dispose();
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task Queries_in_the_log_become_dns_targets_once_without_any_client_address_leaving_the_collector()
    {
        var redisUrl = Environment.GetEnvironmentVariable(TestRedis.Variable)!;
        var node = new NodeEnvironment(db.ConnectionString, "cw-" + Guid.NewGuid().ToString("n")[..8]);
        var siloEnvironment = node.Silo(out _, out _, out var siloHttp);
        siloEnvironment["CYBERWATCH_ALLOWED_TARGETS"] = "127.0.0.0/8";
        siloEnvironment["CYBERWATCH_REDIS_URL"] = redisUrl;
        siloEnvironment["CYBERWATCH_DNS_STREAM"] = stream;
        siloEnvironment["CYBERWATCH_LOG_LEVEL"] = "Debug";
        silo = NodeProcess.Start(Repository.SiloDll, siloEnvironment, "run");
        await silo.WaitForHttpAsync($"{siloHttp}/healthz", TimeSpan.FromSeconds(90));

        dns.Add("web.lab.example", "127.0.0.61", "127.0.0.62", "10.1.1.1");
        dns.Add("lonely.lab.example", "127.0.0.63");
        var log = Path.Combine(directory, "dnsmasq.log");
        var lines = new List<string>();
        var stamp = DateTime.Now.ToString("MMM dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
        foreach (var client in Clients)
        {
            lines.Add($"{stamp} dnsmasq[812]: query[A] web.lab.example from {client}");
            lines.Add($"{stamp} dnsmasq[812]: reply web.lab.example is 127.0.0.61");
            lines.Add($"{stamp} dnsmasq[812]: query[A] ads.lab.example from {client}");
            lines.Add($"{stamp} dnsmasq[812]: gravity blocked ads.lab.example is 0.0.0.0");
        }
        lines.Add($"{stamp} dnsmasq[812]: query[A] lonely.lab.example from {Clients[0]}");
        await File.WriteAllLinesAsync(log, lines);
        var config = Path.Combine(directory, "dns.yaml");
        await File.WriteAllTextAsync(config, $"""
            source: logfile
            state_dir: {directory}/state
            logfile:
              path: {log}
            dns_resolution:
              servers: ["{dns.EndPoint}"]
              allowed_prefixes: [127.0.0.0/8]
            redis:
              stream: {stream}
            """);
        var collectorEnvironment = new Dictionary<string, string?> { ["CYBERWATCH_REDIS_URL"] = redisUrl, ["CYBERWATCH_LOG_LEVEL"] = "Debug" };
        await using var collector = NodeProcess.Start(Repository.SiloDll, collectorEnvironment, "dns-collect", "--config", config, "--once");
        var (exit, collectorOutput) = await collector.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, collectorOutput);

        // Targets are accepted before the entry's DNS tables are written: wait for both.
        await WaitAsync(async () => await db.ScalarAsync<long>("SELECT count(*) FROM targets WHERE 'dns' = ANY(sources)") == 2
            && await db.ScalarAsync<long>("SELECT count(*) FROM dns_targets WHERE domain_key = 'web.lab.example'") == 2
            && await db.ScalarAsync<long>("SELECT count(*) FROM dns_queries") > 0, silo, collectorOutput);
        Assert.Equal(["127.0.0.61", "127.0.0.62"], await Column("SELECT host(ip) FROM dns_targets WHERE domain_key = 'web.lab.example' ORDER BY ip"));
        Assert.Equal(3, await db.ScalarAsync<long>("SELECT query_count FROM dns_queries WHERE domain_key = 'web.lab.example'"));
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT count(*) FROM dns_queries WHERE domain_key <> 'web.lab.example'"));
        await WaitAsync(async () => (await redis.GetDatabase().StreamPendingAsync(stream, DnsStream.ConsumerGroup)).PendingMessageCount == 0, silo);

        // The same entries again (a replay after a crash) change nothing.
        var entries = await redis.GetDatabase().StreamRangeAsync(stream);
        Assert.Equal(2, entries.Length);
        foreach (var entry in entries)
        {
            await redis.GetDatabase().StreamAddAsync(stream, entry.Values);
        }
        await WaitAsync(async () =>
        {
            var info = await redis.GetDatabase().StreamGroupInfoAsync(stream);
            return info.Single(g => g.Name == DnsStream.ConsumerGroup) is { PendingMessageCount: 0 } group && group.LastDeliveredId == (await redis.GetDatabase().StreamInfoAsync(stream)).LastGeneratedId;
        }, silo);
        Assert.Equal(3, await db.ScalarAsync<long>("SELECT query_count FROM dns_queries WHERE domain_key = 'web.lab.example'"));
        Assert.Equal(1, await db.ScalarAsync<long>("SELECT resolve_count FROM dns_targets WHERE ip = '127.0.0.61'"));

        // The API serves the tables.
        var apiEnvironment = node.Api(out var apiUrl, redisUrl);
        api = NodeProcess.Start(Repository.ApiDll, apiEnvironment);
        await api.WaitForHttpAsync($"{apiUrl}/ready", TimeSpan.FromSeconds(90));
        using var http = new HttpClient { BaseAddress = new Uri(apiUrl) };
        var top = await http.GetFromJsonAsync<JsonElement>("/dns/top-domains?since=2000-01-01T00:00:00Z&limit=5");
        Assert.Equal("web.lab.example", top[0].GetProperty("domain").GetString());
        Assert.Equal(3, top[0].GetProperty("queries").GetInt64());
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await http.GetAsync("/dns/top-domains?limit=0")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync("/dns/top-asns")).StatusCode);

        // Privacy: no client address in the stream, any table, or any output.
        var everything = new List<string> { collectorOutput, silo.Output, api.Output };
        everything.AddRange(entries.SelectMany(e => e.Values).Select(v => v.Value.ToString()));
        everything.AddRange(await Column("SELECT row_to_json(q)::text FROM dns_queries q"));
        everything.AddRange(await Column("SELECT row_to_json(t)::text FROM dns_targets t"));
        everything.AddRange(await Column("SELECT row_to_json(t)::text FROM targets t"));
        everything.AddRange(Directory.EnumerateFiles(Path.Combine(directory, "state"), "*", SearchOption.AllDirectories).Select(File.ReadAllText));
        foreach (var client in Clients)
        {
            Assert.DoesNotContain(everything, text => text.Contains(client, StringComparison.Ordinal));
        }
        Assert.Contains("web.lab.example", string.Join('\n', everything)); // the scan does see what was stored
    }

    private async Task<List<string>> Column(string sql)
    {
        var values = new List<string>();
        await using var command = db.DataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetString(0));
        }
        return values;
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, NodeProcess process, string? collectorOutput = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(45);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"condition not met within 45 s; collector output:\n{collectorOutput}\nsilo output:\n{process.Output}");
            await Task.Delay(250);
        }
    }
}
