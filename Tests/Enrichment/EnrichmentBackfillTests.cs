using System.Diagnostics.Metrics;
using System.Net;
using CyberWatch.Configuration;
using CyberWatch.Enrichment;
using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using CyberWatch.Topology;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace CyberWatch.Tests.Enrichment;

/// <summary>Measurements stored before the prefix table was loaded are caught up, once, and handed to the topology.</summary>
public sealed class EnrichmentBackfillTests
{
    [Fact]
    public async Task Pending_measurements_get_their_hops_mapped_once_and_come_back_with_their_AS_path()
    {
        await using var db = await TestDatabase.CreateAsync();
        var prefixFile = Path.Combine(Path.GetTempPath(), $"cyberwatch-backfill-{Guid.NewGuid():n}.dat");
        await File.WriteAllTextAsync(prefixFile, "11.11.0.0/16\t1100\n11.12.0.0/16\t1200\n30.14.0.0/16\t1400\n");
        await using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var prefixes = new PrefixTableService(new CyberWatchOptions { PrefixData = prefixFile }, NullLogger<PrefixTableService>.Instance);
        await prefixes.StartAsync(CancellationToken.None);
        try
        {
            await prefixes.FirstLoad.WaitAsync(TimeSpan.FromSeconds(30));
            var writer = new MeasurementWriter(db.DataSource, NullLogger<MeasurementWriter>.Instance, services.GetRequiredService<IMeterFactory>());
            var startedAt = new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
            var ids = await writer.StoreAsync([new MeasurementRow
            {
                Target = IPAddress.Parse("30.14.1.10"), Tool = "scamper", Method = "icmp-paris", Vantage = "vp1", StartedAt = startedAt,
                Success = true, HopCount = 5,
                Hops =
                [
                    new HopRow { Ttl = 1, Address = IPAddress.Parse("11.11.1.1"), RttMs = 0.1 },
                    new HopRow { Ttl = 2, Address = IPAddress.Parse("10.0.0.1"), RttMs = 0.2 },
                    new HopRow { Ttl = 3, Address = IPAddress.Parse("11.12.0.1"), RttMs = 1.5 },
                    new HopRow { Ttl = 4 },
                    new HopRow { Ttl = 5, Address = IPAddress.Parse("30.14.1.10"), RttMs = 3.0 },
                ],
            }], CancellationToken.None);
            var settings = new SettingsMonitor(db.DataSource, NullLogger<SettingsMonitor>.Instance, TimeProvider.System);
            var backfill = new EnrichmentBackfill(db.DataSource, prefixes, new HopEnricher(prefixes, SpecialAddresses.Standard),
                settings, NullLogger<EnrichmentBackfill>.Instance, new AsPathExtractor());

            var caughtUp = await backfill.RunOnceAsync(100, CancellationToken.None);

            var measurement = Assert.Single(caughtUp);
            Assert.Equal((ids[0], "30.14.1.10", "vp1", startedAt), (measurement.MeasurementId, measurement.Target, measurement.Vantage, measurement.StartedAt));
            // The path is extracted from the mapped hops and stored with the measurement, the one the graph gets.
            Assert.Equal("1100 * 1200 * 1400", measurement.Path.Text);
            Assert.Equal("1100 * 1200 * 1400", await db.ScalarAsync<string>($"SELECT as_path FROM measurements WHERE id = {ids[0]}"));
            Assert.Equal(1.5, measurement.Path.Edges.Single(e => e.DstAsn == 1200).RttMs);
            Assert.All(measurement.Path.Edges, e => Assert.Equal(AsLinkKind.Indirect, e.Kind));
            Assert.Equal("done", await db.ScalarAsync<string>($"SELECT enrichment_state FROM measurements WHERE id = {ids[0]}"));
            Assert.Equal("1100,private,1200,1400", await db.ScalarAsync<string>(
                $"SELECT string_agg(coalesce(asn::text, address_class), ',' ORDER BY ttl) FROM hops WHERE measurement_id = {ids[0]} AND address IS NOT NULL"));

            // Done is done: the next run finds nothing, so nothing is recorded twice.
            Assert.Empty(await backfill.RunOnceAsync(100, CancellationToken.None));
        }
        finally
        {
            await prefixes.StopAsync(CancellationToken.None);
            File.Delete(prefixFile);
        }
    }
}
