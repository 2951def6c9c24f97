using System.Diagnostics;
using System.Text.Json;
using CyberWatch.Tests.Agents;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Lab;

/// <summary>
/// One cluster for the class: a silo in the default vantage, the API on that vantage's lab address (TLS), and the
/// agent key of vp-home, the lab's home line behind NAT (a17-nat masquerades it; nothing in the lab routes to it).
/// </summary>
public sealed class NatAgentLab(LabFixture lab) : IAsyncLifetime
{
    // Extra addresses on dst-b (same path as 30.15.1.10): enough work to keep the agent busy through a cut uplink.
    public static readonly string[] Busy = [.. Enumerable.Range(100, 60).Select(i => $"30.15.1.{i}")];

    public LabFixture Lab => lab;
    public LabCluster Cluster { get; private set; } = null!;
    public LabVantage Home { get; } = LabFixture.AgentVantages.Single();
    public string Key { get; private set; } = "";
    public string Buffer { get; } = Directory.CreateTempSubdirectory("cw-lab-agent-").FullName;
    public List<NodeProcess> Agents { get; } = [];

    public async ValueTask InitializeAsync()
    {
        if (Environment.UserName != "root")
        {
            return;
        }
        Cluster = await LabCluster.StartAsync(lab, [LabFixture.DefaultVantage], settingsSql: """
            UPDATE settings SET value = value || '{"rate_limit_per_minute": 600, "per_prefix_interval_seconds": 0,
                "target_cooldown_seconds": 0, "hop_feedback_enabled": false}'::jsonb WHERE key = 'worker_settings';
            UPDATE settings SET value = value || '{"asn_expansion_enabled": false}'::jsonb WHERE key = 'enrichment_settings';
            """, apiOnLabAddress: true);
        foreach (var address in Busy)
        {
            await LabFixture.RunAsync(("ip", ["-n", "cwlab-dst-b", "addr", "add", address + "/24", "dev", "d15-core"]), TimeSpan.FromSeconds(10));
        }
        Key = await CreateKeyAsync();
    }

    public async Task<string> CreateKeyAsync()
    {
        await using var create = NodeProcess.Start(Repository.ApiDll, new Dictionary<string, string?> { ["CYBERWATCH_PG_DSN"] = Cluster.Database.ConnectionString },
            "apikey", "create", "--role", "agent", "--vantage", Home.Name, "--name", "home line behind NAT");
        var (exitCode, output) = await create.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(exitCode == 0, output);
        return output.Trim().Split('\n')[^1].Trim();
    }

    /// <summary>The real CyberWatch.Agent in vp-home's namespace, dialling the API across the NAT.</summary>
    public NodeProcess StartAgent(string? key = null, string? buffer = null, string name = "home")
    {
        var agent = NodeProcess.StartIn(Home.Namespace, Repository.AgentDll, new Dictionary<string, string?>
        {
            ["CYBERWATCH_AGENT_URL"] = Cluster.ApiUrl,
            ["CYBERWATCH_AGENT_CA"] = Cluster.ApiCa,
            ["CYBERWATCH_AGENT_KEY"] = key ?? Key,
            ["CYBERWATCH_VANTAGE"] = Home.Name,
            ["CYBERWATCH_AGENT_NAME"] = name,
            ["CYBERWATCH_AGENT_BUFFER"] = buffer ?? Buffer,
            ["CYBERWATCH_LOG_LEVEL"] = "Information",
        });
        Agents.Add(agent);
        return agent;
    }

    /// <summary>
    /// Cuts (or restores) the NAT router's uplink both ways: every packet through it dropped, as a dead 4G link. With
    /// iptables, not netem (this kernel has no sch_netem) nor a link set down (that would flush the router's routes).
    /// </summary>
    public static async Task CutUplinkAsync(bool cut)
    {
        foreach (var direction in new[] { "-i", "-o" })
        {
            var (code, output) = await LabFixture.RunAsync(("ip", ["netns", "exec", "cwlab-a17-nat", "iptables", cut ? "-I" : "-D", "FORWARD",
                direction, "a17-br", "-j", "DROP"]), TimeSpan.FromSeconds(10));
            Assert.True(code == 0 || !cut, output);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var agent in Agents)
        {
            await agent.DisposeAsync();
        }
        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
            await CutUplinkAsync(false).ContinueWith(_ => { }, TaskScheduler.Default);
            foreach (var address in Busy)
            {
                await LabFixture.RunAsync(("ip", ["-n", "cwlab-dst-b", "addr", "del", address + "/24", "dev", "d15-core"]), TimeSpan.FromSeconds(10));
            }
        }
        Directory.Delete(Buffer, recursive: true);
    }
}

/// <summary>
/// A remote probe where it is meant to run: behind NAT, with no way in. The agent measures its vantage's ground truth,
/// listens on nothing, rides out a cut uplink and a kill -9 without losing or doubling a result, and is cut off when
/// its key is revoked. One cluster for the class, one lab for the collection; the revocation test has a key and an agent of its own.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class AgentBehindNatInTheLabTests(NatAgentLab fixture) : IClassFixture<NatAgentLab>
{
    private LabCluster Cluster => fixture.Cluster;

    private Task<long> CountAsync(string sql) => Cluster.Database.ScalarAsync<long>(sql);

    private async Task WaitAsync(string what, Func<Task<bool>> condition, TimeSpan timeout) =>
        await LabNode.WaitUntilAsync(condition, timeout, () => $"{what}\n{Logs()}");

    /// <summary>The agents' and the API's last words, for a failure message.</summary>
    private string Logs() => string.Join("\n---\n",
        fixture.Agents.Select(a => a.Output[^Math.Min(4000, a.Output.Length)..]).Append(Cluster.Api?.Output[^Math.Min(3000, Cluster.Api.Output.Length)..]));

    /// <summary>
    /// The agent connected and its vantage up. 90 s: a first connection refused while the API warms up puts the agent
    /// on its back-off (1, 2, 4 … s with jitter); on a loaded 2-core CI machine a start takes tens of seconds.
    /// </summary>
    private async Task WaitUpAsync()
    {
        var last = "";
        await LabNode.WaitUntilAsync(async () =>
        {
            var (status, body) = await Cluster.GetAsync($"/vantages/{fixture.Home.Name}");
            last = $"{status} {body}";
            return status == 200 && JsonDocument.Parse(body).RootElement.GetProperty("status").GetString() == "up";
        }, TimeSpan.FromSeconds(90), () => $"the home vantage up; GET /vantages/{fixture.Home.Name} answered {last}\n{Logs()}");
    }

    private async Task EnqueueAsync(IEnumerable<string> targets)
    {
        var (status, body) = await Cluster.PostAsync("/targets/enqueue", JsonSerializer.Serialize(new { targets, vantages = new[] { fixture.Home.Name } }));
        Assert.True(status == 200, body);
    }

    private async Task SetRateAsync(int perMinute) => await Cluster.Database.ScalarAsync<object>(
        $"UPDATE settings SET value = value || '{{\"rate_limit_per_minute\": {perMinute}}}'::jsonb WHERE key = 'worker_settings'");

    private NodeProcess RunningAgent() => fixture.Agents.LastOrDefault(a => !a.HasExited) ?? fixture.StartAgent();

    private static string InList(IEnumerable<string> addresses) => string.Join(',', addresses.Select(a => $"'{a}'"));

    [Fact]
    public async Task An_agent_behind_NAT_measures_its_vantages_ground_truth_and_listens_on_nothing()
    {
        fixture.Lab.SkipIfUnavailable();
        // No way in: the default vantage (where the API runs) has no route to the home network.
        var (unreachable, _) = await LabFixture.RunAsync(("ip", ["netns", "exec", LabFixture.Vantage, "ping", "-c", "1", "-W", "1", fixture.Home.Address.ToString()]),
            TimeSpan.FromSeconds(10));
        Assert.NotEqual(0, unreachable);

        var agent = RunningAgent();
        await WaitUpAsync();
        // The cluster sees it from the NAT router's public address, in ACCESS-B's prefix.
        var (_, vantage) = await Cluster.GetAsync($"/vantages/{fixture.Home.Name}");
        Assert.Contains("\"11.17.2.2\"", vantage);

        var traces = fixture.Lab.Traces(fixture.Home).ToList();
        Assert.Equal(3, traces.Count);
        await EnqueueAsync(traces.Select(t => t.Address));
        await WaitAsync("every destination measured from the home vantage", async () => await CountAsync(
            $"SELECT count(DISTINCT target) FROM measurements WHERE vantage = '{fixture.Home.Name}' AND host(target) IN ({InList(traces.Select(t => t.Address))})") == traces.Count,
            TimeSpan.FromSeconds(120));
        var mismatches = new List<string>();
        foreach (var (address, trace) in traces)
        {
            var hops = await StoredHopsAsync(address);
            var branches = trace.GetProperty("branches").EnumerateArray()
                .Select(b => b.EnumerateArray().Select(a => a.ValueKind == JsonValueKind.Null ? null : a.GetString()).ToList()).ToList();
            if (!branches.Any(b => b.SequenceEqual(hops)))
            {
                mismatches.Add($"{address}: stored [{string.Join(", ", hops.Select(h => h ?? "*"))}], truth allows " +
                    string.Join(" or ", branches.Select(b => $"[{string.Join(", ", b.Select(h => h ?? "*"))}]")));
            }
        }
        Assert.True(mismatches.Count == 0, string.Join('\n', mismatches));

        var listening = AgentsOnLoopbackTests.ListeningSockets(agent.ProcessId);
        Assert.True(listening.Count == 0, $"the agent listens: {string.Join(", ", listening)}");
        Assert.True(AgentsOnLoopbackTests.EstablishedTcpSockets(agent.ProcessId) >= 1, "the agent has no connection open to the API");
    }

    [Fact]
    public async Task Measurements_made_while_the_uplink_is_cut_or_the_agent_is_killed_are_stored_once_each()
    {
        fixture.Lab.SkipIfUnavailable();
        // 30 a minute: the agent takes two minutes of work (all 40) at once and is still measuring it when the uplink goes.
        await SetRateAsync(30);
        var agent = RunningAgent();
        await WaitUpAsync();
        var first = NatAgentLab.Busy[..40];
        await EnqueueAsync(first);
        var stored = $"SELECT count(*) FROM measurements WHERE vantage = '{fixture.Home.Name}' AND host(target) IN ({InList(first)})";
        await WaitAsync("a few measured", async () => await CountAsync(stored) >= 3, TimeSpan.FromSeconds(60));

        // 60 s without an uplink: longer than the API's 45 s of silence and the agent's 20 s ping timeout, so both ends
        // give the link up and the agent must reconnect, not just resume; two minutes would prove no more.
        var before = await CountAsync(stored);
        await NatAgentLab.CutUplinkAsync(true);
        var cut = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(60));
        var offline = Directory.GetFiles(fixture.Buffer, "*.json").Length;
        Assert.Equal(before, await CountAsync(stored));
        await NatAgentLab.CutUplinkAsync(false);
        var back = Stopwatch.StartNew();
        await WaitAsync("the results of the cut delivered", async () => Directory.GetFiles(fixture.Buffer, "*.json").Length == 0 && await CountAsync(stored) >= before + offline,
            TimeSpan.FromSeconds(120));
        var delivered = back.Elapsed;
        await WaitAsync("all 40 measured", async () => await CountAsync(stored) == first.Length, TimeSpan.FromSeconds(120));
        Assert.True(offline > 0, "nothing was measured while the uplink was cut:\n" + agent.Output);
        Assert.Equal(first.Length, await CountAsync($"SELECT count(DISTINCT target) FROM measurements WHERE vantage = '{fixture.Home.Name}' AND host(target) IN ({InList(first)})"));
        Assert.Equal(first.Length, await CountAsync($"""
            SELECT count(*) FROM agent_deliveries d JOIN measurements m ON m.id = d.measurement_id WHERE host(m.target) IN ({InList(first)})
            """));
        TestContext.Current.SendDiagnosticMessage($"uplink cut 60 s: {before} stored before, {offline} measured offline (buffered), " +
            $"all {first.Length} stored once each; the buffer delivered {delivered.TotalSeconds:0.0} s after the uplink came back");

        // kill -9 with results on disk: cut again so they stay there, kill, restore, start a new agent process.
        var second = NatAgentLab.Busy[40..];
        await EnqueueAsync(second);
        var storedSecond = $"SELECT count(*) FROM measurements WHERE vantage = '{fixture.Home.Name}' AND host(target) IN ({InList(second)})";
        await WaitAsync("the agent took the second list", async () => await CountAsync($"""
            SELECT count(*) FROM target_vantages WHERE vantage = '{fixture.Home.Name}' AND host(ip) IN ({InList(second)}) AND next_due_at > now() + interval '5 minutes'
            """) == second.Length, TimeSpan.FromSeconds(60));
        await NatAgentLab.CutUplinkAsync(true);
        await WaitAsync("results buffered", () => Task.FromResult(Directory.GetFiles(fixture.Buffer, "*.json").Length >= 3), TimeSpan.FromSeconds(60));
        agent.Kill();
        var kept = Directory.GetFiles(fixture.Buffer, "*.json").Select(f => Path.GetFileNameWithoutExtension(f).Split('-')[1]).ToList();
        await NatAgentLab.CutUplinkAsync(false);
        var restarted = fixture.StartAgent();
        await WaitAsync("the killed agent's buffer delivered by the next one", async () => await CountAsync($"""
            SELECT count(*) FROM agent_deliveries WHERE replace(delivery_id::text, '-', '') IN ({InList(kept)})
            """) == kept.Count, TimeSpan.FromSeconds(90));
        var storedAfter = await CountAsync(storedSecond);
        Assert.Equal(storedAfter, await CountAsync($"SELECT count(DISTINCT target) FROM measurements WHERE vantage = '{fixture.Home.Name}' AND host(target) IN ({InList(second)})"));
        TestContext.Current.SendDiagnosticMessage($"kill -9: {kept.Count} result(s) on disk delivered by the restarted agent; {storedAfter} of the second list stored, none twice");
    }

    [Fact]
    public async Task A_revoked_key_disconnects_the_agent_within_10_s_and_is_refused_afterwards()
    {
        fixture.Lab.SkipIfUnavailable();
        // A second agent of the vantage, with its own key and buffer, so the other tests' agent is not touched.
        var key = await fixture.CreateKeyAsync();
        var buffer = Directory.CreateTempSubdirectory("cw-lab-agent-").FullName;
        var agent = fixture.StartAgent(key, buffer, "home-2");
        await WaitAsync("the second agent connected", async () => await CountAsync(
            $"SELECT count(*) FROM vantage_silos WHERE vantage = '{fixture.Home.Name}' AND silo = 'agent/home-2' AND last_heartbeat > now() - interval '10 seconds'") == 1,
            TimeSpan.FromSeconds(60));
        await using (var revoke = NodeProcess.Start(Repository.ApiDll, new Dictionary<string, string?> { ["CYBERWATCH_PG_DSN"] = Cluster.Database.ConnectionString },
            "apikey", "revoke", key[3..11]))
        {
            Assert.Equal(0, (await revoke.WaitForExitAsync(TimeSpan.FromSeconds(60))).ExitCode);
        }
        var revokedAt = Stopwatch.StartNew();
        var (code, output) = await agent.WaitForExitAsync(TimeSpan.FromSeconds(30));
        var gone = revokedAt.Elapsed;
        Assert.Equal(3, code);
        Assert.True(gone < TimeSpan.FromSeconds(10), $"the revoked agent was still connected {gone.TotalSeconds:0.0} s later");

        var again = fixture.StartAgent(key, buffer, "home-2");
        (code, output) = await again.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Directory.Delete(buffer, recursive: true);
        Assert.Equal(3, code);
        Assert.Contains("the agent key is unknown, revoked, or not an agent key", output);
        TestContext.Current.SendDiagnosticMessage($"revoked key: the agent behind NAT was cut off {gone.TotalSeconds:0.0} s after the revocation; its reconnect refused");
    }

    private async Task<List<string?>> StoredHopsAsync(string target)
    {
        await using var command = Cluster.Database.DataSource.CreateCommand("""
            SELECT h.ttl, host(h.address) FROM hops h
              JOIN (SELECT id, started_at FROM measurements WHERE target = @t::inet AND vantage = @v ORDER BY started_at DESC LIMIT 1) m
                ON m.id = h.measurement_id AND h.measured_at = m.started_at
             WHERE h.reply_index = 0 ORDER BY h.ttl
            """);
        command.Parameters.AddWithValue("t", target);
        command.Parameters.AddWithValue("v", fixture.Home.Name);
        var byTtl = new Dictionary<int, string?>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            byTtl[reader.GetInt16(0)] = reader.IsDBNull(1) ? null : reader.GetString(1);
        }
        var last = byTtl.Count == 0 ? 0 : byTtl.Keys.Max();
        return [.. Enumerable.Range(1, last).Select(ttl => byTtl.GetValueOrDefault(ttl))];
    }
}
