using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using CyberWatch.Agents;
using CyberWatch.Tests.Api;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Agents;

/// <summary>
/// A silo of vantage "north", an API, and a remote agent of vantage "remote" (the real CyberWatch.Agent process with
/// scamper), all on this machine, probing 127.0.0.0/8. What is tested is the agent's plumbing: work under the
/// schedule, results stored as a silo's, on demand, no listening socket, the API going away and coming back, kill -9,
/// refusals and revocation. That paths differ behind NAT is the lab's to test.
/// </summary>
public sealed class AgentsOnLoopbackTests : IAsyncLifetime
{
    private readonly List<NodeProcess> processes = [];
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromMinutes(3) };
    private NodeEnvironment environment = null!;
    private TestDatabase db = null!;
    private Dictionary<string, string?> apiEnvironment = null!;
    private NodeProcess api = null!;
    private string apiUrl = "";
    private string agentKey = "";
    private string buffer = "";

    public async ValueTask InitializeAsync()
    {
        if (Environment.UserName != "root" || !File.Exists("/usr/bin/scamper"))
        {
            Assert.Skip("needs root and scamper (raw sockets) to probe");
        }
        db = await TestDatabase.CreateAsync();
        await db.ScalarAsync<object>("""
            UPDATE settings SET value = value || '{"rate_limit_per_minute": 6000, "per_prefix_interval_seconds": 0,
                "target_cooldown_seconds": 0, "hop_feedback_enabled": false}'::jsonb WHERE key = 'worker_settings';
            UPDATE settings SET value = value || '{"asn_expansion_enabled": false}'::jsonb WHERE key = 'enrichment_settings'
            """);
        environment = new NodeEnvironment(db.ConnectionString, "ag-" + Guid.NewGuid().ToString("n")[..8]);
        agentKey = await CreateAgentKeyAsync("remote");
        buffer = Directory.CreateTempSubdirectory("cw-agent-buffer-").FullName;
    }

    /// <summary>A silo of vantage "north" and the API, both given <paramref name="cluster"/> on top of the test defaults.</summary>
    private async Task StartClusterAsync(IReadOnlyDictionary<string, string?>? cluster = null)
    {
        var silo = environment.Silo(out _, out _, out var siloHttp);
        silo["CYBERWATCH_ALLOWED_TARGETS"] = "127.0.0.0/8";
        silo["CYBERWATCH_VANTAGE"] = "north";
        apiEnvironment = environment.Api(out apiUrl);
        apiEnvironment["CYBERWATCH_ALLOWED_TARGETS"] = "127.0.0.0/8";
        apiEnvironment["CYBERWATCH_VANTAGE"] = "north";
        foreach (var (key, value) in cluster ?? new Dictionary<string, string?>())
        {
            silo[key] = value;
            apiEnvironment[key] = value;
        }
        processes.Add(NodeProcess.Start(Repository.SiloDll, silo, "run"));
        await processes[^1].WaitForHttpAsync($"{siloHttp}/healthz", TimeSpan.FromSeconds(90));
        await StartApiAsync();
        http.BaseAddress = new Uri(apiUrl);
    }

    /// <summary>One more silo in the cluster, of <paramref name="vantage"/>.</summary>
    private async Task StartSiloAsync(string vantage)
    {
        var silo = environment.Silo(out _, out _, out var siloHttp);
        silo["CYBERWATCH_ALLOWED_TARGETS"] = "127.0.0.0/8";
        silo["CYBERWATCH_VANTAGE"] = vantage;
        processes.Add(NodeProcess.Start(Repository.SiloDll, silo, "run"));
        await processes[^1].WaitForHttpAsync($"{siloHttp}/healthz", TimeSpan.FromSeconds(90));
    }

    private async Task StartApiAsync()
    {
        api = NodeProcess.Start(Repository.ApiDll, apiEnvironment);
        processes.Add(api);
        await api.WaitForHttpAsync($"{apiUrl}/ready", TimeSpan.FromSeconds(90));
    }

    private async Task<string> CreateAgentKeyAsync(string vantage)
    {
        var command = NodeProcess.Start(Repository.ApiDll, new Dictionary<string, string?> { ["CYBERWATCH_PG_DSN"] = db.ConnectionString },
            "apikey", "create", "--role", "agent", "--vantage", vantage, "--name", "test agent");
        await using (command)
        {
            var (exitCode, output) = await command.WaitForExitAsync(TimeSpan.FromSeconds(60));
            Assert.True(exitCode == 0, output);
            return output.Trim().Split('\n')[^1].Trim();
        }
    }

    private NodeProcess StartAgent(string? key = null, string vantage = "remote", string? bufferDirectory = null)
    {
        var agent = NodeProcess.Start(Repository.AgentDll, new Dictionary<string, string?>
        {
            ["CYBERWATCH_AGENT_URL"] = apiUrl,
            ["CYBERWATCH_AGENT_KEY"] = key ?? agentKey,
            ["CYBERWATCH_VANTAGE"] = vantage,
            ["CYBERWATCH_AGENT_NAME"] = "loopback",
            ["CYBERWATCH_AGENT_BUFFER"] = bufferDirectory ?? buffer,
            ["CYBERWATCH_LOG_LEVEL"] = "Information",
        });
        processes.Add(agent);
        return agent;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in Enumerable.Reverse(processes))
        {
            await process.DisposeAsync();
        }
        if (db is not null)
        {
            await db.DisposeAsync();
        }
        if (buffer.Length > 0)
        {
            Directory.Delete(buffer, recursive: true);
        }
        http.Dispose();
    }

    private async Task WaitAsync(string what, Func<Task<bool>> condition, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        var deadline = DateTime.UtcNow + limit;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"not within {limit.TotalSeconds} s: {what}\n"
                + string.Join("\n---\n", processes.Select(p => p.Output[^Math.Min(4000, p.Output.Length)..])));
            await Task.Delay(250);
        }
    }

    private Task<long> CountAsync(string sql) => db.ScalarAsync<long>(sql);

    private async Task<string?> StatusAsync(string vantage)
    {
        var response = await http.GetAsync($"/vantages/{vantage}");
        return response.IsSuccessStatusCode ? (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString() : null;
    }

    [Fact]
    public async Task An_agent_measures_its_vantages_pairs_as_a_silo_would_answers_on_demand_and_opens_no_listening_socket()
    {
        await StartClusterAsync();
        var agent = StartAgent();
        await WaitAsync("the agent's vantage up", async () => await StatusAsync("remote") == "up");
        var remote = await http.GetFromJsonAsync<JsonElement>("/vantages/remote");
        Assert.Equal("agent/loopback", remote.GetProperty("silos")[0].GetProperty("silo").GetString());

        var targets = Enumerable.Range(1, 20).Select(i => $"127.0.2.{i}").ToArray();
        var enqueued = await http.PostAsJsonAsync("/targets/enqueue", new { targets });
        Assert.True(enqueued.StatusCode == HttpStatusCode.OK,
            $"enqueue: {(int)enqueued.StatusCode} {await enqueued.Content.ReadAsStringAsync()}\n{string.Join('\n', api.Output.Split('\n').TakeLast(30))}");
        await WaitAsync("every target measured from both vantages", async () =>
            await CountAsync("SELECT count(DISTINCT (target, vantage)) FROM measurements WHERE target << '127.0.2.0/24'") == 40,
            TimeSpan.FromSeconds(120));
        // Each pair once, the agent's stored as a silo's: parsed scamper output, hops, the pair's next due time, a delivery.
        Assert.Equal(40, await CountAsync("SELECT count(*) FROM measurements WHERE target << '127.0.2.0/24'"));
        Assert.Equal(20, await CountAsync(
            "SELECT count(*) FROM measurements WHERE target << '127.0.2.0/24' AND vantage = 'remote' AND tool = 'scamper' AND success AND raw_format = 'json'"));
        Assert.Equal(20, await CountAsync("""
            SELECT count(DISTINCT m.id) FROM measurements m JOIN hops h ON h.measurement_id = m.id
             WHERE m.target << '127.0.2.0/24' AND m.vantage = 'remote'
            """));
        Assert.Equal(20, await CountAsync("""
            SELECT count(*) FROM agent_deliveries d JOIN measurements m ON m.id = d.measurement_id
             WHERE m.target << '127.0.2.0/24' AND d.vantage = 'remote'
            """));
        await WaitAsync("the agent's pairs due a day on", async () => await CountAsync("""
            SELECT count(*) FROM target_vantages WHERE ip << '127.0.2.0/24' AND vantage = 'remote'
               AND next_due_at > now() + interval '20 hours' AND last_measurement_id IS NOT NULL
            """) == 20);
        var target = await http.GetFromJsonAsync<JsonElement>("/targets/127.0.2.1");
        Assert.Contains(target.GetProperty("perVantage").EnumerateArray(), v => v.GetProperty("vantage").GetString() == "remote");

        // On demand "from" the agent's vantage: the agent probes, the answer is the stored measurement.
        var onDemand = await http.PostAsJsonAsync("/traceroute/run", new { target = "127.0.3.1", vantages = new[] { "remote", "north" } });
        var body = await onDemand.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(onDemand.StatusCode == HttpStatusCode.OK, body.ToString());
        foreach (var result in body.GetProperty("results").EnumerateArray())
        {
            Assert.True(result.GetProperty("status").GetInt32() == 200, result.ToString());
            Assert.Equal(result.GetProperty("vantage").GetString(), result.GetProperty("measurement").GetProperty("vantage").GetString());
        }

        // Its sockets: the link it opened and its scamper control socket; nothing listening, no UDP socket.
        var listening = ListeningSockets(agent.ProcessId);
        Assert.True(listening.Count == 0, $"the agent listens: {string.Join(", ", listening)}");
        Assert.True(EstablishedTcpSockets(agent.ProcessId) >= 1, "the agent has no connection open to the API");
    }

    [Fact]
    public async Task Results_measured_while_the_API_is_away_or_after_a_kill_9_are_stored_once_each_when_it_is_back()
    {
        await StartClusterAsync();
        await db.ScalarAsync<object>("""
            UPDATE settings SET value = value || '{"rate_limit_per_minute": 60}'::jsonb WHERE key = 'worker_settings'
            """);
        var agent = StartAgent();
        await WaitAsync("the agent's vantage up", async () => await StatusAsync("remote") == "up");
        var targets = Enumerable.Range(1, 30).Select(i => $"127.0.4.{i}").ToArray();
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsJsonAsync("/targets/enqueue", new { targets, vantages = new[] { "remote" } })).StatusCode);
        await WaitAsync("the agent measured a few", async () =>
            await CountAsync("SELECT count(*) FROM measurements WHERE target << '127.0.4.0/24'") >= 3);

        // The API goes away (the agent's link with it) while the agent holds leased work: it measures on, into its buffer.
        var offlineAt = Stopwatch.StartNew();
        api.Kill();
        await Task.Delay(TimeSpan.FromSeconds(12));
        var buffered = Directory.GetFiles(buffer, "*.json").Length;
        Assert.True(buffered > 0, "nothing was buffered while the API was away:\n" + agent.Output);

        // kill -9 of the agent with results on disk: they are delivered by the next agent process.
        agent.Kill();
        var kept = Directory.GetFiles(buffer, "*.json").Length;
        await StartApiAsync();
        var restarted = StartAgent();
        await WaitAsync("the buffer delivered", async () => Directory.GetFiles(buffer, "*.json").Length == 0, TimeSpan.FromSeconds(60));
        var reconnected = offlineAt.Elapsed;
        var stored = await CountAsync("SELECT count(*) FROM measurements WHERE target << '127.0.4.0/24'");
        Assert.Equal(stored, await CountAsync("SELECT count(DISTINCT target) FROM measurements WHERE target << '127.0.4.0/24'"));
        Assert.Equal(stored, await CountAsync("""
            SELECT count(*) FROM agent_deliveries d JOIN measurements m ON m.id = d.measurement_id WHERE m.target << '127.0.4.0/24'
            """));
        Report($"offline buffer: {buffered} result(s) buffered after 12 s offline, {kept} on disk at kill -9, " +
            $"{stored} stored, each once; delivered {reconnected.TotalSeconds:0.0} s after the API went away");
        Assert.True(restarted.Output.Contains("result(s) buffered to deliver"), restarted.Output);
    }

    [Fact]
    public async Task Pairs_leased_to_an_agent_killed_with_kill_9_come_due_after_the_lease_and_are_measured_once_each()
    {
        // The configured lease and down threshold, short so the test takes a minute instead of ten (defaults 600 s, 60 s).
        const int leaseSeconds = 30, downAfterSeconds = 10;
        await StartClusterAsync(new Dictionary<string, string?>
        {
            ["CYBERWATCH_VANTAGE_LEASE_SECONDS"] = $"{leaseSeconds}",
            ["CYBERWATCH_VANTAGE_DOWN_AFTER_SECONDS"] = $"{downAfterSeconds}",
        });
        // 2 a second: the agent takes all 30 pairs at once (its queue holds two minutes) and is killed with most still queued.
        await db.ScalarAsync<object>("""
            UPDATE settings SET value = value || '{"rate_limit_per_minute": 120}'::jsonb WHERE key = 'worker_settings'
            """);
        var agent = StartAgent();
        await WaitAsync("the agent's vantage up", async () => await StatusAsync("remote") == "up");
        var targets = Enumerable.Range(1, 30).Select(i => $"127.0.5.{i}").ToArray();
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsJsonAsync("/targets/enqueue", new { targets, vantages = new[] { "remote" } })).StatusCode);
        await WaitAsync("the agent measured a few", async () =>
            await CountAsync("SELECT count(*) FROM measurements WHERE target << '127.0.5.0/24'") >= 3);
        agent.Kill();
        var killedAt = DateTime.UtcNow;
        var buffered = Directory.GetFiles(buffer, "*.json").Length;
        // Results the agent sent just before it died are still on their way through the API: counted once they have landed
        // (the CI run counted 3 stored and 22 leased while 5 were in flight).
        var storedBefore = -1L;
        for (var now = await CountAsync("SELECT count(*) FROM measurements WHERE target << '127.0.5.0/24'"); now != storedBefore;
             now = await CountAsync("SELECT count(*) FROM measurements WHERE target << '127.0.5.0/24'"))
        {
            storedBefore = now;
            await Task.Delay(TimeSpan.FromSeconds(2));
        }
        // Every pair not stored yet is leased to the dead agent: due again at the end of its lease, not before.
        var leasedUntil = await db.ScalarAsync<DateTime>("""
            SELECT max(next_due_at) FROM target_vantages WHERE ip << '127.0.5.0/24' AND vantage = 'remote' AND last_measurement_id IS NULL
            """);
        var leased = await CountAsync("""
            SELECT count(*) FROM target_vantages WHERE ip << '127.0.5.0/24' AND vantage = 'remote' AND last_measurement_id IS NULL
               AND next_due_at > now()
            """);
        Assert.True(leased >= targets.Length - storedBefore - buffered, $"{leased} pair(s) leased, {storedBefore} stored, {buffered} buffered");

        // Down the configured threshold after its last heartbeat, not before.
        var lastHeartbeat = await db.ScalarAsync<DateTime>("SELECT last_heartbeat FROM vantage_silos WHERE silo = 'agent/loopback'");
        await WaitAsync("the killed agent's vantage down", async () => await StatusAsync("remote") == "down", TimeSpan.FromSeconds(downAfterSeconds + 20));
        var downAfter = DateTime.UtcNow - lastHeartbeat;
        Assert.True(downAfter >= TimeSpan.FromSeconds(downAfterSeconds - 0.5) && downAfter <= TimeSpan.FromSeconds(downAfterSeconds + 4),
            $"down {downAfter.TotalSeconds:0.0} s after the last heartbeat, threshold {downAfterSeconds} s");

        // The agent back (its buffer too): the buffered results are delivered, the leased pairs wait for their lease.
        var restarted = StartAgent();
        await WaitAsync("the buffer delivered", async () => Directory.GetFiles(buffer, "*.json").Length == 0 && !restarted.HasExited);
        var beforeLease = leasedUntil - DateTime.UtcNow;
        if (beforeLease > TimeSpan.FromSeconds(3))
        {
            await Task.Delay(beforeLease - TimeSpan.FromSeconds(2));
            Assert.Equal(0, await CountAsync($"""
                SELECT count(*) FROM measurements WHERE target << '127.0.5.0/24' AND started_at > '{killedAt:O}'::timestamptz
                """));
        }
        await WaitAsync("every pair measured", async () =>
            await CountAsync("SELECT count(DISTINCT target) FROM measurements WHERE target << '127.0.5.0/24'") == targets.Length,
            TimeSpan.FromSeconds(leaseSeconds + 60));
        await Task.Delay(TimeSpan.FromSeconds(2)); // a second copy of a result, were there one, would be stored by now
        var stored = await CountAsync("SELECT count(*) FROM measurements WHERE target << '127.0.5.0/24'");
        var afterLease = await CountAsync($"SELECT count(*) FROM measurements WHERE target << '127.0.5.0/24' AND started_at >= '{leasedUntil:O}'::timestamptz - interval '1 second'");
        Assert.Equal(targets.Length, stored);
        Assert.Equal(stored, await CountAsync("""
            SELECT count(*) FROM agent_deliveries d JOIN measurements m ON m.id = d.measurement_id WHERE m.target << '127.0.5.0/24'
            """));
        Assert.True(afterLease >= leased - buffered, $"{afterLease} measured after the lease, {leased} were leased and {buffered} buffered");
        Report($"kill -9 with {storedBefore} stored, {buffered} buffered, {leased} leased (lease {leaseSeconds} s): " +
            $"down {downAfter.TotalSeconds:0.0} s after the last heartbeat; {afterLease} measured after the lease; {stored} stored, each once");
    }

    /// <summary>
    /// Seconds over which the rates are counted: 20 in the suite; the issue's 60 s with CYBERWATCH_TEST_RATE_WINDOW_SECONDS=60
    /// (docs/agents.md has the figures of such a run).
    /// </summary>
    private static int RateWindowSeconds =>
        int.TryParse(Environment.GetEnvironmentVariable("CYBERWATCH_TEST_RATE_WINDOW_SECONDS"), out var seconds) && seconds >= 10 ? seconds : 20;

    /// <remarks>
    /// Minutes, not seconds: two silos, the API and three agents must start (on a shared, loaded machine most of the
    /// 4 minutes of its first passing run), then 5 s of warm-up, the window and 8 s for the last results to be stored.
    /// </remarks>
    [Fact]
    public async Task Three_agents_and_two_silos_each_probe_at_their_own_vantages_rate_limit_within_5_percent()
    {
        // Each vantage point its own pace (worker_settings.vantages); the probers of two silo vantages and three agent vantages
        // at once, all saturated (every target is due from every vantage), counted from the stored rows.
        var rates = new Dictionary<string, int> { ["north"] = 180, ["south"] = 300, ["agent-a"] = 120, ["agent-b"] = 240, ["agent-c"] = 360 };
        var window = RateWindowSeconds;
        // No ping series: a silo's rounds (20 pings per target every 5 minutes) share its scamper's packet budget with its
        // traces; with 1,000 targets they held the silos' traces to 40-60 % of their rate (agents run none).
        await db.ScalarAsync<object>($$"""
            UPDATE settings SET value = value || '{"max_concurrent_traceroutes": 8, "vantages": {{System.Text.Json.JsonSerializer.Serialize(
                rates.ToDictionary(r => r.Key, r => new Dictionary<string, int> { ["rate_limit_per_minute"] = r.Value }))}}}'::jsonb
             WHERE key = 'worker_settings';
            UPDATE settings SET value = value || '{"enabled": false}'::jsonb WHERE key = 'ping_settings'
            """);
        var south = StartSiloAsync("south");
        await StartClusterAsync();
        await south;
        var agents = new List<NodeProcess>();
        foreach (var vantage in rates.Keys.Where(v => v.StartsWith("agent-", StringComparison.Ordinal)))
        {
            var key = await CreateAgentKeyAsync(vantage);
            agents.Add(StartAgent(key, vantage, Directory.CreateTempSubdirectory($"cw-agent-{vantage}-").FullName));
        }
        foreach (var vantage in rates.Keys)
        {
            await WaitAsync($"{vantage} up", async () => await StatusAsync(vantage) == "up");
        }
        // More targets than the fastest vantage probes in the window and its two minutes of queue: none runs dry.
        var targets = Enumerable.Range(0, 1000).Select(i => $"127.6.{i / 250}.{i % 250 + 1}").ToArray();
        foreach (var chunk in targets.Chunk(500))
        {
            Assert.Equal(HttpStatusCode.OK, (await http.PostAsJsonAsync("/targets/enqueue", new { targets = chunk, vantages = rates.Keys.ToArray() })).StatusCode);
        }
        await WaitAsync("every vantage probing", async () =>
            await CountAsync("SELECT count(DISTINCT vantage) FROM measurements WHERE target << '127.6.0.0/16'") == rates.Count,
            TimeSpan.FromSeconds(90));
        // The first seconds (the first work handed out, the token bucket's first token) are not counted.
        await Task.Delay(TimeSpan.FromSeconds(5));
        var from = await db.ScalarAsync<DateTime>("SELECT now()");
        await Task.Delay(TimeSpan.FromSeconds(window + 8)); // and what started in the window is stored (agents: delivered) by then
        var counted = new Dictionary<string, long>();
        var report = new List<string>();
        foreach (var (vantage, rate) in rates)
        {
            counted[vantage] = await CountAsync($"""
                SELECT count(*) FROM measurements WHERE target << '127.6.0.0/16' AND vantage = '{vantage}'
                   AND started_at >= '{from:O}'::timestamptz AND started_at < '{from:O}'::timestamptz + interval '{window} seconds'
                """);
            var perMinute = counted[vantage] * 60.0 / window;
            report.Add($"{vantage} {perMinute:0.0}/min of {rate} ({(perMinute / rate - 1) * 100:+0.0;-0.0}%)");
        }
        Report($"probes started per vantage over {window} s: {string.Join(", ", report)}");
        foreach (var (vantage, rate) in rates)
        {
            var expected = rate * window / 60.0;
            Assert.True(Math.Abs(counted[vantage] - expected) <= expected * 0.05 + 1,
                $"{vantage}: {counted[vantage]} probes started in {window} s, {expected:0} at {rate}/min (±5%): {string.Join(", ", report)}");
        }
        // Paced, not doubled: no pair was handed out twice on the way.
        Assert.Equal(0, await CountAsync("""
            SELECT count(*) FROM (SELECT 1 FROM measurements WHERE target << '127.6.0.0/16' GROUP BY target, vantage HAVING count(*) > 1) twice
            """));
    }

    [Fact]
    public async Task A_wrong_key_vantage_or_protocol_is_refused_in_one_line_and_a_revoked_key_disconnects_the_agent_within_10_s()
    {
        await StartClusterAsync();
        var wrongKey = StartAgent(key: "cw_abcdefgh_nottherightsecretatall");
        var (code, output) = await wrongKey.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(3, code);
        Assert.Contains("cyberwatch agent: refused by", output);
        Assert.Contains("unknown, revoked, or not an agent key", output);

        var wrongVantage = StartAgent(vantage: "elsewhere");
        (code, output) = await wrongVantage.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(3, code);
        Assert.Contains("bound to vantage point 'remote', not 'elsewhere'", output);

        using (var socket = new ClientWebSocket())
        {
            socket.Options.CollectHttpResponseDetails = true;
            socket.Options.SetRequestHeader("Authorization", "Bearer " + agentKey);
            socket.Options.SetRequestHeader(AgentProtocol.VersionHeader, "99");
            socket.Options.SetRequestHeader(AgentProtocol.VantageHeader, "remote");
            socket.Options.SetRequestHeader(AgentProtocol.AgentHeader, "future");
            await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(new Uri(apiUrl.Replace("http", "ws") + AgentProtocol.Path), CancellationToken.None));
            Assert.Equal(HttpStatusCode.BadRequest, socket.HttpStatusCode);
            Assert.Contains("speaks protocol version 99; this API speaks version 1", string.Join(" ", socket.HttpResponseHeaders![AgentProtocol.RefusalHeader]));
        }

        // An agent key opens nothing else of the API.
        using (var request = new HttpRequestMessage(HttpMethod.Get, "/vantages"))
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", agentKey);
            Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(request)).StatusCode);
        }

        var agent = StartAgent();
        await WaitAsync("the agent's vantage up", async () => await StatusAsync("remote") == "up");
        var id = agentKey[3..11];
        var revoke = NodeProcess.Start(Repository.ApiDll, new Dictionary<string, string?> { ["CYBERWATCH_PG_DSN"] = db.ConnectionString }, "apikey", "revoke", id);
        await using (revoke)
        {
            Assert.Equal(0, (await revoke.WaitForExitAsync(TimeSpan.FromSeconds(60))).ExitCode);
        }
        var revokedAt = Stopwatch.StartNew();
        (code, output) = await agent.WaitForExitAsync(TimeSpan.FromSeconds(30));
        var gone = revokedAt.Elapsed;
        Assert.Equal(3, code);
        Assert.Contains("the agent key is unknown, revoked, or not an agent key", output);
        Assert.True(gone < TimeSpan.FromSeconds(10), $"the revoked agent was still connected {gone.TotalSeconds:0.0} s later");
        Report($"revoked key: agent disconnected and refused {gone.TotalSeconds:0.0} s after the revocation");
    }

    /// <summary>A figure of the run: in the test's output (the trx, the console log) and as a diagnostic message.</summary>
    private static void Report(string line)
    {
        TestContext.Current.TestOutputHelper?.WriteLine(line);
        TestContext.Current.SendDiagnosticMessage(line);
    }

    /// <summary>Sockets of the process that listen: TCP in LISTEN, or any UDP socket (which receives whatever reaches its port).</summary>
    internal static List<string> ListeningSockets(int pid)
    {
        var inodes = SocketInodes(pid);
        var found = new List<string>();
        foreach (var (file, listenState) in new[] { ("tcp", "0A"), ("tcp6", "0A"), ("udp", null), ("udp6", null) })
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/net/{file}").Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (inodes.Contains(fields[9]) && (listenState is null || fields[3] == listenState))
                {
                    found.Add($"{file} {fields[1]}");
                }
            }
        }
        return found;
    }

    internal static int EstablishedTcpSockets(int pid)
    {
        var inodes = SocketInodes(pid);
        return new[] { "tcp", "tcp6" }.Sum(file => File.ReadLines($"/proc/{pid}/net/{file}").Skip(1)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Count(f => inodes.Contains(f[9]) && f[3] == "01"));
    }

    private static HashSet<string> SocketInodes(int pid) =>
        [.. Directory.GetFiles($"/proc/{pid}/fd")
            .Select(fd => { try { return new FileInfo(fd).LinkTarget; } catch (IOException) { return null; } })
            .OfType<string>()
            .Where(t => t.StartsWith("socket:[", StringComparison.Ordinal))
            .Select(t => t["socket:[".Length..^1])];
}
