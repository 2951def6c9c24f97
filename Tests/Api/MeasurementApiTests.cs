using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Api;

/// <summary>The targets, probing and measurement endpoints of a real silo and API on the real PostgreSQL, probing 127.0.0.0/8.</summary>
public sealed class MeasurementApiTests(ApiNode node) : IClassFixture<ApiNode>
{
    private TestDatabase db => node.Database;
    private HttpClient http => node.Http;

    [Fact]
    public async Task Hostile_targets_are_refused_with_a_reason_and_nothing_is_probed()
    {
        var response = await http.PostAsJsonAsync("/targets/enqueue", new
        {
            targets = new[] { "-oX", "10.0.0.1", "::1", "1.1.1.1; rm -rf /", "169.254.1.1", "224.0.0.1", "100.64.0.1", "192.0.2.1", "127.1", new string('9', 300) },
        });
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, body.GetProperty("accepted").GetInt32());
        Assert.All(body.GetProperty("results").EnumerateArray(), r => Assert.False(string.IsNullOrEmpty(r.GetProperty("reason").GetString())));
        Assert.Equal(0, await db.ScalarAsync<long>(
            "SELECT count(*) FROM measurements WHERE target IN ('10.0.0.1', '::1', '169.254.1.1', '224.0.0.1', '100.64.0.1', '192.0.2.1', '127.0.0.1')"));

        var bad = await http.PostAsJsonAsync("/traceroute/run", new { target = "10.0.0.1" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("private address", await bad.Content.ReadAsStringAsync());
        var badMethod = await http.PostAsJsonAsync("/traceroute/run", new { target = "127.0.0.2", method = "-oX" });
        Assert.Equal(HttpStatusCode.BadRequest, badMethod.StatusCode);
        var badSource = await http.PostAsJsonAsync("/targets/enqueue", new { target = "127.0.0.2", source = "nowhere" });
        Assert.Equal(HttpStatusCode.BadRequest, badSource.StatusCode);
    }

    [Fact]
    public async Task Traceroute_run_answers_with_the_stored_hops_and_the_history_endpoints_agree()
    {
        var run = await http.PostAsJsonAsync("/traceroute/run", new { target = "127.0.0.7", method = "udp-paris" });
        Assert.Equal(HttpStatusCode.OK, run.StatusCode);
        var result = await run.Content.ReadFromJsonAsync<JsonElement>();
        var measurement = result.GetProperty("measurement");
        var id = measurement.GetProperty("id").GetInt64();
        Assert.Equal("udp-paris", measurement.GetProperty("method").GetString());
        Assert.Equal("COMPLETED", measurement.GetProperty("stopReason").GetString());
        Assert.Equal("127.0.0.7", result.GetProperty("hops")[0].GetProperty("address").GetString());
        Assert.Equal("loopback", result.GetProperty("hops")[0].GetProperty("addressClass").GetString());

        var latest = await http.GetFromJsonAsync<JsonElement>("/measurements/latest?target=127.0.0.7");
        Assert.Equal(id, latest.GetProperty("measurement").GetProperty("id").GetInt64());
        var hops = await http.GetFromJsonAsync<JsonElement>($"/measurements/{id}/hops");
        var alias = await http.GetFromJsonAsync<JsonElement>($"/measurements/hops/{id}");
        Assert.Equal(hops.ToString(), alias.ToString());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/measurements/987654321")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/measurements/987654321/hops")).StatusCode);
        Assert.Single((await http.GetFromJsonAsync<JsonElement>("/traceroute/history?target=127.0.0.7")).EnumerateArray());

        // Within the cooldown the same target is not probed again.
        var again = await http.PostAsJsonAsync("/traceroute/run", new { target = "127.0.0.7" });
        Assert.Equal(HttpStatusCode.TooManyRequests, again.StatusCode);
    }

    [Fact]
    public async Task Latest_measurement_is_served_from_the_target_grain_and_a_new_measurement_replaces_it_at_once()
    {
        var run = await (await http.PostAsJsonAsync("/traceroute/run", new { target = "127.0.0.33" })).Content.ReadFromJsonAsync<JsonElement>();
        var first = run.GetProperty("measurement").GetProperty("id").GetInt64();
        var latest = await http.GetFromJsonAsync<JsonElement>("/measurements/latest?target=127.0.0.33");
        Assert.Equal(first, latest.GetProperty("measurement").GetProperty("id").GetInt64());
        Assert.Equal(run.GetProperty("hops").GetArrayLength(), latest.GetProperty("hops").GetArrayLength());

        // Enqueueing the address makes it a target whose first (scheduled) probe runs at once, cooldown or not.
        await http.PostAsJsonAsync("/targets/enqueue", new { target = "127.0.0.33", source = "api" });
        long second = 0;
        await ClusterWait(async () =>
        {
            second = await db.ScalarAsync<long>("SELECT coalesce(max(id), 0) FROM measurements WHERE target = '127.0.0.33'");
            return second != first;
        });
        // Well within the cache's 10 s: the grain was told of the new measurement and dropped the old one.
        latest = await http.GetFromJsonAsync<JsonElement>("/measurements/latest?target=127.0.0.33");
        Assert.Equal(second, latest.GetProperty("measurement").GetProperty("id").GetInt64());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/measurements/latest?target=127.0.0.34")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/measurements/latest?target=-oX")).StatusCode);
    }

    [Fact]
    public async Task A_measurement_written_by_other_means_is_served_after_the_next_background_read()
    {
        var run = await (await http.PostAsJsonAsync("/traceroute/run", new { target = "127.0.0.35" })).Content.ReadFromJsonAsync<JsonElement>();
        var first = run.GetProperty("measurement").GetProperty("id").GetInt64();
        Assert.Equal(first, (await http.GetFromJsonAsync<JsonElement>("/measurements/latest?target=127.0.0.35"))
            .GetProperty("measurement").GetProperty("id").GetInt64());
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // A row the grain was not told of (an import, another tool).
        var imported = await db.ScalarAsync<long>("""
            INSERT INTO measurements (target, tool, method, vantage, started_at, success, hop_count)
            VALUES ('127.0.0.35', 'traceroute', 'udp', 'import', now(), true, 1) RETURNING id
            """);

        // The copy in memory is served until it is 10 s old; then one read refreshes it in the background.
        long served;
        do
        {
            served = (await http.GetFromJsonAsync<JsonElement>("/measurements/latest?target=127.0.0.35"))
                .GetProperty("measurement").GetProperty("id").GetInt64();
            if (served == first)
            {
                await Task.Delay(500);
            }
        }
        while (served == first && clock.Elapsed < TimeSpan.FromSeconds(30));
        Assert.Equal(imported, served);
        Assert.InRange(clock.Elapsed.TotalSeconds, 9, 30);
    }

    [Fact]
    public async Task Enqueue_is_idempotent_and_a_deleted_target_is_gone()
    {
        var first = await (await http.PostAsJsonAsync("/targets/enqueue", new { target = "127.0.0.20", source = "static" }))
            .Content.ReadFromJsonAsync<JsonElement>();
        var second = await (await http.PostAsJsonAsync("/targets/enqueue", new { target = "127.0.0.20", source = "api" }))
            .Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(first.GetProperty("results")[0].GetProperty("created").GetBoolean());
        Assert.False(second.GetProperty("results")[0].GetProperty("created").GetBoolean());

        JsonElement page = default;
        await ClusterWait(async () =>
        {
            // The targets table follows the grains within a flush interval.
            page = await http.GetFromJsonAsync<JsonElement>("/targets?source=static&count=true");
            return page.GetProperty("total").GetInt64() == 1 && page.GetProperty("items")[0].GetProperty("sources").GetArrayLength() == 2;
        });
        var target = page.GetProperty("items")[0];
        Assert.Equal(["api", "static"], target.GetProperty("sources").EnumerateArray().Select(s => s.GetString()).Order());
        await ClusterWait(async () => await db.ScalarAsync<long>("SELECT count(*) FROM measurements WHERE target = '127.0.0.20'") == 1);
        // Measured: due again in 24 h ±10% (the default interval and jitter), on the schedule, not on a reminder of its own.
        await ClusterWait(async () => await db.ScalarAsync<bool>(
            "SELECT bool_and(last_measurement_id IS NOT NULL) FROM target_vantages WHERE ip = '127.0.0.20'"));
        var dueInHours = await db.ScalarAsync<double>(
            "SELECT extract(epoch FROM next_due_at - last_measured_at)::float8 / 3600 FROM target_vantages WHERE ip = '127.0.0.20'");
        Assert.InRange(dueInHours, 21.5, 26.5);
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT count(*) FROM orleans_reminders WHERE grainid LIKE '%127.0.0.20'"));

        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync("/targets/127.0.0.20")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/targets/127.0.0.20")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.DeleteAsync("/targets/127.0.0.20")).StatusCode);
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT count(*) FROM orleans_reminders WHERE grainid LIKE '%127.0.0.20'"));
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT count(*) FROM targets WHERE ip = '127.0.0.20'"));
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT count(*) FROM target_vantages WHERE ip = '127.0.0.20'"));
        Assert.Equal(1, await db.ScalarAsync<long>("SELECT count(*) FROM measurements WHERE target = '127.0.0.20'"));
    }

    [Fact]
    public async Task A_due_target_is_measured_again_by_its_schedule_shard_within_a_tick()
    {
        await ClusterWait(async () => await db.ScalarAsync<long>(
            "SELECT count(*) FROM orleans_reminders WHERE remindername = 'vantage-schedule-shard'") == 16);
        await http.PostAsJsonAsync("/targets/enqueue", new { target = "127.0.0.40", source = "api" });
        await ClusterWait(async () => await db.ScalarAsync<bool>(
            "SELECT last_measurement_id IS NOT NULL FROM target_vantages WHERE ip = '127.0.0.40'"));
        var first = await db.ScalarAsync<long>("SELECT last_measurement_id FROM target_vantages WHERE ip = '127.0.0.40'");

        // Due now instead of in a day: the shard's next tick (every 5 s) hands it to the probe queue and leases it.
        await db.ScalarAsync<object>("UPDATE target_vantages SET next_due_at = now() - interval '1 second' WHERE ip = '127.0.0.40'");
        await ClusterWait(async () => await db.ScalarAsync<long>(
            "SELECT count(*) FROM measurements WHERE target = '127.0.0.40'") == 2);
        var second = await db.ScalarAsync<long>("SELECT max(id) FROM measurements WHERE target = '127.0.0.40'");
        Assert.NotEqual(first, second);
        // The measurement reported back set the pair's next due time a day on, replacing the lease.
        await ClusterWait(async () => await db.ScalarAsync<long?>(
            "SELECT last_measurement_id FROM target_vantages WHERE ip = '127.0.0.40'") == second);
        Assert.InRange(await db.ScalarAsync<double>(
            "SELECT extract(epoch FROM next_due_at - now())::float8 / 3600 FROM target_vantages WHERE ip = '127.0.0.40'"), 21, 26.5);
        Assert.Equal(2, await db.ScalarAsync<long>("SELECT count(*) FROM measurements WHERE target = '127.0.0.40'"));
    }

    [Fact]
    public async Task Mtr_and_ping_are_stored_with_their_statistics()
    {
        var mtr = await (await http.PostAsJsonAsync("/mtr/run", new { target = "127.0.0.30" })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("mtr", mtr.GetProperty("measurement").GetProperty("tool").GetString());
        Assert.Equal(0, mtr.GetProperty("hops")[0].GetProperty("lossPct").GetDouble());
        var ping = await (await http.PostAsJsonAsync("/ping/run", new { target = "127.0.0.31" })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("ping", ping.GetProperty("measurement").GetProperty("method").GetString());
        Assert.True(ping.GetProperty("measurement").GetProperty("avgRttMs").GetDouble() > 0);
    }

    private static async Task ClusterWait(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 30 s");
            await Task.Delay(250);
        }
    }
}
