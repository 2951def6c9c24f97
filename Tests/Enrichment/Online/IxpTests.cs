using System.Net;
using CyberWatch.Configuration;
using CyberWatch.Enrichment;
using CyberWatch.Enrichment.Online;
using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace CyberWatch.Tests.Enrichment.Online;

public sealed class IxpTests
{
    [Fact]
    public async Task PeeringDb_full_sync_caches_every_network_fills_the_ixp_tables_and_directory_and_a_restart_loads_them_without_asking()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var server = await FakeHttpServer.StartAsync();
        server.Routes["/api/net"] = _ => (200, Recorded.PeeringDbNetAll);
        server.Routes["/api/ix"] = _ => (200, Recorded.PeeringDbIx);
        server.Routes["/api/ixlan"] = _ => (200, Recorded.PeeringDbIxLan);
        server.Routes["/api/ixpfx"] = _ => (200, Recorded.PeeringDbIxPfx);
        server.Routes["/api/netixlan"] = _ => (200, Recorded.PeeringDbNetIxLan);
        var settings = HttpSourcesTests.PeeringDb(server);
        settings["CyberWatch:Online:PeeringDbIxpSync"] = "true";
        settings["CyberWatch:Online:PeeringDbApiKey"] = "k";
        await using (var services = HttpSourcesTests.Services(db.DataSource, settings))
        {
            var sync = services.GetRequiredService<PeeringDbIxpSync>();
            var directory = services.GetRequiredService<IxpDirectory>();

            await sync.SyncAsync(CancellationToken.None);

            Assert.Equal(5, server.Requests.Count);
            Assert.All(server.Requests, r => Assert.Equal("Api-Key k", r.Authorization));
            Assert.Contains(server.Requests, r => r.Path == "/api/net" && r.Query.Contains("fields=") && !r.Query.Contains("asn="));

            // Every network came with the sync: no request per AS, and an AS not in it has no record.
            var client = services.GetRequiredService<PeeringDbClient>();
            Assert.Equal(new PeeringDbNetwork(433, "Google LLC", 15000, 2000, "Selective", null, "Mostly Outbound", "RADB::AS-GOOGLE", 180, 250),
                await client.NetworkAsync(15169, CancellationToken.None));
            Assert.Equal(1853, (await client.NetworkAsync(23028, CancellationToken.None))?.Id);
            Assert.Null(await client.NetworkAsync(64511, CancellationToken.None));
            Assert.Equal(5, server.Requests.Count);
            Assert.Contains(server.Requests, r => r.Path == "/api/netixlan" && r.Query.Contains("fields="));
            Assert.Equal(3, directory.LanCount); // the prefix of an unknown LAN is dropped
            Assert.Equal(3, directory.MemberCount); // a member without addresses gives none
            Assert.Equal(new IxpMatch("AMS-IX", 13335), directory.Find(IPAddress.Parse("80.249.211.140")));
            Assert.Equal(new IxpMatch("AMS-IX", 13335), directory.Find(IPAddress.Parse("2001:7f8:1::a501:3335:1")));
            Assert.Equal(new IxpMatch("AMS-IX", null), directory.Find(IPAddress.Parse("80.249.215.1")));
            Assert.Equal(new IxpMatch("DE-CIX Frankfurt", 15169), directory.Find(IPAddress.Parse("80.81.193.108")));
            Assert.Null(directory.Find(IPAddress.Parse("80.249.216.1")));
            Assert.Equal(3L, await db.ScalarAsync<long>("SELECT count(*) FROM ixp_prefixes"));
            Assert.Equal("AMS-IX", await db.ScalarAsync<string>("SELECT ix_name FROM ixp_prefixes WHERE prefix = '2001:7f8:1::/64'"));
            Assert.Equal(15169L, await db.ScalarAsync<long>("SELECT asn FROM ixp_members WHERE address = '80.81.193.108'"));
        }

        await using (var restarted = HttpSourcesTests.Services(db.DataSource, settings))
        {
            var directory = restarted.GetRequiredService<IxpDirectory>();
            await restarted.GetRequiredService<PeeringDbIxpSync>().LoadAsync(CancellationToken.None);
            Assert.Equal(new IxpMatch("AMS-IX", 13335), directory.Find(IPAddress.Parse("80.249.211.140")));
            Assert.NotNull(directory.SyncedAt);
            Assert.Equal(5, server.Requests.Count);
        }
    }

    [Fact]
    public void Hops_in_an_ixp_lan_get_the_ix_name_and_the_member_asn_whatever_their_address_class()
    {
        var directory = new IxpDirectory();
        directory.Replace(
            [new IxpLan(IpPrefix.Parse("80.249.208.0/21"), 26, "AMS-IX"), new IxpLan(IpPrefix.Parse("10.99.0.0/24"), 1, "LAB-IX")],
            [(IPAddress.Parse("80.249.211.140"), 13335L), (IPAddress.Parse("10.99.0.20"), 64520L)], DateTimeOffset.UtcNow);
        var builder = new PrefixTableBuilder();
        builder.BeginSource(DuplicatePolicy.Accumulate);
        builder.Add(IpPrefix.Parse("80.249.208.0/21"), 1200); // the IXP announces its own LAN
        builder.Add(IpPrefix.Parse("8.8.8.0/24"), 15169);
        var table = builder.Build();
        var enricher = new HopEnricher(new PrefixTableService(new CyberWatchOptions(), NullLogger<PrefixTableService>.Instance),
            SpecialAddresses.Standard, directory);
        var unmapped = 0;

        var member = enricher.Enrich(new HopRow { Ttl = 3, Address = IPAddress.Parse("80.249.211.140") }, table, ref unmapped);
        var unknownMember = enricher.Enrich(new HopRow { Ttl = 4, Address = IPAddress.Parse("80.249.215.1") }, table, ref unmapped);
        var lab = enricher.Enrich(new HopRow { Ttl = 5, Address = IPAddress.Parse("10.99.0.20") }, table, ref unmapped);
        var elsewhere = enricher.Enrich(new HopRow { Ttl = 6, Address = IPAddress.Parse("8.8.8.8") }, table, ref unmapped);

        Assert.Equal(("AMS-IX", 13335L, "global"), (member.Ixp, member.Asn, member.AddressClass));
        Assert.Equal(("AMS-IX", 1200L), (unknownMember.Ixp, unknownMember.Asn));
        Assert.Equal(("LAB-IX", 64520L, "private"), (lab.Ixp, lab.Asn, lab.AddressClass));
        Assert.Equal((null, 15169L), (elsewhere.Ixp, elsewhere.Asn));
        Assert.Equal(0, unmapped);

        // Without a directory nothing changes.
        var plain = new HopEnricher(new PrefixTableService(new CyberWatchOptions(), NullLogger<PrefixTableService>.Instance), SpecialAddresses.Standard);
        Assert.Equal((null, 1200L), (plain.Enrich(new HopRow { Ttl = 3, Address = IPAddress.Parse("80.249.211.140") }, table, ref unmapped) is var h ? (h.Ixp, h.Asn) : default));
    }
}
