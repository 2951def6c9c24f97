using CyberWatch.Enrichment;
using CyberWatch.Enrichment.Online;
using CyberWatch.Silo;
using CyberWatch.Tests.Infrastructure;
using CyberWatch.Topology;
using CyberWatch.WebApi.Endpoints;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace CyberWatch.Tests.Enrichment.Online;

/// <summary>AS metadata from all three sources: fetcher, asns table, ASN grain and GET /asn/{asn}.</summary>
public sealed class AsnMetadataTests
{
    private sealed class Fakes : IAsyncDisposable
    {
        public FakeCymruWhois Whois { get; } = new();
        public FakeHttpServer PeeringDb { get; private set; } = null!;
        public FakeHttpServer RipeStat { get; private set; } = null!;

        public static async Task<Fakes> StartAsync()
        {
            var fakes = new Fakes { PeeringDb = await FakeHttpServer.StartAsync(), RipeStat = await FakeHttpServer.StartAsync() };
            foreach (var (line, answer) in Recorded.WhoisLines)
            {
                fakes.Whois.Answers[line] = answer;
            }
            fakes.PeeringDb.Routes["/api/net"] = request => (200, request.Query["asn"] == "23028" ? Recorded.PeeringDbNet23028 : Recorded.PeeringDbEmpty);
            fakes.RipeStat.Routes["/data/as-overview/data.json"] = _ => (200, Recorded.RipeStatAsOverview);
            fakes.RipeStat.Routes["/data/asn-neighbours/data.json"] = _ => (200, Recorded.RipeStatNeighbours);
            fakes.RipeStat.Routes["/data/announced-prefixes/data.json"] = _ => (200, Recorded.RipeStatAnnouncedPrefixes);
            return fakes;
        }

        public Dictionary<string, string?> Settings() => new()
        {
            ["CyberWatch:Online:CymruEnabled"] = "true",
            ["CyberWatch:Online:CymruWhois"] = $"127.0.0.1:{Whois.Port}",
            ["CyberWatch:Online:PeeringDbEnabled"] = "true",
            ["CyberWatch:Online:PeeringDbUrl"] = PeeringDb.Url,
            ["CyberWatch:Online:RipeStatEnabled"] = "true",
            ["CyberWatch:Online:RipeStatUrl"] = RipeStat.Url,
            ["CyberWatch:Online:CymruRatePerMinute"] = "6000",
            ["CyberWatch:Online:PeeringDbRatePerMinute"] = "6000",
            ["CyberWatch:Online:RipeStatRatePerMinute"] = "6000",
            ["CyberWatch:Online:Retries"] = "0",
            ["CyberWatch:Online:TtlHours"] = "1",
        };

        public async ValueTask DisposeAsync()
        {
            await Whois.DisposeAsync();
            await PeeringDb.DisposeAsync();
            await RipeStat.DisposeAsync();
        }
    }

    [Fact]
    public async Task Fetcher_names_the_source_of_each_field_keeps_going_when_a_source_fails_and_fills_the_asns_row()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var fakes = await Fakes.StartAsync();
        fakes.RipeStat.Routes["/data/as-overview/data.json"] = _ => (500, "{}");
        await using var services = HttpSourcesTests.Services(db.DataSource, fakes.Settings());
        var fetcher = services.GetRequiredService<AsnMetadataFetcher>();

        var metadata = await fetcher.FetchAsync(23028, CancellationToken.None);

        Assert.NotNull(metadata);
        Assert.Equal("TEAMCYMRU - SAUNET, US", metadata.OrgName); // RIPEstat failed: Team Cymru's name
        Assert.Equal("cymru", metadata.Sources["org_name"]);
        Assert.Equal("US", metadata.Country);
        Assert.Equal("arin", metadata.Registry);
        Assert.Equal(1853, metadata.PeeringDbId);
        Assert.Equal("Team Cymru", metadata.PeeringDbName);
        Assert.Equal(4, metadata.FacilityCount);
        Assert.Equal("Selective", metadata.PeeringPolicy);
        Assert.Equal("1-5Gbps", metadata.TrafficLevel);
        Assert.Equal("AS-TEAMCYMRU", metadata.IrrAsSet);
        Assert.Equal("peeringdb", metadata.Sources["facility_count"]);
        Assert.Null(metadata.NeighborCount);
        Assert.Contains("500", metadata.Errors["ripestat"]);
        Assert.DoesNotContain("peeringdb", metadata.Errors.Keys);

        var table = services.GetRequiredService<AsnMetadataTable>();
        table.Upsert(metadata);
        await table.FlushAsync(CancellationToken.None);
        Assert.Equal("TEAMCYMRU - SAUNET, US", await db.ScalarAsync<string>("SELECT org_name FROM asns WHERE asn = 23028"));
        Assert.Equal(1853, await db.ScalarAsync<int>("SELECT peeringdb_id FROM asns WHERE asn = 23028"));
        Assert.Equal(4, await db.ScalarAsync<int>("SELECT facility_count FROM asns WHERE asn = 23028"));
        Assert.Equal(7, await db.ScalarAsync<int>("SELECT ix_count FROM asns WHERE asn = 23028"));
        Assert.Equal("Selective", await db.ScalarAsync<string>("SELECT peering_policy FROM asns WHERE asn = 23028"));
        Assert.Equal("cymru", await db.ScalarAsync<string>("SELECT metadata_sources->>'org_name' FROM asns WHERE asn = 23028"));
        Assert.Contains("500", await db.ScalarAsync<string>("SELECT enrichment_errors->>'ripestat' FROM asns WHERE asn = 23028"));
        Assert.True(await db.ScalarAsync<bool>("SELECT last_enriched IS NOT NULL FROM asns WHERE asn = 23028"));

        // Every source down: nothing to store, the grain asks again later.
        fakes.PeeringDb.Routes["/api/net"] = _ => (500, "{}");
        await fakes.Whois.DisposeAsync();
        Assert.Null(await fetcher.FetchAsync(64999, CancellationToken.None));
    }

    [Fact]
    public async Task Asn_api_returns_metadata_fetched_in_the_background_and_the_sources_are_asked_once_per_ttl()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var fakes = await Fakes.StartAsync();
        var settings = fakes.Settings();
        var serviceId = "svc-" + Guid.NewGuid().ToString("n")[..8];
        InProcessTestCluster Cluster()
        {
            var builder = new InProcessTestClusterBuilder(1);
            builder.Options.ServiceId = serviceId;
            builder.ConfigureSilo((_, silo) =>
            {
                silo.AddCyberWatchPersistence(db.ConnectionString);
                silo.Services.AddSingleton(db.DataSource);
                var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
                silo.Services.AddTopology(configuration);
                silo.Services.AddOnlineEnrichment(configuration);
            });
            return builder.Build();
        }
        var cluster = Cluster();
        await cluster.DeployAsync();

        var topology = new TopologyQueries(db.DataSource);
        // An AS the node has no row for is 404 and nobody outside is asked about it (anyone may ask for any number).
        Assert.IsType<NotFound<ProblemDetails>>((await GraphApi.AsnAsync("AS64999", cluster.Client, topology, default)).Result);

        // Seen (a row in asns, as observing it leaves) but not enriched yet: 404, and the refresh is queued.
        await db.ScalarAsync<object>("INSERT INTO asns (asn, measurement_count) VALUES (23028, 1)");
        var first = await GraphApi.AsnAsync("AS23028", cluster.Client, topology, default);
        Assert.IsType<NotFound<ProblemDetails>>(first.Result);

        AsnDetails? details = null;
        await WaitUntilAsync(async () =>
        {
            details = (await GraphApi.AsnAsync("23028", cluster.Client, topology, default)).Result is Ok<AsnDetails> ok ? ok.Value : null;
            return details?.Metadata is not null;
        });
        var metadata = details!.Metadata!;
        Assert.Equal("TEAMCYMRU - SAUNET", metadata.OrgName);
        Assert.Equal("ripestat", metadata.Sources["org_name"]);
        Assert.Equal("US", metadata.Country);
        Assert.Equal(1853, metadata.PeeringDbId);
        Assert.Equal(4, metadata.FacilityCount);
        Assert.Equal("Balanced", metadata.TrafficRatio);
        Assert.Equal(7, metadata.IxCount);
        Assert.Equal(3, metadata.NeighborCount);
        Assert.Equal(2, metadata.PrefixCount);
        Assert.Equal("ripestat", metadata.Sources["prefix_count"]);
        Assert.True(metadata.Announced);
        Assert.Empty(metadata.Errors);
        await WaitUntilAsync(async () => await db.ScalarAsync<int?>("SELECT peeringdb_id FROM asns WHERE asn = 23028") == 1853);
        Assert.Equal("TEAMCYMRU - SAUNET", await db.ScalarAsync<string>("SELECT org_name FROM asns WHERE asn = 23028"));
        Assert.Equal(3, await db.ScalarAsync<int>("SELECT routing_neighbor_count FROM asns WHERE asn = 23028"));

        // Within the TTL the grain does not ask again, however often it is read or observed.
        var asked = fakes.PeeringDb.Requests.Count;
        for (var i = 0; i < 5; i++)
        {
            await GraphApi.AsnAsync("23028", cluster.Client, topology, default);
        }
        await cluster.Client.GetGrain<IAsnGrain>(23028).Observe(new AsnObservation(1, "vp1", DateTimeOffset.UtcNow, 3.5, [64500], [], null, null));
        await Task.Delay(500);
        Assert.Equal(asked, fakes.PeeringDb.Requests.Count);
        Assert.Equal(1, fakes.PeeringDb.Requests.Count(r => r.Query == "?asn=23028"));
        Assert.DoesNotContain(fakes.PeeringDb.Requests, r => r.Query == "?asn=64999");

        // A measured AS is enriched after its first observation, without anyone reading it.
        await cluster.Client.GetGrain<IAsnGrain>(15169).Observe(new AsnObservation(2, "vp1", DateTimeOffset.UtcNow, 9, [23028], [], null, null));
        await WaitUntilAsync(async () => await cluster.Client.GetGrain<IAsnGrain>(15169).GetMetadata() is { } m && m.Country == "US");
        Assert.Contains(fakes.PeeringDb.Requests, r => r.Query == "?asn=15169");
        Assert.Null((await cluster.Client.GetGrain<IAsnGrain>(15169).GetMetadata())!.PeeringDbId);
        await cluster.DisposeAsync();

        // After a restart the grain has its metadata from storage and, within the TTL, asks nobody.
        var requests = fakes.PeeringDb.Requests.Count + fakes.RipeStat.Requests.Count + fakes.Whois.Connections.Count;
        await using var restarted = Cluster();
        await restarted.DeployAsync();
        var stored = await restarted.Client.GetGrain<IAsnGrain>(23028).GetMetadata();
        Assert.NotNull(stored);
        Assert.Equal(metadata.LastEnriched, stored.LastEnriched);
        Assert.Equal(1853, stored.PeeringDbId);
        Assert.Equal("ripestat", stored.Sources["org_name"]);
        Assert.Equal(metadata.Sources.Count, stored.Sources.Count);
        await Task.Delay(500);
        Assert.Equal(requests, fakes.PeeringDb.Requests.Count + fakes.RipeStat.Requests.Count + fakes.Whois.Connections.Count);
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"condition not met within {seconds} s");
            await Task.Delay(100);
        }
    }
}
