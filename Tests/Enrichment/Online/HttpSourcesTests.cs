using CyberWatch.Configuration;
using CyberWatch.Enrichment.Online;
using CyberWatch.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace CyberWatch.Tests.Enrichment.Online;

/// <summary>PeeringDB and RIPEstat clients as the node wires them (AddOnlineEnrichment), against local HTTP servers.</summary>
public sealed class HttpSourcesTests
{
    internal static ServiceProvider Services(NpgsqlDataSource dataSource, Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(dataSource);
        services.AddOnlineEnrichment(configuration);
        return services.BuildServiceProvider();
    }

    internal static Dictionary<string, string?> PeeringDb(FakeHttpServer server, double ratePerMinute = 6000) => new()
    {
        ["CyberWatch:Online:PeeringDbEnabled"] = "true",
        ["CyberWatch:Online:PeeringDbUrl"] = server.Url,
        ["CyberWatch:Online:PeeringDbRatePerMinute"] = ratePerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["CyberWatch:Online:Retries"] = "2",
        ["CyberWatch:Online:TimeoutSeconds"] = "5",
    };

    [Fact]
    public async Task PeeringDb_net_object_is_read_with_the_api_key_and_cached_answers_are_not_asked_again()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var server = await FakeHttpServer.StartAsync();
        server.Routes["/api/net"] = request => (200, request.Query["asn"] == "23028" ? Recorded.PeeringDbNet23028 : Recorded.PeeringDbEmpty);
        var settings = PeeringDb(server);
        settings["CyberWatch:Online:PeeringDbApiKey"] = "s3cret";
        await using var services = Services(db.DataSource, settings);
        var client = services.GetRequiredService<PeeringDbClient>();

        var net = await client.NetworkAsync(23028, CancellationToken.None);

        Assert.Equal(new PeeringDbNetwork(1853, "Team Cymru", 50, 10, "Selective", "1-5Gbps", "Balanced", "AS-TEAMCYMRU", 4, 7), net);
        var request = Assert.Single(server.Requests);
        Assert.Equal("/api/net", request.Path);
        Assert.Equal("?asn=23028", request.Query);
        Assert.Equal("Api-Key s3cret", request.Authorization);
        Assert.StartsWith("cyberWatch", request.UserAgent);

        Assert.Null(await client.NetworkAsync(64511, CancellationToken.None)); // no PeeringDB record
        Assert.Equal(2, server.Requests.Count);
        Assert.Equal(net, await client.NetworkAsync(23028, CancellationToken.None));
        Assert.Null(await client.NetworkAsync(64511, CancellationToken.None));
        Assert.Equal(2, server.Requests.Count);
    }

    [Fact]
    public async Task PeeringDb_server_errors_are_retried_and_a_dead_source_opens_the_circuit()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var server = await FakeHttpServer.StartAsync();
        var calls = 0;
        server.Routes["/api/net"] = _ => Interlocked.Increment(ref calls) == 1 ? (503, "{}") : (200, Recorded.PeeringDbNet23028);
        await using var services = Services(db.DataSource, PeeringDb(server));
        var client = services.GetRequiredService<PeeringDbClient>();

        Assert.Equal(1853, (await client.NetworkAsync(23028, CancellationToken.None))?.Id);
        Assert.Equal(2, server.Requests.Count);

        server.Routes["/api/net"] = _ => (500, "{}");
        // 1 failure in 2 attempts so far; the breaker opens once half of at least 4 attempts failed.
        await Assert.ThrowsAnyAsync<Exception>(() => client.NetworkAsync(64500, CancellationToken.None));
        var afterOpen = server.Requests.Count;
        Assert.InRange(afterOpen, 4, 5);
        await Assert.ThrowsAsync<Polly.CircuitBreaker.BrokenCircuitException>(() => client.NetworkAsync(64501, CancellationToken.None));
        Assert.Equal(afterOpen, server.Requests.Count);
    }

    [Fact]
    public async Task PeeringDb_requests_are_spaced_by_its_rate_limit()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var server = await FakeHttpServer.StartAsync();
        server.Routes["/api/net"] = _ => (200, Recorded.PeeringDbEmpty);
        await using var services = Services(db.DataSource, PeeringDb(server, ratePerMinute: 120)); // one every 500 ms
        var client = services.GetRequiredService<PeeringDbClient>();
        // Warm up (first connection, JIT), so arrival times at the server are send times.
        await client.NetworkAsync(64499, CancellationToken.None);
        await Task.Delay(600);

        await Task.WhenAll(Enumerable.Range(64500, 4).Select(asn => client.NetworkAsync(asn, CancellationToken.None)));

        // The bucket holds one token and gets one every 500 ms: the first request may go just before a refill.
        Assert.Equal(5, server.Requests.Count);
        var at = server.Requests.Skip(1).Select(r => r.At).Order().ToArray();
        Assert.True(at[^1] - at[0] >= TimeSpan.FromMilliseconds(900), $"4 requests at 2/s spread over only {(at[^1] - at[0]).TotalMilliseconds} ms");
        for (var i = 2; i < at.Length; i++)
        {
            Assert.True(at[i] - at[i - 1] >= TimeSpan.FromMilliseconds(400), $"requests {i - 1} and {i} only {(at[i] - at[i - 1]).TotalMilliseconds} ms apart");
        }
    }

    [Fact]
    public async Task RipeStat_combines_overview_neighbours_and_announced_prefixes_and_sends_sourceapp()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var server = await FakeHttpServer.StartAsync();
        server.Routes["/data/as-overview/data.json"] = _ => (200, Recorded.RipeStatAsOverview);
        server.Routes["/data/asn-neighbours/data.json"] = _ => (200, Recorded.RipeStatNeighbours);
        server.Routes["/data/announced-prefixes/data.json"] = _ => (200, Recorded.RipeStatAnnouncedPrefixes);
        await using var services = Services(db.DataSource, new()
        {
            ["CyberWatch:Online:RipeStatEnabled"] = "true",
            ["CyberWatch:Online:RipeStatUrl"] = server.Url + "/",
            ["CyberWatch:Online:RipeStatSourceApp"] = "cw-test",
            ["CyberWatch:Online:RipeStatRatePerMinute"] = "6000",
        });
        var client = services.GetRequiredService<RipeStatClient>();

        Assert.Equal(new RipeStatAs("TEAMCYMRU - SAUNET", true, 2, 3), await client.AsAsync(23028, CancellationToken.None));

        Assert.Equal(3, server.Requests.Count);
        Assert.All(server.Requests, r => Assert.Equal("?resource=AS23028&sourceapp=cw-test", r.Query));
        Assert.Equal(["/data/announced-prefixes/data.json", "/data/as-overview/data.json", "/data/asn-neighbours/data.json"],
            server.Requests.Select(r => r.Path).Order().ToArray());
        await client.AsAsync(23028, CancellationToken.None);
        Assert.Equal(3, server.Requests.Count);
    }

    [Fact]
    public void Sources_are_off_by_default_and_bad_settings_name_their_variable()
    {
        var services = new ServiceCollection();
        services.AddOnlineEnrichment(new ConfigurationBuilder().Build());
        Assert.DoesNotContain(services, s => s.ServiceType == typeof(AsnMetadataRefresher) || s.ServiceType == typeof(CymruClient));

        var bad = Assert.Throws<ConfigurationException>(() => new ServiceCollection().AddOnlineEnrichment(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["CyberWatch:Online:PeeringDbEnabled"] = "true", ["CyberWatch:Online:PeeringDbUrl"] = "ftp://x" })
            .Build()));
        Assert.Contains("CYBERWATCH_PEERINGDB_URL", bad.Message);
        bad = Assert.Throws<ConfigurationException>(() => new ServiceCollection().AddOnlineEnrichment(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["CyberWatch:Online:CymruEnabled"] = "true", ["CyberWatch:Online:CymruWhois"] = "host:notaport" })
            .Build()));
        Assert.Contains("CYBERWATCH_CYMRU_WHOIS", bad.Message);
        bad = Assert.Throws<ConfigurationException>(() => new ServiceCollection().AddOnlineEnrichment(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["CyberWatch:Online:CymruEnabled"] = "maybe" })
            .Build()));
        Assert.Contains("CYBERWATCH_CYMRU_ENABLED 'maybe'", bad.Message);
        Assert.Equal("CyberWatch:Online:PeeringDbUrl", EnvironmentVariables.Map["CYBERWATCH_PEERINGDB_URL"]);
    }
}
