using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace CyberWatch.Tests.Api;

/// <summary>Settings, series, exports, summaries and the OpenAPI document, on a real silo and API.</summary>
public sealed class SettingsAndHistoryTests(ApiNode node) : IClassFixture<ApiNode>
{
    private HttpClient http => node.Http;

    [Fact]
    public async Task Settings_are_listed_read_with_their_schema_and_changed_live_by_the_silos()
    {
        var all = await http.GetFromJsonAsync<JsonElement>("/settings");
        Assert.Contains("worker_settings", all.EnumerateArray().Select(e => e.GetProperty("key").GetString()));
        var worker = await http.GetFromJsonAsync<JsonElement>("/settings/worker_settings");
        Assert.Equal("integer", worker.GetProperty("schema").GetProperty("max_ttl").GetProperty("type").GetString());
        var ttlBefore = worker.GetProperty("value").GetProperty("max_ttl").GetInt32();

        var put = await http.PutAsJsonAsync("/settings/worker_settings", new { rate_limit_per_minute = 4321 });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var value = (await put.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("value");
        Assert.Equal(4321, value.GetProperty("rate_limit_per_minute").GetInt32());
        Assert.Equal(ttlBefore, value.GetProperty("max_ttl").GetInt32());
        Assert.Equal(4321, await node.Database.ScalarAsync<int>("SELECT (value->>'rate_limit_per_minute')::int FROM settings WHERE key = 'worker_settings'"));

        // The silo's settings monitor logs the change it applied.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!node.SiloProcess.Output.Contains("4321 probes/min"))
        {
            Assert.True(DateTime.UtcNow < deadline, "the silo did not apply the new rate within 20 s:\n" + node.SiloProcess.Output[^Math.Min(2000, node.SiloProcess.Output.Length)..]);
            await Task.Delay(250);
        }
    }

    [Fact]
    public async Task Shortening_the_remeasurement_interval_brings_the_due_targets_forward()
    {
        await http.PostAsJsonAsync("/targets/enqueue", new { target = "127.0.0.70", source = "static" });
        await WaitAsync("the target measured and due in about a day", () => node.Database.ScalarAsync<bool>(
            "SELECT last_measurement_id IS NOT NULL AND next_due_at > now() + interval '20 hours' FROM target_vantages WHERE ip = '127.0.0.70'"));
        try
        {
            Assert.Equal(HttpStatusCode.OK, (await http.PutAsJsonAsync("/settings/remeasurement_settings", new { interval_minutes = 30 })).StatusCode);
            // The silo reads settings every 2 s and every schedule shard ticks every 5 s.
            await WaitAsync("next_due_at within 30 minutes of the last measurement", () => node.Database.ScalarAsync<bool>(
                "SELECT next_due_at <= last_measured_at + interval '30 minutes' FROM target_vantages WHERE ip = '127.0.0.70'"));
            Assert.Contains("Remeasurement interval is 00:30:00", node.SiloProcess.Output);
        }
        finally
        {
            await http.PutAsJsonAsync("/settings/remeasurement_settings", new { interval_minutes = (double?)null });
        }
    }

    private async Task WaitAsync(string what, Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(45);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"not within 45 s: {what}\n" + node.SiloProcess.Output[^Math.Min(3000, node.SiloProcess.Output.Length)..]);
            await Task.Delay(250);
        }
    }

    [Fact]
    public async Task A_bad_setting_is_refused_field_by_field_and_nothing_is_written()
    {
        var before = await node.Database.ScalarAsync<string>("SELECT value::text FROM settings WHERE key = 'worker_settings'");
        var bad = await http.PutAsJsonAsync("/settings/worker_settings", new
        {
            max_ttl = 0,
            worker_count = "many",
            default_method = "-oX",
            hop_feedback_enabled = 1,
            per_prefix_interval_seconds = 1.5,
            probe_attempts = 2.5,
            shell = "rm -rf /",
        });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var errors = (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Equal("must be integer from 1 to 255", errors.GetProperty("max_ttl")[0].GetString());
        Assert.StartsWith("must be a number", errors.GetProperty("worker_count")[0].GetString());
        Assert.StartsWith("must be one of icmp-paris", errors.GetProperty("default_method")[0].GetString());
        Assert.Equal("must be true or false", errors.GetProperty("hop_feedback_enabled")[0].GetString());
        Assert.StartsWith("must be a whole number", errors.GetProperty("probe_attempts")[0].GetString());
        Assert.StartsWith("unknown field of worker_settings", errors.GetProperty("shell")[0].GetString());
        Assert.False(errors.TryGetProperty("per_prefix_interval_seconds", out _));
        Assert.Equal(before, await node.Database.ScalarAsync<string>("SELECT value::text FROM settings WHERE key = 'worker_settings'"));

        Assert.Equal(HttpStatusCode.BadRequest, (await http.PutAsJsonAsync("/settings/worker_settings", new[] { 1 })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PutAsJsonAsync("/settings/worker_settings", new { })).StatusCode);
        var unknown = await http.PutAsJsonAsync("/settings/nope", new { a = 1 });
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("worker_settings", await unknown.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/settings/nope")).StatusCode);

        Assert.Equal(HttpStatusCode.Forbidden, (await node.Client(node.ProbeKey).GetAsync("/settings")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await node.Client(node.ReadKey).PutAsJsonAsync("/settings/worker_settings", new { max_ttl = 20 })).StatusCode);
    }

    [Fact]
    public async Task Series_exports_and_summary_tell_the_same_story_as_the_stored_measurements()
    {
        var run = await http.PostAsJsonAsync("/traceroute/run", new { target = "127.0.0.61" });
        Assert.Equal(HttpStatusCode.OK, run.StatusCode);
        var result = await run.Content.ReadFromJsonAsync<JsonElement>();
        var id = result.GetProperty("measurement").GetProperty("id").GetInt64();
        Assert.Equal(1, result.GetProperty("summary").GetProperty("respondingHops").GetInt32());

        // Two older measurements of the same target, one of them a path change with an AS path through two countries.
        var older = await node.Database.ScalarAsync<long>("""
            WITH m AS (INSERT INTO measurements (target, tool, method, vantage, started_at, success, hop_count, responding_hops, dest_rtt_ms)
                       VALUES ('127.0.0.61', 'scamper', 'icmp-paris', 'test', now() - interval '2 hours', true, 3, 2, 12.5),
                              ('127.0.0.61', 'scamper', 'icmp-paris', 'test', now() - interval '1 hour', true, 4, 4, 20.25)
                       RETURNING id, started_at, hop_count)
            SELECT max(id) FROM m
            """);
        await node.Database.ScalarAsync<object>($"""
            INSERT INTO hops (measurement_id, measured_at, ttl, address, rtt_ms, asn, country, org)
            VALUES ({older}, now() - interval '1 hour', 1, '127.0.0.1', 1.0, 64500, 'NL', '=cmd|calc'),
                   ({older}, now() - interval '1 hour', 2, NULL, NULL, NULL, NULL, NULL),
                   ({older}, now() - interval '1 hour', 3, '127.0.0.2', 10.0, 64501, 'DE', 'Org, "quoted"'),
                   ({older}, now() - interval '1 hour', 4, '127.0.0.61', 20.25, 64501, 'DE', NULL);
            INSERT INTO path_changes (target, detected_at, kind, measurement_id, before, after, vantage)
            VALUES ('127.0.0.61', now() - interval '1 hour', 'as_path', {older}, '[64500]', '[64500, 64501]', 'test');
            """);

        var rtt = await http.GetFromJsonAsync<JsonElement>("/targets/127.0.0.61/series?metric=rtt");
        var points = rtt.GetProperty("points").EnumerateArray().ToList();
        Assert.Equal(3, points.Count);
        Assert.Equal(12.5, points[0].GetProperty("value").GetDouble());
        Assert.Equal(id, points[2].GetProperty("measurementId").GetInt64());
        Assert.Equal("as_path", rtt.GetProperty("changes")[0].GetProperty("kind").GetString());
        var hops = await http.GetFromJsonAsync<JsonElement>(
            $"/targets/127.0.0.61/series?metric=hops&from={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddMinutes(-90).ToString("O"))}");
        Assert.Equal([4.0, 1.0], hops.GetProperty("points").EnumerateArray().Select(p => p.GetProperty("value").GetDouble()));
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/targets/127.0.0.61/series?metric=bandwidth")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/targets/127.0.0.61/series?metric=rtt&from=yesterday")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/targets/127.0.0.61/series?metric=rtt&from=2026-02-01&to=2026-01-01")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/targets/not-an-ip/series?metric=rtt")).StatusCode);

        var summary = await http.GetFromJsonAsync<JsonElement>($"/measurements/{older}/summary");
        Assert.Equal(4, summary.GetProperty("hopCount").GetInt32());
        Assert.Equal(3, summary.GetProperty("respondingHops").GetInt32());
        Assert.Equal(25.0, summary.GetProperty("lossPct").GetDouble());
        Assert.Equal([64500L, 64501L], summary.GetProperty("asPath").EnumerateArray().Select(a => a.GetInt64()));
        Assert.Equal(2, summary.GetProperty("asCount").GetInt32());
        Assert.Equal(["NL", "DE"], summary.GetProperty("countries").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal(1.0, summary.GetProperty("rttMinMs").GetDouble());
        Assert.Equal(20.25, summary.GetProperty("rttMaxMs").GetDouble());
        Assert.True(summary.GetProperty("reachedTarget").GetBoolean());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/measurements/987654321/summary")).StatusCode);

        var jsonl = await http.GetAsync("/measurements/export?target=127.0.0.61&format=jsonl");
        Assert.Equal("application/x-ndjson", jsonl.Content.Headers.ContentType?.MediaType);
        var lines = (await jsonl.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        var second = JsonDocument.Parse(lines[1]).RootElement;
        Assert.Equal(older, second.GetProperty("id").GetInt64());
        Assert.Equal(4, second.GetProperty("hops").GetArrayLength());
        Assert.Equal(0, JsonDocument.Parse(lines[0]).RootElement.GetProperty("hops").GetArrayLength());

        var csv = await http.GetAsync("/measurements/export?target=127.0.0.61&format=csv");
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        Assert.Contains("attachment", csv.Content.Headers.ContentDisposition?.ToString());
        var rows = (await csv.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("measurement_id,started_at,target", rows[0]);
        Assert.Equal(1 + 1 + 4 + 1, rows.Length);
        Assert.Contains(rows, r => r.Contains("\"Org, \"\"quoted\"\"\""));
        Assert.Contains(rows, r => r.Contains(",'=cmd|calc,"));
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/measurements/export?target=127.0.0.61&format=xml")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/measurements/export?target=127.0.0.61&from=2020-01-01T00:00:00Z")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/measurements/export?target=-oX")).StatusCode);
    }

    [Fact]
    public async Task Series_and_exports_carry_the_vantage_of_each_measurement_and_keep_one_vantage_when_asked()
    {
        // Two vantages measure one target, interleaved; each sees its own path change.
        var ids = await node.Database.ScalarAsync<long[]>("""
            WITH m AS (INSERT INTO measurements (target, tool, method, vantage, started_at, success, hop_count, responding_hops, dest_rtt_ms)
                       VALUES ('127.0.0.62', 'scamper', 'icmp-paris', 'home',   now() - interval '40 minutes', true, 3, 3, 10.0),
                              ('127.0.0.62', 'scamper', 'icmp-paris', 'office', now() - interval '30 minutes', true, 5, 5, 30.0),
                              ('127.0.0.62', 'scamper', 'icmp-paris', 'home',   now() - interval '20 minutes', true, 4, 4, 11.0),
                              ('127.0.0.62', 'scamper', 'icmp-paris', 'office', now() - interval '10 minutes', true, 6, 6, 32.0)
                       RETURNING id, started_at)
            SELECT array_agg(id ORDER BY started_at) FROM m
            """) ?? [];
        await node.Database.ScalarAsync<object>($"""
            INSERT INTO hops (measurement_id, measured_at, ttl, address, rtt_ms)
            VALUES ({ids[2]}, now() - interval '20 minutes', 1, '127.0.0.62', 11.0),
                   ({ids[3]}, now() - interval '10 minutes', 1, '127.0.0.1', 1.0),
                   ({ids[3]}, now() - interval '10 minutes', 2, '127.0.0.62', 32.0);
            INSERT INTO path_changes (target, detected_at, kind, measurement_id, previous_measurement_id, before, after, vantage)
            VALUES ('127.0.0.62', now() - interval '20 minutes', 'ip_path', {ids[2]}, {ids[0]}, '[]', '[]', 'home'),
                   ('127.0.0.62', now() - interval '10 minutes', 'as_path', {ids[3]}, {ids[1]}, '[]', '[]', 'office');
            """);

        var all = await http.GetFromJsonAsync<JsonElement>("/targets/127.0.0.62/series?metric=rtt");
        Assert.Equal(["home", "office", "home", "office"], all.GetProperty("points").EnumerateArray().Select(p => p.GetProperty("vantage").GetString()));
        Assert.Equal(["home", "office"], all.GetProperty("changes").EnumerateArray().Select(c => c.GetProperty("vantage").GetString()));

        var office = await http.GetFromJsonAsync<JsonElement>("/targets/127.0.0.62/series?metric=hops&vantage=office");
        Assert.Equal([5.0, 6.0], office.GetProperty("points").EnumerateArray().Select(p => p.GetProperty("value").GetDouble()));
        Assert.All(office.GetProperty("points").EnumerateArray(), p => Assert.Equal("office", p.GetProperty("vantage").GetString()));
        var officeChange = Assert.Single(office.GetProperty("changes").EnumerateArray());
        Assert.Equal(ids[3], officeChange.GetProperty("measurementId").GetInt64());
        Assert.Empty((await http.GetFromJsonAsync<JsonElement>("/targets/127.0.0.62/series?metric=rtt&vantage=elsewhere")).GetProperty("points").EnumerateArray());

        var lines = (await http.GetStringAsync("/measurements/export?target=127.0.0.62&format=jsonl"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["home", "office", "home", "office"], lines.Select(l => l.GetProperty("vantage").GetString()));
        var homeLines = (await http.GetStringAsync("/measurements/export?target=127.0.0.62&format=jsonl&vantage=home"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([ids[0], ids[2]], homeLines.Select(l => l.GetProperty("id").GetInt64()));

        var csv = await http.GetAsync("/measurements/export?target=127.0.0.62&format=csv&vantage=office");
        Assert.Contains("-office-", csv.Content.Headers.ContentDisposition?.ToString());
        var rows = (await csv.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var vantageColumn = Array.IndexOf(rows[0].Split(','), "vantage");
        Assert.True(vantageColumn >= 0, rows[0]);
        // The office's first measurement has no hop (one row), its second two.
        Assert.Equal(["office", "office", "office"], rows[1..].Select(r => r.Split(',')[vantageColumn]));
        var allRows = (await http.GetStringAsync("/measurements/export?target=127.0.0.62&format=csv")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1 + 1 + 1 + 1 + 2, allRows.Length);

        foreach (var url in new[]
        {
            "/targets/127.0.0.62/series?metric=rtt&vantage=-oX", "/targets/127.0.0.62/series?metric=rtt&vantage=a%20b",
            "/measurements/export?target=127.0.0.62&vantage=-oX", $"/measurements/export?target=127.0.0.62&vantage={new string('a', 64)}",
        })
        {
            var response = await http.GetAsync(url);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("vantage", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task Every_endpoint_of_the_openapi_document_answers_without_a_server_error()
    {
        var document = await node.Client(null).GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var paths = document.GetProperty("paths");
        foreach (var path in new[] { "/settings", "/settings/{key}", "/targets/{ip}/series", "/measurements/export", "/measurements/{id}/summary", "/traceroute/run" })
        {
            Assert.True(paths.TryGetProperty(path, out _), $"{path} is not in the OpenAPI document");
        }
        Assert.DoesNotContain(paths.EnumerateObject(), p => p.Name.StartsWith("/dashboard", StringComparison.Ordinal));
        Assert.Equal("bearer", document.GetProperty("components").GetProperty("securitySchemes").GetProperty("ApiKey").GetProperty("scheme").GetString());
        var checkedCount = 0;
        foreach (var path in paths.EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                var url = path.Name.Replace("{ip}", "127.0.0.99").Replace("{id}", "1").Replace("{asn}", "64500").Replace("{key}", "enrichment_settings")
                    .Replace("{a}", "64500").Replace("{b}", "64501");
                url += path.Name switch
                {
                    "/targets/{ip}/series" => "?metric=rtt",
                    "/measurements/latest" or "/traceroute/history" or "/measurements/export" => "?target=127.0.0.99",
                    "/graph/path" => "?src_asn=64500&dst_asn=64501",
                    "/graph/topology" => "?asn=64500",
                    _ => "",
                };
                using var request = new HttpRequestMessage(new HttpMethod(operation.Name.ToUpperInvariant()), url);
                if (operation.Name is "post" or "put")
                {
                    request.Content = JsonContent.Create(path.Name == "/settings/{key}" ? (object)new { poll_interval_seconds = 10 } : new { });
                }
                var response = await http.SendAsync(request);
                Assert.True((int)response.StatusCode < 500, $"{operation.Name.ToUpperInvariant()} {url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}\n"
                    // Seen once under CI load (GET /asn/64500), never here: the API's own account of it.
                    + string.Join('\n', node.ApiProcess.Output.Split('\n').Where(l => l.Contains("xception") || l.Contains("fail")).TakeLast(20)));
                Assert.NotEqual(HttpStatusCode.Unauthorized, response.StatusCode);
                Assert.NotEqual(HttpStatusCode.MethodNotAllowed, response.StatusCode);
                checkedCount++;
            }
        }
        Assert.True(checkedCount >= 25, $"only {checkedCount} operations in the document");
    }
}
