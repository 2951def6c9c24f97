using System.Net;
using CyberWatch.Dns;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Dns;

/// <summary>dns_queries / dns_targets on the real PostgreSQL: applied once per entry, and the top lists.</summary>
public sealed class DnsTablesTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Hour = new(2026, 11, 30, 20, 0, 0, TimeSpan.Zero);
    private TestDatabase db = null!;
    private DnsTables tables = null!;

    public async ValueTask InitializeAsync()
    {
        db = await TestDatabase.CreateAsync();
        tables = new DnsTables(db.DataSource);
    }

    public async ValueTask DisposeAsync()
    {
        if (db is not null)
        {
            await db.DisposeAsync();
        }
    }

    private static long? Asn(IPAddress ip) => ip.ToString().StartsWith("198.51.", StringComparison.Ordinal) ? 64500 : ip.ToString() == "2001:db8::1" ? 64501 : null;

    [Fact]
    public async Task An_entry_applied_twice_changes_the_tables_once()
    {
        var entry = new DnsHandoffEntry(Guid.NewGuid(), Hour.AddMinutes(5),
            [new DnsQueryAggregate("news.example.com", "plain", "A", Hour, 7, 0.12), new DnsQueryAggregate("news.example.com", "plain", "AAAA", Hour, 2, 0.12)],
            [new DnsResolvedTarget("news.example.com", "plain", ["198.51.100.7", "2001:db8::1"], Hour.AddMinutes(5), 0.12)]);
        Assert.True(await tables.ApplyAsync(entry, Asn, CancellationToken.None));
        Assert.False(await tables.ApplyAsync(entry, Asn, CancellationToken.None));
        Assert.Equal(9, await db.ScalarAsync<decimal>("SELECT sum(query_count) FROM dns_queries"));
        Assert.Equal(2, await db.ScalarAsync<decimal>("SELECT sum(resolve_count) FROM dns_targets"));
        Assert.Equal(64500, await db.ScalarAsync<long>("SELECT asn FROM dns_targets WHERE ip = '198.51.100.7'"));

        // A later entry for the same hour adds to it; a later resolution moves last_seen and counts.
        var later = new DnsHandoffEntry(Guid.NewGuid(), Hour.AddMinutes(50),
            [new DnsQueryAggregate("news.example.com", "plain", "A", Hour, 3, 0.2)],
            [new DnsResolvedTarget("news.example.com", "plain", ["198.51.100.7"], Hour.AddMinutes(50), 0.2)]);
        Assert.True(await tables.ApplyAsync(later, Asn, CancellationToken.None));
        Assert.Equal(10, await db.ScalarAsync<long>("SELECT query_count FROM dns_queries WHERE qtype = 'A'"));
        Assert.Equal(2, await db.ScalarAsync<long>("SELECT resolve_count FROM dns_targets WHERE ip = '198.51.100.7'"));
        Assert.Equal(Hour.AddMinutes(5), await db.ScalarAsync<DateTime>("SELECT first_seen FROM dns_targets WHERE ip = '198.51.100.7'"));
        Assert.Equal(Hour.AddMinutes(50), await db.ScalarAsync<DateTime>("SELECT last_seen FROM dns_targets WHERE ip = '198.51.100.7'"));
        Assert.Equal(2, await db.ScalarAsync<long>("SELECT count(*) FROM dns_handoff_applied"));
    }

    [Fact]
    public async Task The_none_policy_stores_counts_and_addresses_without_a_domain()
    {
        var entry = new DnsHandoffEntry(Guid.NewGuid(), Hour,
            [new DnsQueryAggregate("", "none", "A", Hour, 4, 0)],
            [new DnsResolvedTarget("", "none", ["198.51.100.7"], Hour, 0), new DnsResolvedTarget("", "none", ["198.51.100.7", "198.51.100.8"], Hour, 0)]);
        Assert.True(await tables.ApplyAsync(entry, Asn, CancellationToken.None));
        Assert.Equal(2, await db.ScalarAsync<long>("SELECT count(*) FROM dns_targets WHERE domain_key = '' AND domain_policy = 'none'"));
    }

    [Fact]
    public async Task Top_domains_and_top_asns_rank_what_was_seen_since_the_given_time()
    {
        await tables.ApplyAsync(new DnsHandoffEntry(Guid.NewGuid(), Hour,
            [
                new DnsQueryAggregate("a.example.com", "plain", "A", Hour, 5, 0.1),
                new DnsQueryAggregate("b.example.com", "plain", "A", Hour, 9, 0.8),
                new DnsQueryAggregate("b.example.com", "plain", "A", Hour.AddHours(-5), 100, 0.8),
            ],
            [
                new DnsResolvedTarget("a.example.com", "plain", ["198.51.100.1", "198.51.100.2"], Hour, 0.1),
                new DnsResolvedTarget("b.example.com", "plain", ["198.51.100.1", "2001:db8::1"], Hour, 0.8),
                new DnsResolvedTarget("c.example.com", "plain", ["203.0.113.9"], Hour, 0.1),
            ]), Asn, CancellationToken.None);
        var top = await tables.TopDomainsAsync(Hour.AddMinutes(-30), 10, CancellationToken.None);
        Assert.Equal(["b.example.com", "a.example.com"], top.Select(t => t.Domain));
        Assert.Equal(9, top[0].Queries);
        Assert.Equal(0.8, top[0].SuspicionScore!.Value, 3);
        Assert.Single(await tables.TopDomainsAsync(Hour.AddMinutes(-30), 1, CancellationToken.None));
        Assert.Equal(109, (await tables.TopDomainsAsync(Hour.AddHours(-6), 10, CancellationToken.None))[0].Queries);

        var asns = await tables.TopAsnsAsync(Hour.AddMinutes(-30), 10, CancellationToken.None);
        Assert.Equal([64500L, 64501L], asns.Select(a => a.Asn));
        Assert.Equal((2L, 2L), (asns[0].Addresses, asns[0].Domains));
        Assert.Empty(await tables.TopAsnsAsync(Hour.AddHours(1), 10, CancellationToken.None));
    }
}
