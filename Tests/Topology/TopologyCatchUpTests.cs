using System.Diagnostics.Metrics;
using System.Net;
using CyberWatch.Silo;
using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using CyberWatch.Topology;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.TestingHost;

namespace CyberWatch.Tests.Topology;

/// <summary>
/// Topology at least once: measurements stored by the real writer land in topology_backlog; what the recorder never
/// got to (a crash, a full queue) is recorded by the catch-up from the stored hops, and a replay counts nothing twice.
/// </summary>
public sealed class TopologyCatchUpTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static InProcessTestCluster BuildCluster(TestDatabase db)
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.Options.ServiceId = "svc-" + Guid.NewGuid().ToString("n")[..8];
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddCyberWatchPersistence(db.ConnectionString);
            silo.Services.AddSingleton(db.DataSource);
            silo.Services.AddTopology(new ConfigurationBuilder().Build());
        });
        return builder.Build();
    }

    private static HopRow Hop(short ttl, string address, long asn, double rtt) =>
        new() { Ttl = ttl, Address = IPAddress.Parse(address), RttMs = rtt, AddressClass = "global", Asn = asn, OriginAsns = [asn] };

    // 64500 → 64510 → (64520 or 64521) → the destination's AS: the second AS differs per target.
    private static MeasurementRow Measurement(string target, long third, long destination, int minutes) => new()
    {
        Target = IPAddress.Parse(target), Tool = "scamper", Method = "icmp-paris", Vantage = "vp1",
        StartedAt = T0.AddMinutes(minutes), CompletedAt = T0.AddMinutes(minutes).AddSeconds(2), Success = true,
        HopCount = 4, RespondingHops = 4, EnrichmentState = "done",
        Hops = [Hop(1, "198.18.0.1", 64500, 1), Hop(2, "198.18.10.1", 64510, 5), Hop(3, "198.18.20.1", third, 9), Hop(4, target, destination, 12)],
    };

    [Fact]
    public async Task Measurements_the_recorder_never_got_are_recorded_from_the_backlog_and_a_replay_counts_nothing_twice()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var cluster = BuildCluster(db);
        await cluster.DeployAsync();
        var silo = cluster.Silos[0].ServiceProvider;
        var recorder = silo.GetRequiredService<TopologyRecorder>();
        var tables = silo.GetRequiredService<TopologyTables>();
        var catchUp = silo.GetRequiredService<TopologyCatchUp>();
        var writer = new MeasurementWriter(db.DataSource, NullLogger<MeasurementWriter>.Instance, silo.GetRequiredService<IMeterFactory>());

        var rows = new[]
        {
            Measurement("198.51.100.1", 64520, 64530, 0),
            Measurement("198.51.100.2", 64521, 64531, 1),
            Measurement("198.51.100.3", 64520, 64532, 2),
            // A failed probe implies no topology and is not listed.
            Measurement("198.51.100.4", 64520, 64533, 3) with { Success = false, Hops = [] },
        };
        var ids = await writer.StoreAsync(rows, CancellationToken.None);
        Assert.Equal(3L, await db.ScalarAsync<long>("SELECT count(*) FROM topology_backlog"));

        // The first is recorded live; its rows and the removal of its backlog row are one flush.
        await recorder.RecordAsync(TopologyMeasurement.From(ids[0], rows[0],
            silo.GetRequiredService<AsPathExtractor>().Extract(rows[0].Hops.Select(PathHop.From))), CancellationToken.None);
        await tables.FlushAsync(CancellationToken.None);
        Assert.Equal(2L, await db.ScalarAsync<long>("SELECT count(*) FROM topology_backlog"));
        Assert.Equal(3L, await db.ScalarAsync<long>("SELECT count(*) FROM as_edges"));

        // The other two were lost with the silo: the catch-up finds them.
        var round = await catchUp.RunOnceAsync(TimeSpan.Zero, 100, CancellationToken.None);
        Assert.Equal(new TopologyCatchUp.Round(2, 0, 0), round);
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM topology_backlog"));
        var check = await new TopologyCheck(db.DataSource, new AsPathExtractor()).RunAsync(CancellationToken.None);
        Assert.Equal((3L, 6, 6, 0, 0, 0L, 0L, 0L), (check.Measurements, check.ImpliedEdges, check.StoredEdges, check.Missing.Count,
            check.Extra.Count, check.Backlog, check.CrossingsMissing, check.CrossingsOverCounted));
        Assert.Equal(3L, await db.ScalarAsync<long>("SELECT observed_count FROM as_edges WHERE src_asn = 64500 AND dst_asn = 64510"));
        Assert.Equal(3L, await db.ScalarAsync<long>("SELECT sum(observed_count)::bigint FROM as_paths"));
        Assert.Equal(new TopologyCatchUp.Round(0, 0, 0), await catchUp.RunOnceAsync(TimeSpan.Zero, 100, CancellationToken.None));

        // A crash after the grains counted but before the rows were stored leaves all three in the backlog, and
        // their rows lost: the replay writes the rows again and counts nothing twice.
        await db.ScalarAsync<long>($"INSERT INTO topology_backlog (measurement_id, started_at) SELECT id, started_at FROM measurements WHERE success");
        await db.ScalarAsync<long>("DELETE FROM as_edges WHERE dst_asn = 64532");
        await db.ScalarAsync<long>("DELETE FROM as_paths WHERE path LIKE '% 64532'");
        Assert.Equal(new TopologyCatchUp.Round(3, 0, 0), await catchUp.RunOnceAsync(TimeSpan.Zero, 100, CancellationToken.None));
        Assert.Equal(6L, await db.ScalarAsync<long>("SELECT count(*) FROM as_edges"));
        Assert.Equal(3L, await db.ScalarAsync<long>("SELECT observed_count FROM as_edges WHERE src_asn = 64500 AND dst_asn = 64510"));
        Assert.Equal(3L, await db.ScalarAsync<long>("SELECT count(*) FROM as_paths"));
        Assert.Equal(2L, await db.ScalarAsync<long>("SELECT sum(observed_count)::bigint FROM as_paths"));
        check = await new TopologyCheck(db.DataSource, new AsPathExtractor()).RunAsync(CancellationToken.None);
        Assert.Equal((6, 0, 0L, 0L), (check.StoredEdges, check.Missing.Count, check.CrossingsMissing, check.CrossingsOverCounted));

        // A measurement whose partition retention dropped leaves the backlog with nothing recorded.
        await db.ScalarAsync<long>("INSERT INTO topology_backlog (measurement_id, started_at) VALUES (987654321, now())");
        Assert.Equal(new TopologyCatchUp.Round(0, 1, 0), await catchUp.RunOnceAsync(TimeSpan.Zero, 100, CancellationToken.None));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM topology_backlog"));
    }

    [Fact]
    public async Task Backlog_rows_younger_than_the_catch_up_delay_are_left_to_the_live_recorder()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var cluster = BuildCluster(db);
        await cluster.DeployAsync();
        var silo = cluster.Silos[0].ServiceProvider;
        var writer = new MeasurementWriter(db.DataSource, NullLogger<MeasurementWriter>.Instance, silo.GetRequiredService<IMeterFactory>());
        await writer.StoreAsync([Measurement("198.51.100.1", 64520, 64530, 0)], CancellationToken.None);

        var round = await silo.GetRequiredService<TopologyCatchUp>().RunOnceAsync(TimeSpan.FromMinutes(1), 100, CancellationToken.None);

        Assert.Equal(new TopologyCatchUp.Round(0, 0, 0), round);
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM topology_backlog"));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM as_edges"));
    }
}
