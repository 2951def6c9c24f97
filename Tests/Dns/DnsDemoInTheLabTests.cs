using System.Diagnostics;
using CyberWatch.Dns;
using CyberWatch.Tests.Infrastructure;
using Npgsql;
using StackExchange.Redis;

namespace CyberWatch.Tests.Dns;

/// <summary>
/// <c>scripts/lab dns-demo</c> for real: dnsmasq with its query log, a lab authoritative dnsmasq, dig
/// from three client namespaces, <c>dns-collect</c> in the resolver's namespace, and a silo there that
/// turns the stream into targets and measures them. Then tables, stream, state and logs are scanned
/// for the clients' addresses. Needs root, dnsmasq and dig, and Redis and PostgreSQL on Unix sockets
/// (reachable from a namespace).
/// </summary>
public sealed class DnsDemoInTheLabTests : IAsyncLifetime
{
    private static readonly string[] Clients = ["10.53.1.2", "10.53.2.2", "10.53.3.2"];
    private readonly string stream = TestRedis.NewStream();
    private readonly Dictionary<string, string?> scriptEnvironment = new();
    private ConnectionMultiplexer? redis;
    private TestDatabase? db;
    private NodeProcess? silo;
    private bool demoUp;

    private static string ResolverNamespace()
    {
        var topology = Environment.GetEnvironmentVariable("CYBERWATCH_LAB_TOPOLOGY") is { Length: > 0 } custom
            ? custom
            : Path.Combine(Repository.Root, "scripts", "lab.d", "topology.json");
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(topology));
        return json.RootElement.GetProperty("namespace_prefix").GetString()!.TrimEnd('-') + "dns-res";
    }

    public async ValueTask InitializeAsync()
    {
        if (Environment.UserName != "root")
        {
            Assert.Skip("the DNS demo needs root for network namespaces");
        }
        if (!File.Exists("/usr/sbin/dnsmasq") || !File.Exists("/usr/bin/dig"))
        {
            Assert.Skip("the DNS demo needs dnsmasq (dnsmasq-base) and dig (dnsutils)");
        }
        var redisUrl = Environment.GetEnvironmentVariable(TestRedis.Variable);
        if (redisUrl is null || !redisUrl.StartsWith("unix://", StringComparison.Ordinal))
        {
            Assert.Skip($"{TestRedis.Variable} must be a unix:// socket for the collector and silo in a namespace to reach it");
        }
        if (!new NpgsqlConnectionStringBuilder(TestDatabase.AdminConnectionString()).Host!.StartsWith('/'))
        {
            Assert.Skip($"{TestDatabase.Variable} must name a Unix socket directory for a silo in a namespace to reach it");
        }
        redis = await TestRedis.ConnectAsync();
        db = await TestDatabase.CreateAsync();
        scriptEnvironment["CYBERWATCH_REDIS_URL"] = redisUrl;
        scriptEnvironment["CYBERWATCH_DNS_STREAM"] = stream;
        scriptEnvironment["CYBERWATCH_SILO_DLL"] = Repository.SiloDll;
    }

    public async ValueTask DisposeAsync()
    {
        if (silo is not null)
        {
            await silo.DisposeAsync();
        }
        if (demoUp)
        {
            await DemoAsync("down");
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
    }

    [Fact]
    public async Task Lab_queries_become_measured_targets_and_no_client_address_is_stored_or_logged()
    {
        var up = await DemoAsync("up");
        demoUp = true;
        Assert.True(up.ExitCode == 0, up.Output);

        var clusterId = "dns-" + Guid.NewGuid().ToString("n")[..8];
        var siloPort = Random.Shared.Next(20000, 29000);
        silo = NodeProcess.StartIn(ResolverNamespace(), Repository.SiloDll, new Dictionary<string, string?>
        {
            ["CYBERWATCH_PG_DSN"] = db!.ConnectionString,
            ["CYBERWATCH_CLUSTER_ID"] = clusterId,
            ["CYBERWATCH_SERVICE_ID"] = clusterId,
            ["CYBERWATCH_SILO_PORT"] = siloPort.ToString(),
            ["CYBERWATCH_GATEWAY_PORT"] = (siloPort + 1).ToString(),
            ["CYBERWATCH_SILO_HTTP"] = $"http://127.0.0.1:{siloPort + 2}",
            ["CYBERWATCH_VANTAGE"] = "dns-demo",
            ["CYBERWATCH_ALLOWED_TARGETS"] = "10.77.0.0/16,fd77::/64",
            ["CYBERWATCH_REDIS_URL"] = scriptEnvironment["CYBERWATCH_REDIS_URL"],
            ["CYBERWATCH_DNS_STREAM"] = stream,
            ["CYBERWATCH_LOG_LEVEL"] = "Debug",
        }, "run");
        await WaitAsync(async () => await db.ScalarAsync<long>(
            $"SELECT count(*) FROM orleans_membership WHERE deploymentid = '{clusterId}' AND status = 3") == 1, TimeSpan.FromSeconds(90));

        var query = await DemoAsync("query");
        Assert.True(query.ExitCode == 0, query.Output);
        var collect = await DemoAsync("collect");
        Assert.True(collect.ExitCode == 0, collect.Output);

        // Asked by 3 and by 2 clients: targets, measured by the silo in the resolver's namespace.
        await WaitAsync(async () => await db.ScalarAsync<long>("SELECT count(*) FROM targets WHERE 'dns' = ANY(sources)") == 3, TimeSpan.FromSeconds(60));
        // The targets are accepted before the entry's DNS tables are written (one transaction after it): wait for those too.
        await WaitAsync(async () => await db.ScalarAsync<long>("SELECT count(*) FROM dns_targets") == 3, TimeSpan.FromSeconds(30));
        Assert.Equal(["10.77.1.10", "10.77.2.10", "fd77::10"], await Column("SELECT host(ip) FROM dns_targets ORDER BY ip"));
        await WaitAsync(async () => await db.ScalarAsync<long>("SELECT count(*) FROM measurements WHERE target = '10.77.1.10'") >= 1, TimeSpan.FromSeconds(90));

        var counted = await Column("SELECT domain_key || ' ' || qtype || ' ' || query_count FROM dns_queries ORDER BY 1");
        Assert.Equal(["api.lab.example A 2", "private.lab.example A 3", "www.lab.example A 3", "www.lab.example AAAA 1", "xj4k9q2vz8m1w7p3.lab.example A 3"], counted);
        // Machine-made name: counted with its score, not resolved; private answer: counted, no target;
        // secret and nope (one client each), ads (blocked), the reverse and .lan queries: nowhere.
        Assert.True(await db.ScalarAsync<float>("SELECT suspicion_score FROM dns_queries WHERE domain_key LIKE 'xj4k%'") >= 0.7f);
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT count(*) FROM dns_targets WHERE domain_key NOT IN ('www.lab.example', 'api.lab.example')"));

        // Privacy: the clients' addresses are nowhere but in dnsmasq's own log.
        var everything = new List<string> { collect.Output, silo.Output };
        everything.AddRange((await redis!.GetDatabase().StreamRangeAsync(stream)).SelectMany(e => e.Values).Select(v => v.Value.ToString()));
        foreach (var table in new[] { "dns_queries", "dns_targets", "dns_handoff_applied", "targets", "measurements", "hops" })
        {
            everything.AddRange(await Column($"SELECT row_to_json(t)::text FROM {table} t"));
        }
        var stateDirectory = Path.Combine(Repository.Root, ".data", "lab-dns", "state");
        everything.AddRange(Directory.EnumerateFiles(stateDirectory, "*", SearchOption.AllDirectories).Select(File.ReadAllText));
        Assert.Contains(everything, text => text.Contains("www.lab.example", StringComparison.Ordinal));
        foreach (var client in Clients)
        {
            Assert.DoesNotContain(everything, text => text.Contains(client, StringComparison.Ordinal));
        }
        var dnsmasqLog = await File.ReadAllTextAsync(Path.Combine(Repository.Root, ".data", "lab-dns", "dnsmasq.log"));
        Assert.All(Clients, client => Assert.Contains($"from {client}", dnsmasqLog)); // the scan looked for the right strings
    }

    private async Task<(int ExitCode, string Output)> DemoAsync(string command)
    {
        var start = new ProcessStartInfo(Path.Combine(Repository.Root, "scripts", "lab"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Repository.Root,
        };
        start.ArgumentList.Add("dns-demo");
        start.ArgumentList.Add(command);
        foreach (var (key, value) in scriptEnvironment)
        {
            start.Environment[key] = value;
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    private async Task<List<string>> Column(string sql)
    {
        var values = new List<string>();
        await using var command = db!.DataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetString(0));
        }
        return values;
    }

    private async Task WaitAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"condition not met within {timeout}; silo output:\n{silo?.Output}");
            await Task.Delay(500);
        }
    }
}
