using CyberWatch.Enrichment.Online;
using CyberWatch.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using static CyberWatch.Tests.Enrichment.Online.OnlineTestSupport;

namespace CyberWatch.Tests.Enrichment.Online;

public sealed class OnlineHopEnricherTests
{
    [Fact]
    public async Task Hops_the_prefix_table_missed_get_their_origin_from_team_cymru_in_one_bulk_query_and_are_not_asked_again()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var server = new FakeCymruWhois();
        foreach (var (line, answer) in Recorded.WhoisLines)
        {
            server.Answers[line] = answer;
        }
        await using (var seed = db.DataSource.CreateCommand("""
            INSERT INTO measurements (id, target, tool, method, vantage, started_at, success, enrichment_state)
            VALUES (1, '8.8.8.8', 'scamper', 'icmp-paris', 'vp1', '2026-11-30 10:00+00', true, 'partial'),
                   (2, '203.0.114.1', 'scamper', 'icmp-paris', 'vp1', '2026-11-30 11:00+00', true, 'partial');
            INSERT INTO hops (measurement_id, measured_at, ttl, address, address_class, asn, enrichment_error) VALUES
                (1, '2026-11-30 10:00+00', 1, '192.168.1.1', 'private', NULL, NULL),
                (1, '2026-11-30 10:00+00', 2, '185.1.2.3', 'global', NULL, 'no covering prefix in the prefix table'),
                (1, '2026-11-30 10:00+00', 3, '216.90.108.31', 'global', 23028, NULL),
                (1, '2026-11-30 10:00+00', 4, '8.8.8.8', 'global', NULL, 'no prefix data configured'),
                (2, '2026-11-30 11:00+00', 1, '8.8.8.8', 'global', NULL, 'no prefix data configured'),
                (2, '2026-11-30 11:00+00', 2, '203.0.114.1', 'global', NULL, 'no covering prefix in the prefix table');
            """))
        {
            await seed.ExecuteNonQueryAsync();
        }
        var options = WhoisOptions(server.Port);
        using var cymru = Cymru(options, new EnrichmentCache(db.DataSource, TimeProvider.System));
        var enricher = new OnlineHopEnricher(db.DataSource, [new CymruOriginSource(cymru)], NullLogger<OnlineHopEnricher>.Instance);

        Assert.Equal(4, await enricher.RunOnceAsync(200, CancellationToken.None));

        Assert.Single(server.Connections);
        Assert.Equal(["185.1.2.3", "203.0.114.1", "8.8.8.8"], server.ReceivedLines.Order().ToArray());
        Assert.Equal(15169L, await db.ScalarAsync<long>("SELECT asn FROM hops WHERE measurement_id = 1 AND ttl = 4"));
        Assert.Equal(15169L, await db.ScalarAsync<long>("SELECT asn FROM hops WHERE measurement_id = 2 AND ttl = 1"));
        Assert.Equal("8.8.8.0/24", await db.ScalarAsync<string>("SELECT prefix::text FROM hops WHERE measurement_id = 1 AND ttl = 4"));
        Assert.Equal("GOOGLE, US", await db.ScalarAsync<string>("SELECT org FROM hops WHERE measurement_id = 1 AND ttl = 4"));
        Assert.Equal("US", await db.ScalarAsync<string>("SELECT country FROM hops WHERE measurement_id = 1 AND ttl = 4"));
        Assert.True(await db.ScalarAsync<bool>("SELECT enrichment_error IS NULL FROM hops WHERE measurement_id = 1 AND ttl = 4"));
        Assert.Equal("{64496,64497}", await db.ScalarAsync<string>("SELECT origin_asns::text FROM hops WHERE measurement_id = 1 AND ttl = 2"));
        Assert.Equal(OnlineHopEnricher.NotRouted, await db.ScalarAsync<string>("SELECT enrichment_error FROM hops WHERE measurement_id = 2 AND ttl = 2"));
        Assert.True(await db.ScalarAsync<bool>("SELECT asn IS NULL AND address_class = 'private' FROM hops WHERE measurement_id = 1 AND ttl = 1"));
        Assert.Equal("done", await db.ScalarAsync<string>("SELECT enrichment_state FROM measurements WHERE id = 1"));
        Assert.Equal("partial", await db.ScalarAsync<string>("SELECT enrichment_state FROM measurements WHERE id = 2"));

        // Nothing left to ask: no hot loop on the address nobody routes.
        Assert.Equal(0, await enricher.RunOnceAsync(200, CancellationToken.None));
        Assert.Single(server.Connections);
    }

    [Fact]
    public async Task Ip_api_and_ipinfo_map_in_turn_what_team_cymru_did_not_and_a_failing_source_leaves_its_addresses_for_later()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var whois = new FakeCymruWhois();
        foreach (var (line, answer) in Recorded.WhoisLines)
        {
            whois.Answers[line] = answer;
        }
        await using var ipApi = await FakeHttpServer.StartAsync();
        ipApi.Routes["/batch"] = request =>
        {
            var asked = System.Text.Json.JsonSerializer.Deserialize<string[]>((string)request.HttpContext.Items["body"]!)!;
            return (200, "[" + string.Join(",", asked.Select(a => Recorded.IpApi.GetValueOrDefault(a) ?? $$"""{"status":"fail","message":"invalid query","query":"{{a}}"}""")) + "]");
        };
        await using var ipInfo = await FakeHttpServer.StartAsync();
        foreach (var (address, body) in Recorded.IpInfo)
        {
            ipInfo.Routes["/" + address] = _ => (200, body);
        }
        ipInfo.Routes["/4.4.4.4"] = _ => (503, "{}");
        await using (var seed = db.DataSource.CreateCommand("""
            INSERT INTO measurements (id, target, tool, method, vantage, started_at, success, enrichment_state)
            VALUES (1, '9.9.9.9', 'scamper', 'icmp-paris', 'vp1', '2026-11-30 10:00+00', true, 'partial');
            INSERT INTO hops (measurement_id, measured_at, ttl, address, address_class, enrichment_error) VALUES
                (1, '2026-11-30 10:00+00', 1, '216.90.108.31', 'global', 'no prefix data configured'),
                (1, '2026-11-30 10:00+00', 2, '1.1.1.1', 'global', 'no prefix data configured'),
                (1, '2026-11-30 10:00+00', 3, '9.9.9.9', 'global', 'no prefix data configured'),
                (1, '2026-11-30 10:00+00', 4, '203.0.114.1', 'global', 'no prefix data configured'),
                (1, '2026-11-30 10:00+00', 5, '4.4.4.4', 'global', 'no prefix data configured');
            """))
        {
            await seed.ExecuteNonQueryAsync();
        }
        await using var services = HttpSourcesTests.Services(db.DataSource, new()
        {
            ["CyberWatch:Online:CymruEnabled"] = "true",
            ["CyberWatch:Online:CymruWhois"] = $"127.0.0.1:{whois.Port}",
            ["CyberWatch:Online:IpApiEnabled"] = "true",
            ["CyberWatch:Online:IpApiUrl"] = ipApi.Url,
            ["CyberWatch:Online:IpApiKey"] = "pro-key",
            ["CyberWatch:Online:IpInfoEnabled"] = "true",
            ["CyberWatch:Online:IpInfoUrl"] = ipInfo.Url,
            ["CyberWatch:Online:IpInfoToken"] = "tok",
            ["CyberWatch:Online:CymruRatePerMinute"] = "6000",
            ["CyberWatch:Online:IpApiRatePerMinute"] = "6000",
            ["CyberWatch:Online:IpInfoRatePerMinute"] = "6000",
            ["CyberWatch:Online:Retries"] = "0",
        });
        var enricher = services.GetRequiredService<OnlineHopEnricher>();

        Assert.Equal(4, await enricher.RunOnceAsync(200, CancellationToken.None));

        Assert.Equal(5, whois.ReceivedLines.Count);
        var batch = Assert.Single(ipApi.Requests);
        Assert.Equal("POST", batch.Method);
        Assert.Contains("key=pro-key", batch.Query);
        Assert.Equal(["1.1.1.1", "203.0.114.1", "4.4.4.4", "9.9.9.9"], System.Text.Json.JsonSerializer.Deserialize<string[]>(batch.Body)!.Order().ToArray());
        Assert.Equal(["/203.0.114.1", "/4.4.4.4", "/9.9.9.9"], ipInfo.Requests.Select(r => r.Path).Order().ToArray());
        Assert.All(ipInfo.Requests, r => Assert.Equal("Bearer tok", r.Authorization));

        Assert.Equal(23028L, await db.ScalarAsync<long>("SELECT asn FROM hops WHERE ttl = 1"));
        Assert.Equal(13335L, await db.ScalarAsync<long>("SELECT asn FROM hops WHERE ttl = 2"));
        Assert.Equal("CLOUDFLARENET", await db.ScalarAsync<string>("SELECT org FROM hops WHERE ttl = 2"));
        Assert.Equal("AU", await db.ScalarAsync<string>("SELECT country FROM hops WHERE ttl = 2"));
        Assert.True(await db.ScalarAsync<bool>("SELECT prefix IS NULL FROM hops WHERE ttl = 2"));
        Assert.Equal(19281L, await db.ScalarAsync<long>("SELECT asn FROM hops WHERE ttl = 3"));
        Assert.Equal("Quad9", await db.ScalarAsync<string>("SELECT org FROM hops WHERE ttl = 3"));
        Assert.Equal(OnlineHopEnricher.NotRouted, await db.ScalarAsync<string>("SELECT enrichment_error FROM hops WHERE ttl = 4"));
        // ipinfo failed on 4.4.4.4: left as it was, asked again next time.
        Assert.Equal("no prefix data configured", await db.ScalarAsync<string>("SELECT enrichment_error FROM hops WHERE ttl = 5"));
        Assert.Equal("partial", await db.ScalarAsync<string>("SELECT enrichment_state FROM measurements WHERE id = 1"));

        ipInfo.Routes["/4.4.4.4"] = _ => (200, """{"ip": "4.4.4.4", "country": "US", "org": "AS3356 Level 3 Parent, LLC"}""");
        Assert.Equal(1, await enricher.RunOnceAsync(200, CancellationToken.None));
        Assert.Equal(3356L, await db.ScalarAsync<long>("SELECT asn FROM hops WHERE ttl = 5"));
        Assert.Equal(4, ipInfo.Requests.Count); // the others came from the cache
        Assert.Equal("partial", await db.ScalarAsync<string>("SELECT enrichment_state FROM measurements WHERE id = 1"));
    }
}
