using System.Diagnostics.Metrics;
using System.Net;
using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace CyberWatch.Tests.Storage;

/// <summary>A remote agent's result delivered more than once (its acknowledgement was lost): stored once, in any batch.</summary>
public sealed class AgentDeliveryTests : IAsyncLifetime
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
    public async Task A_delivery_sent_again_in_the_same_batch_or_a_later_one_is_stored_once_and_answered_with_the_first_id()
    {
        var writer = new MeasurementWriter(database.DataSource, NullLogger<MeasurementWriter>.Instance, services.GetRequiredService<IMeterFactory>());
        var twice = Guid.NewGuid();
        var once = Guid.NewGuid();
        // Queued before the writer starts: one batch holding the same delivery twice, a silo's own row and another delivery.
        var first = writer.WriteAsync(Measurement("30.19.0.1", twice));
        var again = writer.WriteAsync(Measurement("30.19.0.1", twice));
        var silos = writer.WriteAsync(Measurement("30.19.0.2", null));
        var other = writer.WriteAsync(Measurement("30.19.0.3", once));
        await writer.StartAsync(CancellationToken.None);
        try
        {
            var id = await first;
            var duplicate = await Assert.ThrowsAsync<DuplicateDeliveryException>(() => again);
            Assert.Equal(id, duplicate.MeasurementId);
            Assert.NotEqual(id, await silos);
            await other;

            // Later, after a reconnect: answered with the id it was stored under, nothing written.
            var late = await Assert.ThrowsAsync<DuplicateDeliveryException>(() => writer.WriteAsync(Measurement("30.19.0.1", twice)));
            Assert.Equal(id, late.MeasurementId);
        }
        finally
        {
            await writer.StopAsync(CancellationToken.None);
        }
        Assert.Equal(3, await database.ScalarAsync<long>("SELECT count(*) FROM measurements WHERE target << '30.19.0.0/24'"));
        Assert.Equal(1, await database.ScalarAsync<long>("SELECT count(*) FROM measurements WHERE target = '30.19.0.1'"));
        Assert.Equal(2, await database.ScalarAsync<long>("SELECT count(*) FROM hops h JOIN measurements m ON m.id = h.measurement_id WHERE m.target = '30.19.0.1'"));
        Assert.Equal(2, await database.ScalarAsync<long>("SELECT count(*) FROM agent_deliveries WHERE vantage = 'remote'"));
    }

    private static MeasurementRow Measurement(string target, Guid? delivery) => new()
    {
        Target = IPAddress.Parse(target),
        Tool = "scamper",
        Method = "icmp-paris",
        Vantage = delivery is null ? "home" : "remote",
        StartedAt = DateTimeOffset.UtcNow.AddMinutes(-1),
        CompletedAt = DateTimeOffset.UtcNow,
        Success = true,
        HopCount = 2,
        DestRttMs = 12,
        DeliveryId = delivery,
        Hops =
        [
            new HopRow { Ttl = 1, Address = IPAddress.Parse("62.1.1.1"), RttMs = 6, Asn = 64500 },
            new HopRow { Ttl = 2, Address = IPAddress.Parse(target), RttMs = 12, Asn = 64501 },
        ],
    };
}
