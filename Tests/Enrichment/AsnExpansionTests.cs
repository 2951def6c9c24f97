using System.Diagnostics;
using System.Net;
using CyberWatch.Enrichment;
using CyberWatch.Measurement;
using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Enrichment;

public sealed class AsnExpansionTests
{
    private static PrefixTable Table(params (string Prefix, uint Asn)[] routes)
    {
        var builder = new PrefixTableBuilder();
        builder.BeginSource(DuplicatePolicy.Accumulate);
        foreach (var (prefix, asn) in routes)
        {
            builder.Add(IpPrefix.Parse(prefix), asn);
        }
        return builder.Build();
    }

    private static bool Inside(IpPrefix prefix, IPAddress address) => prefix.Contains(address);

    [Fact]
    public void Sample_spreads_over_the_prefixes_skips_network_and_broadcast_and_is_the_same_every_time()
    {
        IpPrefix[] prefixes = [IpPrefix.Parse("193.0.0.0/21"), IpPrefix.Parse("193.0.10.0/30"), IpPrefix.Parse("193.0.12.7/32")];

        var sample = AsnExpansion.Sample(prefixes, 10, 3333, _ => true);

        Assert.Equal(10, sample.Count);
        Assert.Equal(10, sample.Distinct().Count());
        Assert.All(sample, a => Assert.Contains(prefixes, p => Inside(p, a)));
        Assert.All(prefixes, p => Assert.Contains(sample, a => Inside(p, a)));
        Assert.DoesNotContain(IPAddress.Parse("193.0.10.0"), sample);
        Assert.DoesNotContain(IPAddress.Parse("193.0.10.3"), sample);
        Assert.DoesNotContain(IPAddress.Parse("193.0.0.0"), sample);
        Assert.DoesNotContain(IPAddress.Parse("193.0.7.255"), sample);
        Assert.Equal(sample, AsnExpansion.Sample(prefixes, 10, 3333, _ => true));

        // A /30 has two hosts, a /32 one: a small AS gives what it has, without spinning.
        Assert.Equal(3, AsnExpansion.Sample([prefixes[1], prefixes[2]], 10, 1, _ => true).Count);
        Assert.Empty(AsnExpansion.Sample(prefixes, 10, 1, _ => false));
    }

    [Fact]
    public void Huge_ipv6_and_ipv4_prefixes_are_sampled_without_enumeration()
    {
        IpPrefix[] prefixes = [IpPrefix.Parse("2001:67c:2e8::/29"), IpPrefix.Parse("2001:db9:1:2::/64"), IpPrefix.Parse("8.0.0.0/8")];
        var clock = Stopwatch.StartNew();

        var sample = AsnExpansion.Sample(prefixes, 9, 42, _ => true);

        Assert.True(clock.ElapsedMilliseconds < 500, $"took {clock.ElapsedMilliseconds} ms");
        Assert.Equal(9, sample.Count);
        Assert.All(sample, a => Assert.Contains(prefixes, p => Inside(p, a)));
        // Below /64 the ::1 of a random /64.
        Assert.All(sample.Where(a => Inside(prefixes[0], a)), a => Assert.EndsWith("::1", a.ToString()));
        Assert.Equal(3, sample.Count(a => Inside(prefixes[0], a)));
    }

    [Fact]
    public async Task Plan_takes_ases_with_enough_neighbors_and_only_addresses_the_target_policy_accepts()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using (var seed = db.DataSource.CreateCommand("""
            INSERT INTO asns (asn, neighbor_count) VALUES (3333, 7), (64500, 5), (64501, 2), (15169, 9), (64502, 6)
            """))
        {
            await seed.ExecuteNonQueryAsync();
        }
        var table = Table(("193.0.0.0/21", 3333), ("2001:67c:2e8::/48", 3333), ("192.168.0.0/16", 64500), ("185.1.0.0/16", 64501),
            ("8.8.8.0/24", 15169), ("185.2.0.0/24", 64502));
        var policy = new TargetPolicy(SpecialAddresses.Standard, []);
        var settings = new EnrichmentSettings { AsnMinNeighborCount = 5, AsnMaxIpsPerAsn = 4 };

        var plan = await AsnExpansion.PlanAsync(db.DataSource, table, policy, settings, CancellationToken.None);

        // Busiest first; 64500 originates only private space, 64501 has too few neighbors.
        Assert.Equal([15169L, 3333L, 64502L], plan.Select(p => p.Asn).ToArray());
        Assert.All(plan, p => Assert.Equal(4, p.Addresses.Count));
        Assert.All(plan.SelectMany(p => p.Addresses), a => Assert.True(policy.Check(a).Accepted));
        Assert.All(plan.Single(p => p.Asn == 15169).Addresses, a => Assert.StartsWith("8.8.8.", a));
        Assert.Contains(plan.Single(p => p.Asn == 3333).Addresses, a => a.Contains(':'));
        Assert.Equal("asn_expansion", TargetSource.AsnExpansion.ToWire());
    }
}
