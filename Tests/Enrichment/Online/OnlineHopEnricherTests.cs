using CyberWatch.Enrichment.Online;
using CyberWatch.Tests.Infrastructure;
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
        var enricher = new OnlineHopEnricher(db.DataSource, cymru, NullLogger<OnlineHopEnricher>.Instance);

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
}
