using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Vantages;

/// <summary>
/// A cluster of two vantage points on this machine: "north" (two silos, sharing its work) and "south" (one
/// silo), with an API of north, probing 127.0.0.0/8; one cluster for the tests of the class (they use different
/// targets). The network is the same for both, so what is tested here is the plumbing (each pair probed from its
/// own vantage, placement, status, waiting rows, answers per vantage); that paths differ per vantage is tested in
/// the lab. A vantage is down 10 s after its last silo stops reporting in (CYBERWATCH_VANTAGE_DOWN_AFTER_SECONDS).
/// </summary>
public sealed class LoopbackVantageCluster : IAsyncLifetime
{
    private readonly List<NodeProcess> processes = [];
    private NodeEnvironment environment = null!;
    private string? skipReason;

    public TestDatabase Db { get; private set; } = null!;
    public NodeProcess South { get; private set; } = null!;
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromMinutes(3) };

    public async ValueTask InitializeAsync()
    {
        if (Environment.UserName != "root" || !File.Exists("/usr/bin/scamper"))
        {
            skipReason = "needs root and scamper (raw sockets) to probe";
            return;
        }
        Db = await TestDatabase.CreateAsync();
        await Db.ScalarAsync<object>("""
            UPDATE settings SET value = value || '{"rate_limit_per_minute": 6000, "per_prefix_interval_seconds": 0,
                "target_cooldown_seconds": 0, "hop_feedback_enabled": false}'::jsonb WHERE key = 'worker_settings'
            """);
        environment = new NodeEnvironment(Db.ConnectionString, "vp-" + Guid.NewGuid().ToString("n")[..8]);
        await StartSiloAsync("north");
        await Task.WhenAll(StartSiloAsync("north"), StartSouthAsync());
        var api = environment.Api(out var url);
        api["CYBERWATCH_ALLOWED_TARGETS"] = "127.0.0.0/8";
        api["CYBERWATCH_VANTAGE"] = "north";
        api["CYBERWATCH_VANTAGE_DOWN_AFTER_SECONDS"] = "10";
        processes.Add(NodeProcess.Start(Repository.ApiDll, api));
        Http.BaseAddress = new Uri(url);
        await processes[^1].WaitForHttpAsync($"{url}/ready", TimeSpan.FromSeconds(90));
        await WaitAsync("both vantage points up", async () =>
        {
            var vantages = await Http.GetFromJsonAsync<JsonElement>("/vantages");
            return vantages.EnumerateArray().Count(v => v.GetProperty("status").GetString() == "up") == 2;
        }, TimeSpan.FromSeconds(60));
    }

    public void SkipIfUnavailable()
    {
        if (skipReason is not null)
        {
            Assert.Skip(skipReason);
        }
    }

    /// <summary>Starts south's silo (again) and waits until it serves.</summary>
    public async Task StartSouthAsync() => South = await StartSiloAsync("south");

    private async Task<NodeProcess> StartSiloAsync(string vantage)
    {
        var silo = environment.Silo(out _, out _, out var siloHttp);
        silo["CYBERWATCH_ALLOWED_TARGETS"] = "127.0.0.0/8";
        silo["CYBERWATCH_VANTAGE"] = vantage;
        silo["CYBERWATCH_VANTAGE_DOWN_AFTER_SECONDS"] = "10";
        var process = NodeProcess.Start(Repository.SiloDll, silo, "run");
        lock (processes)
        {
            processes.Add(process);
        }
        await process.WaitForHttpAsync($"{siloHttp}/healthz", TimeSpan.FromSeconds(90));
        return process;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in Enumerable.Reverse(processes))
        {
            await process.DisposeAsync();
        }
        if (Db is not null)
        {
            await Db.DisposeAsync();
        }
        Http.Dispose();
    }

    public async Task WaitAsync(string what, Func<Task<bool>> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"not within {(timeout ?? TimeSpan.FromSeconds(60)).TotalSeconds} s: {what}\n"
                + string.Join("\n---\n", processes.Select(p => p.Output[^Math.Min(3000, p.Output.Length)..])));
            await Task.Delay(250);
        }
    }
}

public sealed class VantagePointsOnLoopbackTests(LoopbackVantageCluster cluster) : IClassFixture<LoopbackVantageCluster>
{
    private readonly Timeline timeline = new();

    private HttpClient http => cluster.Http;

    private TestDatabase db => cluster.Db;

    private Task WaitAsync(string what, Func<Task<bool>> condition, TimeSpan? timeout = null) => cluster.WaitAsync(what, condition, timeout);

    private Task<long> CountAsync(string sql) => db.ScalarAsync<long>(sql);

    /// <summary>
    /// Nothing of these pairs is on its way: each was given its next due time by its latest measurement (none is
    /// leased to a probe), or is due and not leased. What is counted after this cannot grow.
    /// </summary>
    private Task WaitSettledAsync(string pairs) => WaitAsync($"pairs {pairs} settled", async () => await CountAsync($"""
        SELECT count(*) FROM target_vantages tv
         WHERE ({pairs})
           AND NOT (tv.next_due_at <= now()
                    OR tv.next_due_at > now() + interval '20 hours'
                       AND tv.last_measurement_id = (SELECT max(m.id) FROM measurements m WHERE m.target = tv.ip AND m.vantage = tv.vantage))
        """) == 0);

    [Fact]
    public async Task Every_target_is_measured_from_every_vantage_on_that_vantages_silos_and_a_stopped_vantage_catches_up_without_doubles()
    {
        cluster.SkipIfUnavailable();
        var vantages = await http.GetFromJsonAsync<JsonElement>("/vantages");
        Assert.Equal(["north", "south"], vantages.EnumerateArray().Select(v => v.GetProperty("name").GetString()).Order());
        var north = vantages.EnumerateArray().Single(v => v.GetProperty("name").GetString() == "north");
        Assert.Equal(2, north.GetProperty("silos").GetArrayLength());
        Assert.Equal("up", (await http.GetFromJsonAsync<JsonElement>("/vantages/south")).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/vantages/west")).StatusCode);

        var targets = Enumerable.Range(1, 20).Select(i => $"127.0.1.{i}").ToArray();
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsJsonAsync("/targets/enqueue", new { targets })).StatusCode);
        await WaitAsync("every target measured from both vantages", async () =>
            await CountAsync("SELECT count(DISTINCT (target, vantage)) FROM measurements WHERE target << '127.0.1.0/24'") == 40);
        // Each pair once, each from its own vantage (the vantage column is the silo that probed).
        Assert.Equal(40, await CountAsync("SELECT count(*) FROM measurements WHERE target << '127.0.1.0/24'"));
        Assert.Equal(20, await CountAsync("SELECT count(*) FROM measurements WHERE target << '127.0.1.0/24' AND vantage = 'south'"));
        await WaitAsync("every pair due a day on", async () => await CountAsync(
            "SELECT count(*) FROM target_vantages WHERE ip << '127.0.1.0/24' AND next_due_at > now() + interval '20 hours'") == 40);
        timeline.Mark("first wave");

        // Rounds interleaving both vantages: each pair's history is its own, so nothing is a path change.
        for (var round = 1; round <= 3; round++)
        {
            // A measurement's row is stored before its pair is given its next due time: made due while the last round's
            // completions are on their way, a pair would be pushed a day on by one of them and the round never end.
            await WaitSettledAsync("tv.ip << '127.0.1.0/24'");
            await db.ScalarAsync<object>("UPDATE target_vantages SET next_due_at = now() WHERE ip << '127.0.1.0/24'");
            var expected = 40 * (round + 1);
            await WaitAsync($"round {round} measured", async () =>
                await CountAsync("SELECT count(*) FROM measurements WHERE target << '127.0.1.0/24'") >= expected);
            timeline.Mark($"round {round}");
        }
        await WaitAsync("every pair due a day on", async () => await CountAsync(
            "SELECT count(*) FROM target_vantages WHERE ip << '127.0.1.0/24' AND next_due_at > now() + interval '20 hours'") == 40);
        Assert.Equal(160, await CountAsync("SELECT count(*) FROM measurements WHERE target << '127.0.1.0/24'"));
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM path_changes WHERE target << '127.0.1.0/24' AND kind <> 'latency'"));
        var info = await http.GetFromJsonAsync<JsonElement>("/targets/127.0.1.1");
        Assert.Equal("all", info.GetProperty("vantages").GetString());
        Assert.Equal(["north", "south"], info.GetProperty("perVantage").EnumerateArray().Select(v => v.GetProperty("vantage").GetString()));
        var latest = await http.GetFromJsonAsync<JsonElement>("/measurements/latest?target=127.0.1.1");
        Assert.Equal(["north", "south"], latest.GetProperty("byVantage").EnumerateArray()
            .Select(m => m.GetProperty("measurement").GetProperty("vantage").GetString()).Order());
        var fromSouth = await http.GetFromJsonAsync<JsonElement>("/measurements/latest?target=127.0.1.1&vantage=south");
        Assert.Equal("south", fromSouth.GetProperty("measurement").GetProperty("vantage").GetString());
        Assert.All((await http.GetFromJsonAsync<JsonElement>("/traceroute/history?target=127.0.1.1&vantage=north&limit=50")).EnumerateArray(),
            m => Assert.Equal("north", m.GetProperty("vantage").GetString()));

        timeline.Mark("reads per vantage");
        // South stops: its pairs wait (nobody else takes them), north goes on.
        await WaitSettledAsync("tv.ip << '127.0.1.0/24'");
        await cluster.South.StopAsync();
        timeline.Mark("south stopped");
        await WaitAsync("south reported down", async () =>
            (await http.GetFromJsonAsync<JsonElement>("/vantages/south")).GetProperty("status").GetString() == "down");
        timeline.Mark("south reported down");
        await db.ScalarAsync<object>("UPDATE target_vantages SET next_due_at = now() WHERE ip << '127.0.1.0/24'");
        await WaitAsync("north measured its due pairs", async () =>
            await CountAsync("SELECT count(*) FROM measurements WHERE target << '127.0.1.0/24' AND vantage = 'north'") == 100);
        timeline.Mark("north's round");
        // South's pairs stay due and unleased (nobody took them) while north's are all done: nothing more can come.
        await WaitSettledAsync("tv.ip << '127.0.1.0/24'");
        timeline.Mark("settled");
        Assert.Equal(80, await CountAsync("SELECT count(*) FROM measurements WHERE target << '127.0.1.0/24' AND vantage = 'south'"));
        Assert.Equal(20, await CountAsync("SELECT count(*) FROM target_vantages WHERE ip << '127.0.1.0/24' AND vantage = 'south' AND next_due_at <= now()"));

        // On demand from all while south is down: north answers, south says why, in one response.
        var run = await http.PostAsJsonAsync("/traceroute/run", new { target = "127.0.1.1", vantages = "all" });
        Assert.Equal(HttpStatusCode.OK, run.StatusCode);
        var results = (await run.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(200, results.Single(r => r.GetProperty("vantage").GetString() == "north").GetProperty("status").GetInt32());
        var down = results.Single(r => r.GetProperty("vantage").GetString() == "south");
        Assert.Equal(503, down.GetProperty("status").GetInt32());
        Assert.Contains("south", down.GetProperty("error").GetString());

        timeline.Mark("on demand from all");
        // South comes back: its overdue pairs are taken at once, each once.
        var restarted = System.Diagnostics.Stopwatch.StartNew();
        await cluster.StartSouthAsync();
        await WaitAsync("south caught up", async () =>
            await CountAsync("SELECT count(*) FROM measurements WHERE target << '127.0.1.0/24' AND vantage = 'south'") >= 100,
            TimeSpan.FromSeconds(90));
        var caughtUp = restarted.Elapsed;
        timeline.Mark("south restarted and caught up");
        await WaitSettledAsync("tv.ip << '127.0.1.0/24'");
        Assert.Equal(100, await CountAsync("SELECT count(*) FROM measurements WHERE target << '127.0.1.0/24' AND vantage = 'south'"));
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM (SELECT target FROM measurements WHERE target << '127.0.1.0/24' AND vantage = 'south' GROUP BY target HAVING count(*) <> 5) d"));
        timeline.Mark("no doubles");
        TestContext.Current.TestOutputHelper?.WriteLine($"vantage south: restarted silo measured its 20 overdue pairs {caughtUp.TotalSeconds:F1} s after its start");
    }

    [Fact]
    public async Task A_selection_names_known_vantages_only_and_puts_limit_where_a_target_is_measured_from()
    {
        cluster.SkipIfUnavailable();
        var unknown = await http.PostAsJsonAsync("/targets/enqueue", new { target = "127.0.2.1", vantages = new[] { "south", "atlantis" } });
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Contains("'atlantis'", await unknown.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsJsonAsync("/targets/enqueue", new { target = "127.0.2.1", vantages = 7 })).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await http.PostAsJsonAsync("/targets/enqueue", new { target = "127.0.2.1", vantages = new[] { "south" } })).StatusCode);
        await WaitAsync("measured from south", async () => await CountAsync("SELECT count(*) FROM measurements WHERE target = '127.0.2.1'") == 1);
        await WaitSettledAsync("tv.ip = '127.0.2.1'");
        timeline.Mark("measured from south");
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM measurements WHERE target = '127.0.2.1' AND vantage = 'south'"));
        Assert.Equal("{south}", await db.ScalarAsync<string>("SELECT array_agg(vantage)::text FROM target_vantages WHERE ip = '127.0.2.1'"));

        // Re-offered by DNS or hop feedback: the selection stays.
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsJsonAsync("/targets/enqueue", new { target = "127.0.2.1", source = "dns" })).StatusCode);
        Assert.Equal("{south}", await db.ScalarAsync<string>("SELECT array_agg(vantage)::text FROM target_vantages WHERE ip = '127.0.2.1'"));

        // PUT widens it to all: north gets its pair, measured at once.
        var put = await http.PutAsJsonAsync("/targets/127.0.2.1", new { vantages = "all" });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal("all", (await put.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("vantages").GetString());
        await WaitAsync("measured from north", async () => await CountAsync("SELECT count(*) FROM measurements WHERE target = '127.0.2.1' AND vantage = 'north'") == 1);
        timeline.Mark("widened, measured from north");

        var bad = await http.PutAsJsonAsync("/targets/10.0.0.1", new { vantages = "all" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }
}
