using System.Net.Http.Json;
using System.Text.Json;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Enrichment.Online;

/// <summary>The online sources configured by environment variables on a real silo and API process.</summary>
public sealed class OnlineNodeTests
{
    [Fact]
    public async Task A_node_configured_by_environment_serves_the_metadata_of_an_as_over_http_and_fills_asns()
    {
        if (Environment.UserName != "root" || !File.Exists("/usr/bin/scamper"))
        {
            Assert.Skip("the silo needs root and scamper to start its probe engine");
        }
        await using var db = await TestDatabase.CreateAsync();
        await using var whois = new FakeCymruWhois();
        foreach (var (line, answer) in Recorded.WhoisLines)
        {
            whois.Answers[line] = answer;
        }
        await using var web = await FakeHttpServer.StartAsync();
        web.Routes["/api/net"] = request => (200, request.Query["asn"] == "23028" ? Recorded.PeeringDbNet23028 : Recorded.PeeringDbEmpty);
        web.Routes["/data/as-overview/data.json"] = _ => (200, Recorded.RipeStatAsOverview);
        web.Routes["/data/asn-neighbours/data.json"] = _ => (200, Recorded.RipeStatNeighbours);
        web.Routes["/data/announced-prefixes/data.json"] = _ => (200, Recorded.RipeStatAnnouncedPrefixes);

        var node = new NodeEnvironment(db.ConnectionString, "cw-" + Guid.NewGuid().ToString("n")[..8]);
        var siloEnvironment = node.Silo(out _, out _, out var siloHttp);
        siloEnvironment["CYBERWATCH_CYMRU_ENABLED"] = "true";
        siloEnvironment["CYBERWATCH_CYMRU_WHOIS"] = $"127.0.0.1:{whois.Port}";
        siloEnvironment["CYBERWATCH_PEERINGDB_ENABLED"] = "true";
        siloEnvironment["CYBERWATCH_PEERINGDB_URL"] = web.Url;
        siloEnvironment["CYBERWATCH_PEERINGDB_API_KEY"] = "node-key";
        siloEnvironment["CYBERWATCH_RIPESTAT_ENABLED"] = "true";
        siloEnvironment["CYBERWATCH_RIPESTAT_URL"] = web.Url;
        siloEnvironment["CYBERWATCH_RIPESTAT_SOURCEAPP"] = "cw-node-test";
        siloEnvironment["CYBERWATCH_RIPESTAT_RATE_PER_MINUTE"] = "600";
        siloEnvironment["CYBERWATCH_PEERINGDB_RATE_PER_MINUTE"] = "600";
        await using var silo = NodeProcess.Start(Repository.SiloDll, siloEnvironment, "run");
        await silo.WaitForHttpAsync($"{siloHttp}/healthz", TimeSpan.FromSeconds(90));
        await using var api = NodeProcess.Start(Repository.ApiDll, node.Api(out var url));
        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };
        await api.WaitForHttpAsync($"{url}/ready", TimeSpan.FromSeconds(90));

        // GET /asn asks the online sources only about an AS the node has seen (a row in asns, as observing it leaves).
        await db.ScalarAsync<object>("INSERT INTO asns (asn, measurement_count) VALUES (23028, 1)");
        JsonElement metadata = default;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            using var response = await http.GetAsync("/asn/AS23028");
            if (response.IsSuccessStatusCode)
            {
                var body = await response.Content.ReadFromJsonAsync<JsonElement>();
                if (body.TryGetProperty("metadata", out metadata) && metadata.ValueKind == JsonValueKind.Object)
                {
                    break;
                }
            }
            Assert.True(DateTime.UtcNow < deadline, $"no metadata for AS23028 within 30 s; silo output:\n{silo.Output}");
            await Task.Delay(200);
        }

        Assert.Equal("TEAMCYMRU - SAUNET", metadata.GetProperty("orgName").GetString());
        Assert.Equal("US", metadata.GetProperty("country").GetString());
        Assert.Equal(1853, metadata.GetProperty("peeringDbId").GetInt32());
        Assert.Equal("Selective", metadata.GetProperty("peeringPolicy").GetString());
        Assert.Equal(3, metadata.GetProperty("neighborCount").GetInt32());
        Assert.Equal("ripestat", metadata.GetProperty("sources").GetProperty("org_name").GetString());
        Assert.Equal("peeringdb", metadata.GetProperty("sources").GetProperty("facility_count").GetString());
        Assert.Equal("cymru", metadata.GetProperty("sources").GetProperty("country").GetString());
        Assert.True(metadata.GetProperty("lastEnriched").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
        Assert.Contains(web.Requests, r => r.Path == "/api/net" && r.Authorization == "Api-Key node-key");
        Assert.Contains(web.Requests, r => r.Path == "/data/as-overview/data.json" && r.Query.Contains("sourceapp=cw-node-test"));
        Assert.Contains("AS23028", whois.ReceivedLines);
        var deadlineRow = DateTime.UtcNow.AddSeconds(10);
        while (await db.ScalarAsync<int?>("SELECT peeringdb_id FROM asns WHERE asn = 23028") != 1853)
        {
            Assert.True(DateTime.UtcNow < deadlineRow, "asns row not written within 10 s");
            await Task.Delay(200);
        }
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM enrichment_cache WHERE source = 'peeringdb'"));
    }

    [Fact]
    public async Task A_malformed_online_setting_stops_the_silo_with_one_line_naming_the_variable()
    {
        var environment = new NodeEnvironment(TestDatabase.AdminConnectionString(), "cw-test").Silo(out _, out _, out _);
        environment["CYBERWATCH_PEERINGDB_ENABLED"] = "true";
        environment["CYBERWATCH_PEERINGDB_URL"] = "ftp://peeringdb.example";
        await using var silo = NodeProcess.Start(Repository.SiloDll, environment, "run");
        var (exitCode, output) = await silo.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(2, exitCode);
        Assert.Contains(output.Split('\n'), l => l.StartsWith("stderr: ", StringComparison.Ordinal) && l.Contains("CYBERWATCH_PEERINGDB_URL"));
        Assert.DoesNotContain("   at ", output);
    }
}
