using System.Diagnostics.Metrics;
using System.Net;
using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using CyberWatch.Topology;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace CyberWatch.Tests.Storage;

/// <summary>A row PostgreSQL refuses (a CHECK constraint) inside a batch of good ones: quarantined alone, the rest stored.</summary>
public sealed class PoisonRowTests : IAsyncLifetime
{
    private readonly ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private TestDatabase database = null!;

    public async ValueTask InitializeAsync() => database = await TestDatabase.CreateAsync();

    public async ValueTask DisposeAsync()
    {
        await database.DisposeAsync();
        await services.DisposeAsync();
    }

    [Fact]
    public async Task A_refused_measurement_is_quarantined_the_rest_of_its_batch_stored_and_the_next_batch_goes_on()
    {
        var writer = new MeasurementWriter(database.DataSource, NullLogger<MeasurementWriter>.Instance, services.GetRequiredService<IMeterFactory>());
        // Queued before the writer starts, so all 41 travel in one batch; the 18th breaks the method CHECK.
        var writes = Enumerable.Range(0, 41)
            .Select(i => writer.WriteAsync(Measurement($"30.17.0.{i + 1}", i == 17 ? "no-such-method" : "icmp-paris")))
            .ToList();
        await writer.StartAsync(CancellationToken.None);
        try
        {
            var refused = await Assert.ThrowsAsync<StorageUnavailableException>(() => writes[17]);
            Assert.Contains("rejected_rows", refused.Message);
            var ids = await Task.WhenAll(writes.Where((_, i) => i != 17));
            Assert.Equal(40, ids.Distinct().Count());

            Assert.Equal(40L, await database.ScalarAsync<long>("SELECT count(*) FROM measurements"));
            Assert.Equal(80L, await database.ScalarAsync<long>("SELECT count(*) FROM hops"));
            Assert.Equal(1L, await database.ScalarAsync<long>("SELECT count(*) FROM rejected_rows"));
            Assert.Equal("measurements|23514|30.17.0.18|no-such-method", await database.ScalarAsync<string>(
                "SELECT table_name || '|' || sqlstate || '|' || (payload->>'target') || '|' || (payload->>'method') FROM rejected_rows"));

            var next = await Task.WhenAll(Enumerable.Range(0, 5).Select(i => writer.WriteAsync(Measurement($"30.17.1.{i + 1}", "icmp-paris"))));
            Assert.Equal(5, next.Length);
            Assert.Equal(45L, await database.ScalarAsync<long>("SELECT count(*) FROM measurements"));
            Assert.Equal(0, writer.Buffered);
        }
        finally
        {
            await writer.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_refused_text_with_a_nul_character_is_still_quarantined()
    {
        var writer = new MeasurementWriter(database.DataSource, NullLogger<MeasurementWriter>.Instance, services.GetRequiredService<IMeterFactory>());
        var writes = new[]
        {
            writer.WriteAsync(Measurement("30.17.2.1", "icmp-paris")),
            writer.WriteAsync(Measurement("30.17.2.2", "icmp-paris") with { StopReason = "gap\0limit" }),
            writer.WriteAsync(Measurement("30.17.2.3", "icmp-paris")),
        };
        await writer.StartAsync(CancellationToken.None);
        try
        {
            await Assert.ThrowsAsync<StorageUnavailableException>(() => writes[1]);
            await writes[0];
            await writes[2];
            Assert.Equal(2L, await database.ScalarAsync<long>("SELECT count(*) FROM measurements"));
            Assert.Equal("22021", await database.ScalarAsync<string>("SELECT sqlstate FROM rejected_rows"));
        }
        finally
        {
            await writer.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_refused_as_edge_is_quarantined_and_the_other_topology_rows_are_written()
    {
        var tables = new TopologyTables(database.DataSource, NullLogger<TopologyTables>.Instance);
        var seen = DateTimeOffset.UtcNow;
        tables.Upsert(new AsEdgeStats(64500, 64501, 3, 1, 2, 3, seen, seen, null, ["home"], 3, 0, null));
        tables.Upsert(new AsEdgeStats(64502, 64502, 1, 1, 1, 1, seen, seen, null, ["home"], 1, 0, null)); // an edge to itself: CHECK
        tables.Upsert(new AsEdgeStats(64501, 64503, 2, 1, 2, 3, seen, seen, null, ["home"], 2, 0, null));
        tables.AddPath(new PathObservation([64500, 64501, 64503], seen, "home", "30.17.3.1", 7));

        await tables.FlushAsync(CancellationToken.None);

        Assert.Equal(2L, await database.ScalarAsync<long>("SELECT count(*) FROM as_edges"));
        Assert.Equal(1L, await database.ScalarAsync<long>("SELECT count(*) FROM as_paths WHERE observed_count = 1"));
        Assert.Equal("as_edges|23514", await database.ScalarAsync<string>("SELECT table_name || '|' || sqlstate FROM rejected_rows"));
        Assert.Equal(0, tables.Pending);
    }

    [Fact]
    public async Task A_batch_kept_through_an_outage_is_stored_without_waiting_for_the_next_measurement()
    {
        var writer = new MeasurementWriter(database.DataSource, NullLogger<MeasurementWriter>.Instance, services.GetRequiredService<IMeterFactory>());
        // Not a data refusal (42P01, undefined table): the batch waits and is retried, as while PostgreSQL is down.
        await database.ScalarAsync<object>("ALTER TABLE measurements RENAME TO measurements_away");
        var writes = Enumerable.Range(0, 3).Select(i => writer.WriteAsync(Measurement($"30.17.4.{i + 1}", "icmp-paris"))).ToList();
        await writer.StartAsync(CancellationToken.None);
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.All(writes, w => Assert.False(w.IsCompleted));
            await database.ScalarAsync<object>("ALTER TABLE measurements_away RENAME TO measurements");

            // The last burst of a run: nothing new arrives, and the held batch is stored anyway.
            await Task.WhenAll(writes).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(3L, await database.ScalarAsync<long>("SELECT count(*) FROM measurements"));
            Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM rejected_rows"));
        }
        finally
        {
            await writer.StopAsync(CancellationToken.None);
        }
    }

    private static MeasurementRow Measurement(string target, string method) => new()
    {
        Target = IPAddress.Parse(target),
        Tool = "scamper",
        Method = method,
        Vantage = "home",
        StartedAt = DateTimeOffset.UtcNow.AddMinutes(-1),
        CompletedAt = DateTimeOffset.UtcNow,
        Success = true,
        HopCount = 2,
        DestRttMs = 12,
        Hops =
        [
            new HopRow { Ttl = 1, Address = IPAddress.Parse("62.1.1.1"), RttMs = 6, Asn = 64500 },
            new HopRow { Ttl = 2, Address = IPAddress.Parse(target), RttMs = 12, Asn = 64501 },
        ],
    };
}
