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
        var silo = environment.Silo(out _, out _, out var siloHttp);
        silo["CYBERWATCH_ALLOWED_TARGETS"] = "127.0.0.0/8";
        silo["CYBERWATCH_VANTAGE"] = "north";
        processes.Add(NodeProcess.Start(Repository.SiloDll, silo, "run"));
        await processes[^1].WaitForHttpAsync($"{siloHttp}/healthz", TimeSpan.FromSeconds(90));
        apiEnvironment = environment.Api(out apiUrl);
        apiEnvironment["CYBERWATCH_ALLOWED_TARGETS"] = "127.0.0.0/8";
        apiEnvironment["CYBERWATCH_VANTAGE"] = "north";
        await StartApiAsync();
        http.BaseAddress = new Uri(apiUrl);
        agentKey = await CreateAgentKeyAsync("remote");
        buffer = Directory.CreateTempSubdirectory("cw-agent-buffer-").FullName;
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

    private NodeProcess StartAgent(string? key = null, string vantage = "remote")
    {
        var agent = NodeProcess.Start(Repository.AgentDll, new Dictionary<string, string?>
        {
            ["CYBERWATCH_AGENT_URL"] = apiUrl,
            ["CYBERWATCH_AGENT_KEY"] = key ?? agentKey,
            ["CYBERWATCH_VANTAGE"] = vantage,
            ["CYBERWATCH_AGENT_NAME"] = "loopback",
            ["CYBERWATCH_AGENT_BUFFER"] = buffer,
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
        TestContext.Current.SendDiagnosticMessage($"offline buffer: {buffered} result(s) buffered after 12 s offline, {kept} on disk at kill -9, " +
            $"{stored} stored, each once; delivered {reconnected.TotalSeconds:0.0} s after the API went away");
        Assert.True(restarted.Output.Contains("result(s) buffered to deliver"), restarted.Output);
    }

    [Fact]
    public async Task A_wrong_key_vantage_or_protocol_is_refused_in_one_line_and_a_revoked_key_disconnects_the_agent_within_10_s()
    {
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
        TestContext.Current.SendDiagnosticMessage($"revoked key: agent disconnected and refused {gone.TotalSeconds:0.0} s after the revocation");
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
