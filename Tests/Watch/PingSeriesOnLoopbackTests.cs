using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CyberWatch.Tests.Api;

namespace CyberWatch.Tests.Watch;

/// <summary>The ping series of a real silo (real scamper on loopback) and API, set up through the settings API.</summary>
public sealed class PingSeriesOnLoopbackTests(ApiNode node) : IClassFixture<ApiNode>
{
    [Fact]
    public async Task A_target_gets_rounds_on_its_interval_that_the_api_serves_per_vantage()
    {
        var http = node.Http;
        var refused = await http.PutAsJsonAsync("/settings/ping_settings", new { interval_seconds = 3, method = "gre" });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var body = await refused.Content.ReadAsStringAsync();
        Assert.Contains("interval_seconds", body);
        Assert.Contains("method", body);
        var set = await http.PutAsJsonAsync("/settings/ping_settings", new { interval_seconds = 10, pings_per_round = 3, spacing_seconds = 1 });
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsJsonAsync("/targets/enqueue", new { targets = new[] { "127.0.0.21" }, source = "api" })).StatusCode);
        // A dns target has no series by default.
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsJsonAsync("/targets/enqueue", new { targets = new[] { "127.0.0.22" }, source = "dns" })).StatusCode);

        var points = await WaitForRoundsAsync(http, "127.0.0.21", 3, TimeSpan.FromSeconds(120));

        var vantage = await node.Database.ScalarAsync<string>("SELECT name FROM vantages");
        foreach (var point in points)
        {
            Assert.Equal(vantage, point.GetProperty("vantage").GetString());
            Assert.Equal(3, point.GetProperty("sent").GetInt32());
            Assert.Equal(3, point.GetProperty("received").GetInt32());
            Assert.Equal(0, point.GetProperty("lossPct").GetDouble());
            Assert.Equal(JsonValueKind.Null, point.GetProperty("failureReason").ValueKind);
            var rtts = point.GetProperty("rttsMs").EnumerateArray().Select(r => r.GetDouble()).ToList();
            Assert.Equal(3, rtts.Count);
            Assert.Equal(rtts.Order(), rtts);
            Assert.InRange(point.GetProperty("medianRttMs").GetDouble(), rtts[0], rtts[^1]);
            Assert.True(point.GetProperty("iqrRttMs").GetDouble() >= 0);
        }
        // On the grid: consecutive rounds start an interval apart (scamper's own start time, so allow a second either way).
        var times = points.Select(p => p.GetProperty("time").GetDateTimeOffset()).ToList();
        for (var i = 1; i < times.Count; i++)
        {
            Assert.InRange((times[i] - times[i - 1]).TotalSeconds, 8.5, 11.5);
        }
        Assert.Equal(0, await node.Database.ScalarAsync<long>("SELECT count(*) FROM ping_rounds WHERE target = '127.0.0.22'"));

        var filtered = await http.GetFromJsonAsync<JsonElement>($"/targets/127.0.0.21/ping-series?vantage={vantage}");
        Assert.True(filtered.GetProperty("points").GetArrayLength() >= 3);
        Assert.Equal("round", filtered.GetProperty("resolution").GetString());
        var other = await http.GetFromJsonAsync<JsonElement>("/targets/127.0.0.21/ping-series?vantage=elsewhere");
        Assert.Equal(0, other.GetProperty("points").GetArrayLength());

        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/targets/not-an-address/ping-series")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/targets/127.0.0.21/ping-series?resolution=minute")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest,
            (await http.GetAsync("/targets/127.0.0.21/ping-series?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await node.Client(null).GetAsync("/targets/127.0.0.21/ping-series")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await node.Client(node.ReadKey).GetAsync("/targets/127.0.0.21/ping-series")).StatusCode);
    }

    [Fact]
    public async Task An_unanswering_target_opens_one_unreachable_incident_that_resolves_when_it_answers_again()
    {
        const string target = "127.0.77.15";
        var http = node.Http;
        Assert.Equal(HttpStatusCode.OK, (await http.PutAsJsonAsync("/settings/ping_settings", new { interval_seconds = 10, pings_per_round = 3 })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.PutAsJsonAsync("/settings/incident_settings", new { open_after = 2, resolve_after = 2 })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PutAsJsonAsync("/settings/incident_settings", new { open_after = 0 })).StatusCode);
        // Echo requests to this one address are dropped on the way in; nothing else on the machine is touched.
        var rule = new[] { "INPUT", "-d", target, "-p", "icmp", "--icmp-type", "echo-request", "-j", "DROP" };
        await IptablesAsync(["-I", .. rule]);
        try
        {
            Assert.Equal(HttpStatusCode.OK, (await http.PostAsJsonAsync("/targets/enqueue", new { targets = new[] { target }, source = "api" })).StatusCode);
            var opened = await WaitForAsync(http, $"/incidents?state=open&kind=unreachable", list => list.Any(i => Targets(i).Contains(target)),
                TimeSpan.FromSeconds(120));
            var incident = Assert.Single(opened, i => Targets(i).Contains(target));
            var vantage = await node.Database.ScalarAsync<string>("SELECT name FROM vantages");
            Assert.Equal([vantage], incident.GetProperty("vantages").EnumerateArray().Select(v => v.GetString()));
            Assert.Equal("open", incident.GetProperty("state").GetString());
            var id = incident.GetProperty("id").GetInt64();
            // At least two rounds of full loss stand behind it. Rounds are stored in batches, after the incident rules
            // saw them, so the rows may follow the incident by a batch interval.
            var lossRounds = 0L;
            for (var until = DateTime.UtcNow + TimeSpan.FromSeconds(30); lossRounds < 2 && DateTime.UtcNow < until; await Task.Delay(500))
            {
                lossRounds = await node.Database.ScalarAsync<long>($"SELECT count(*) FROM ping_rounds WHERE target = '{target}' AND received = 0");
            }
            Assert.True(lossRounds >= 2, $"{lossRounds} stored round(s) of full loss behind the incident");

            // The evidence taken at opening, while it is still open: a traceroute and an MTR from the vantage, stored as
            // measurements of the target and linked to the incident.
            var detail = (await WaitForAsync(http, $"/incidents/{id}", i => i[0].GetProperty("evidence").EnumerateArray().Count(e => e.GetProperty("state").GetString() != "pending") == 2,
                TimeSpan.FromSeconds(90)))[0];
            var evidence = detail.GetProperty("evidence").EnumerateArray().ToList();
            Assert.Equal(["mtr", "scamper"], evidence.Select(e => e.GetProperty("tool").GetString()).Order());
            foreach (var piece in evidence)
            {
                Assert.True(piece.GetProperty("state").GetString() == "taken", $"evidence not taken: {piece}");
                Assert.Equal(vantage, piece.GetProperty("vantage").GetString());
                Assert.Equal(target, piece.GetProperty("target").GetString());
                var measurementId = piece.GetProperty("measurementId").GetInt64();
                var stored = await node.Database.ScalarAsync<string>(
                    $"SELECT tool || ' ' || host(target) || ' ' || vantage FROM measurements WHERE id = {measurementId}");
                Assert.Equal($"{piece.GetProperty("tool").GetString()} {target} {vantage}", stored);
                Assert.True(piece.GetProperty("takenAt").GetDateTimeOffset() >= incident.GetProperty("openedAt").GetDateTimeOffset(), $"taken before opening: {piece}");
            }
            Assert.Equal(2L, await node.Database.ScalarAsync<long>($"SELECT count(*) FROM incident_evidence WHERE incident_id = {id}"));
            // The list stays light: evidence only on the incident itself.
            Assert.False((await http.GetFromJsonAsync<JsonElement>("/incidents?state=open")).EnumerateArray().First().TryGetProperty("evidence", out _));

            await IptablesAsync(["-D", .. rule]);
            rule = [];
            var resolved = await WaitForAsync(http, $"/incidents/{id}", i => i[0].GetProperty("state").GetString() == "resolved", TimeSpan.FromSeconds(120));
            Assert.True(resolved[0].GetProperty("resolvedAt").GetDateTimeOffset() > resolved[0].GetProperty("openedAt").GetDateTimeOffset(),
                $"resolved before opened: {resolved[0]}");
            // One incident for the one outage, and none of loss (nothing answered at all, then everything).
            var all = await http.GetFromJsonAsync<JsonElement>("/incidents");
            Assert.Single(all.EnumerateArray(), i => Targets(i).Contains(target));
            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/incidents/987654321")).StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/incidents?state=closed")).StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/incidents?kind=meteor")).StatusCode);
        }
        finally
        {
            if (rule.Length > 0)
            {
                await IptablesAsync(["-D", .. rule]);
            }
        }
    }

    private static string?[] Targets(JsonElement incident) => [.. incident.GetProperty("targets").EnumerateArray().Select(t => t.GetString())];

    private static async Task<List<JsonElement>> WaitForAsync(HttpClient http, string path, Func<List<JsonElement>, bool> done, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (true)
        {
            var body = await http.GetFromJsonAsync<JsonElement>(path);
            List<JsonElement> items = body.ValueKind == JsonValueKind.Array ? [.. body.EnumerateArray()] : [body];
            if (done(items))
            {
                return items;
            }
            Assert.True(DateTime.UtcNow < until, $"{path} after {timeout.TotalSeconds} s: {body}");
            await Task.Delay(TimeSpan.FromSeconds(2));
        }
    }

    private static async Task IptablesAsync(string[] arguments)
    {
        var start = new System.Diagnostics.ProcessStartInfo("iptables") { RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = System.Diagnostics.Process.Start(start)!;
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"iptables {string.Join(' ', arguments)}: {error}");
    }

    private static async Task<List<JsonElement>> WaitForRoundsAsync(HttpClient http, string target, int count, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (true)
        {
            var series = await http.GetFromJsonAsync<JsonElement>($"/targets/{target}/ping-series");
            var points = series.GetProperty("points").EnumerateArray().ToList();
            if (points.Count >= count)
            {
                return points;
            }
            Assert.True(DateTime.UtcNow < until, $"{points.Count} round(s) of {target} after {timeout.TotalSeconds} s: {series}");
            await Task.Delay(TimeSpan.FromSeconds(2));
        }
    }
}
