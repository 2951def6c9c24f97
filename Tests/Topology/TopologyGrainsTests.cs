using System.Net;
using CyberWatch.Silo;
using CyberWatch.Tests.Infrastructure;
using CyberWatch.Topology;
using CyberWatch.WebApi.Endpoints;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace CyberWatch.Tests.Topology;

/// <summary>The topology grains, recorder and graph API on an in-process cluster with the real PostgreSQL providers.</summary>
public sealed class TopologyGrainsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static InProcessTestCluster BuildCluster(TestDatabase db, string serviceId)
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.Options.ServiceId = serviceId;
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddCyberWatchPersistence(db.ConnectionString);
            silo.Services.AddSingleton(db.DataSource);
            silo.Services.AddTopology(new ConfigurationBuilder()
                .AddInMemoryCollection(new Dictionary<string, string?> { [TopologyServiceCollectionExtensions.IxpPrefixesKey] = "LAB-IX=10.99.0.0/24" })
                .Build());
        });
        return builder.Build();
    }

    private static PathHop Hop(int ttl, string address, long? asn, double rtt, string addressClass = "global", string? org = null) =>
        new(ttl, IPAddress.Parse(address), rtt, addressClass, asn, null, null, 0, org, org is null ? null : "NL");

    // The silo's extractor: the pipeline extracts once and hands the recorder the path.
    private static readonly AsPathExtractor Extractor = new(IxpPrefixes.Parse("LAB-IX=10.99.0.0/24", null));

    // 64500 (two hops) → 64510 → IXP LAN → 64520 → silent → 64530 (the destination).
    private static TopologyMeasurement Measurement(long id, DateTimeOffset at, double scale = 1) => new(id, "198.51.100.9", "vp1", at,
        Extractor.Extract(
    [
        Hop(1, "192.168.1.1", null, 0.5 * scale, "private"),
        Hop(2, "198.18.0.1", 64500, 1 * scale, org: "Origin Net"),
        Hop(3, "198.18.0.2", 64500, 2 * scale),
        Hop(4, "198.18.10.1", 64510, 5 * scale),
        Hop(5, "10.99.0.20", null, 6 * scale, "private"),
        Hop(6, "198.18.20.1", 64520, 7 * scale),
        new PathHop(7, null),
        Hop(8, "198.51.100.9", 64530, 9 * scale),
    ]));

    [Fact]
    public async Task Recorded_measurements_update_grains_tables_index_and_the_graph_api()
    {
        await using var db = await TestDatabase.CreateAsync();
        var serviceId = "svc-" + Guid.NewGuid().ToString("n")[..8];
        await using (var cluster = BuildCluster(db, serviceId))
        {
            await cluster.DeployAsync();
            var recorder = cluster.Silos[0].ServiceProvider.GetRequiredService<TopologyRecorder>();

            var path = await recorder.RecordAsync(Measurement(1, T0), CancellationToken.None);
            Assert.Equal("64500 64510 64520 * 64530", path.Text);
            await recorder.RecordAsync(Measurement(1, T0), CancellationToken.None); // the same measurement again: not counted twice
            // The pipeline's non-blocking entry: queued and recorded in the background.
            recorder.Submit(Measurement(2, T0.AddHours(1), scale: 2));
            await WaitUntilAsync(async () => (await cluster.Client.GetGrain<IAsnGrain>(64530).GetInfo()).MeasurementCount == 2);

            var edge = await cluster.Client.GetGrain<IAsEdgeGrain>("64500->64510").GetStats();
            Assert.NotNull(edge);
            Assert.Equal((2L, 5.0, 7.5, 10.0), (edge.ObservedCount, edge.MinRttMs!.Value, edge.AvgRttMs!.Value, edge.MaxRttMs!.Value));
            Assert.Equal((T0, T0.AddHours(1)), (edge.FirstSeen, edge.LastSeen));
            Assert.Equal(["vp1"], edge.Vantages);
            Assert.Equal("LAB-IX", (await cluster.Client.GetGrain<IAsEdgeGrain>("64510->64520").GetStats())!.Ixp);
            // Across the silent hop: an indirect edge, with the number of hops between.
            var indirect = await cluster.Client.GetGrain<IAsEdgeGrain>("64520->64530").GetStats();
            Assert.Equal((AsLinkKind.Indirect, 0L, 2L, (int?)1), (indirect!.Kind, indirect.DirectCount, indirect.IndirectCount, indirect.MinGapHops));
            Assert.Equal((AsLinkKind.Direct, 2L, 0L), (edge.Kind, edge.DirectCount, edge.IndirectCount));

            var asn = await cluster.Client.GetGrain<IAsnGrain>(64510).GetInfo();
            Assert.Equal([64500L], asn.InNeighbors);
            Assert.Equal([64520L], asn.OutNeighbors);
            Assert.Equal(2, asn.MeasurementCount);
            Assert.Equal(7.5, asn.AvgRttMs);
            Assert.Equal("Origin Net", (await cluster.Client.GetGrain<IAsnGrain>(64500).GetInfo()).OrgName);
            Assert.Equal([64520L], (await cluster.Client.GetGrain<IAsnGrain>(64530).GetInfo()).InNeighbors);

            // The tables follow within seconds.
            await WaitUntilAsync(async () => await db.ScalarAsync<long>("SELECT coalesce(sum(observed_count), 0)::bigint FROM as_edges") == 6
                && await db.ScalarAsync<long>("SELECT coalesce(sum(observed_count), 0)::bigint FROM as_paths") == 2
                && await db.ScalarAsync<long>("SELECT count(*) FROM asns WHERE measurement_count = 2") == 4);
            Assert.Equal("LAB-IX", await db.ScalarAsync<string>("SELECT ixp FROM as_edges WHERE src_asn = 64510"));
            Assert.Equal("64500->64510 direct 2/0 -, 64510->64520 direct 2/0 -, 64520->64530 indirect 0/2 1", await db.ScalarAsync<string>(
                "SELECT string_agg(src_asn || '->' || dst_asn || ' ' || kind || ' ' || direct_count || '/' || indirect_count || ' ' || coalesce(min_gap_hops::text, '-'), ', ' ORDER BY src_asn) FROM as_edges"));

            // The graph API, answered from the index through the stateless graph grain.
            await WaitUntilAsync(async () => (await cluster.Client.GetGrain<IAsGraphGrain>(0).Freshness()).Edges == 3);
            var ok = Assert.IsType<Ok<AsPathAnswer>>((await GraphApi.PathAsync(cluster.Client, "AS64500", "64520")).Result);
            Assert.Equal([64500L, 64510L, 64520L], ok.Value!.Path);
            Assert.Equal("LAB-IX", ok.Value.Links[1].Edge.Ixp);
            var observed = Assert.Single(ok.Value.Observed);
            Assert.Equal((2L, false), (observed.ObservedCount, observed.Reversed));

            // 64530 is only ever seen behind a gap: reached over the indirect link, unless only direct links are asked for.
            var acrossGap = Assert.IsType<Ok<AsPathAnswer>>((await GraphApi.PathAsync(cluster.Client, "64500", "64530")).Result);
            Assert.Equal([64500L, 64510L, 64520L, 64530L], acrossGap.Value!.Path);
            Assert.Equal(AsLinkKind.Indirect, acrossGap.Value.Links[^1].Edge.Kind);
            Assert.Equal([64500L, 64510L, 64520L, null, 64530L], Assert.Single(acrossGap.Value.Observed).Path);
            Assert.IsType<NotFound<ProblemDetails>>((await GraphApi.PathAsync(cluster.Client, "64500", "64530", links: "direct")).Result);
            Assert.IsType<ValidationProblem>((await GraphApi.PathAsync(cluster.Client, "64500", "64530", links: "some")).Result);
            var directOnly = Assert.IsType<Ok<AsNeighborsAnswer>>((await GraphApi.NeighborsAsync("64520", cluster.Client, links: "direct")).Result);
            Assert.Equal([64510L], directOnly.Value!.Neighbors.Select(n => n.Asn));
            var details = Assert.IsType<Ok<AsnDetails>>((await GraphApi.AsnAsync("64530", cluster.Client, new TopologyQueries(db.DataSource), default)).Result);
            Assert.Equal(2, details.Value!.Asn.MeasurementCount);
            var neighbors = Assert.IsType<Ok<AsNeighborsAnswer>>((await GraphApi.NeighborsAsync("64510", cluster.Client)).Result);
            Assert.Equal([64500L, 64520L], neighbors.Value!.Neighbors.Select(n => n.Asn).Order());
            var topology = Assert.IsType<Ok<AsTopologyAnswer>>((await GraphApi.TopologyAsync(cluster.Client, "64500", "3", "10")).Result);
            Assert.Equal(4, topology.Value!.Nodes.Count);
            var directTopology = Assert.IsType<Ok<AsTopologyAnswer>>((await GraphApi.TopologyAsync(cluster.Client, "64500", "3", "10", links: "direct")).Result);
            Assert.Equal(3, directTopology.Value!.Nodes.Count);

            Assert.IsType<ValidationProblem>((await GraphApi.PathAsync(cluster.Client, "AS-1", "64500")).Result);
            Assert.IsType<ValidationProblem>((await GraphApi.PathAsync(cluster.Client, "64500", null)).Result);
            Assert.IsType<ValidationProblem>((await GraphApi.PathAsync(cluster.Client, "64500", "64510", "sideways")).Result);
            Assert.IsType<ValidationProblem>((await GraphApi.TopologyAsync(cluster.Client, "64500", "4")).Result);
            Assert.IsType<ValidationProblem>((await GraphApi.TopologyAsync(cluster.Client, "64500", "1", "0")).Result);
            Assert.IsType<ValidationProblem>((await GraphApi.NeighborsAsync("4294967296", cluster.Client)).Result);
            Assert.IsType<NotFound<ProblemDetails>>((await GraphApi.NeighborsAsync("1", cluster.Client)).Result);
            Assert.IsType<NotFound<ProblemDetails>>((await GraphApi.AsnAsync("1", cluster.Client, new TopologyQueries(db.DataSource), default)).Result);
            Assert.IsType<NotFound<ProblemDetails>>((await GraphApi.PathAsync(cluster.Client, "64520", "64500", "true")).Result);

            await cluster.StopAllSilosAsync();
        }

        // State survives the cluster: a new one reads it back from PostgreSQL and its index loads the tables.
        await using var second = BuildCluster(db, serviceId);
        await second.DeployAsync();
        Assert.Equal(2, (await second.Client.GetGrain<IAsEdgeGrain>("64500->64510").GetStats())!.ObservedCount);
        Assert.Equal(2, (await second.Client.GetGrain<IAsnGrain>(64520).GetInfo()).MeasurementCount);
        await WaitUntilAsync(async () => (await second.Client.GetGrain<IAsGraphGrain>(0).Freshness()) is { Loaded: true, Edges: 3 });
        var again = await second.Client.GetGrain<IAsGraphGrain>(0).Path(64500, 64520, directed: true);
        Assert.Equal([64500L, 64510L, 64520L], again.Path);
        Assert.Equal(2, again.Observed.Single().ObservedCount);
    }

    [Fact]
    public async Task Indirect_edge_seen_directly_later_becomes_direct_and_keeps_both_counts()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var cluster = BuildCluster(db, "svc-" + Guid.NewGuid().ToString("n")[..8]);
        await cluster.DeployAsync();
        var grain = cluster.Client.GetGrain<IAsEdgeGrain>("1300->1500");

        var first = await grain.Observe(new AsEdgeObservation(1300, 1500, null, 5, T0, "vp1", 1, AsLinkKind.Indirect, 2));
        Assert.Equal((AsLinkKind.Indirect, 0L, 1L, (int?)2), (first.Kind, first.DirectCount, first.IndirectCount, first.MinGapHops));
        // A later trace of the pair with the gap answered: direct from now on.
        var answered = await grain.Observe(new AsEdgeObservation(1300, 1500, null, 5, T0.AddMinutes(1), "vp1", 2, AsLinkKind.Direct));
        Assert.Equal((AsLinkKind.Direct, 1L, 1L), (answered.Kind, answered.DirectCount, answered.IndirectCount));
        // Silent again: counted, and the edge stays direct.
        var silentAgain = await grain.Observe(new AsEdgeObservation(1300, 1500, null, 5, T0.AddMinutes(2), "vp1", 3, AsLinkKind.Indirect, 1));
        Assert.Equal((AsLinkKind.Direct, 3L, 1L, 2L, (int?)1),
            (silentAgain.Kind, silentAgain.ObservedCount, silentAgain.DirectCount, silentAgain.IndirectCount, silentAgain.MinGapHops));

        // The graph index follows the kind: the edge joins the direct-only graph once it is direct.
        var index = new AsGraphIndex();
        index.Apply(first);
        index.RebuildNow();
        Assert.False(index.Neighbors(1300, directOnly: true).Known);
        index.Apply(silentAgain);
        index.RebuildNow();
        Assert.Equal([1500L], index.Neighbors(1300, directOnly: true).Neighbors.Select(n => n.Asn));
    }

    [Fact]
    public async Task Measurements_recorded_together_are_each_counted_once()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var cluster = BuildCluster(db, "svc-" + Guid.NewGuid().ToString("n")[..8]);
        await cluster.DeployAsync();
        var recorder = cluster.Silos[0].ServiceProvider.GetRequiredService<TopologyRecorder>();
        TopologyMeasurement Silent(long id) => new(id, "198.51.100.9", "vp1", T0, Extractor.Extract([new PathHop(1, null), new PathHop(2, null)]));

        // One batch: two measurements, one of them twice, and one with no AS at all.
        var paths = await recorder.RecordAsync([Measurement(1, T0), Silent(9), Measurement(2, T0.AddMinutes(1), scale: 2), Measurement(1, T0)],
            CancellationToken.None);
        Assert.Equal(["64500 64510 64520 * 64530", "", "64500 64510 64520 * 64530", "64500 64510 64520 * 64530"],
            paths.Select(p => p.IsEmpty || p.Elements.All(e => e.IsGap) ? "" : p.Text));
        var edge = await cluster.Client.GetGrain<IAsEdgeGrain>("64500->64510").GetStats();
        Assert.Equal((2L, 5.0, 10.0), (edge!.ObservedCount, edge.MinRttMs!.Value, edge.MaxRttMs!.Value));
        Assert.Equal((T0, T0.AddMinutes(1)), (edge.FirstSeen, edge.LastSeen));
        Assert.Equal(2, (await cluster.Client.GetGrain<IAsnGrain>(64530).GetInfo()).MeasurementCount);

        // The same measurements again, in another batch: nothing more is counted, no path observed twice (3 edges, the
        // last one indirect, crossed by 2 measurements each).
        await recorder.RecordAsync([Measurement(2, T0.AddMinutes(1), scale: 2), Measurement(1, T0)], CancellationToken.None);
        Assert.Equal(2, (await cluster.Client.GetGrain<IAsEdgeGrain>("64510->64520").GetStats())!.ObservedCount);
        Assert.Equal(2, (await cluster.Client.GetGrain<IAsnGrain>(64500).GetInfo()).MeasurementCount);
        await WaitUntilAsync(async () => await db.ScalarAsync<long>("SELECT coalesce(sum(observed_count), 0)::bigint FROM as_paths") == 2
            && await db.ScalarAsync<long>("SELECT coalesce(sum(observed_count), 0)::bigint FROM as_edges") == 6);
    }

    [Fact]
    public async Task Edge_grain_refuses_an_observation_of_another_edge()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var cluster = BuildCluster(db, "svc-" + Guid.NewGuid().ToString("n")[..8]);
        await cluster.DeployAsync();

        await Assert.ThrowsAsync<ArgumentException>(() => cluster.Client.GetGrain<IAsEdgeGrain>("1->2")
            .Observe(new AsEdgeObservation(2, 1, null, 1, T0, "vp1", 1)));
        await Assert.ThrowsAnyAsync<Exception>(() => cluster.Client.GetGrain<IAsEdgeGrain>("1->1").GetStats());
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, int seconds = 15)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"condition not met within {seconds} s");
            await Task.Delay(100);
        }
    }
}
