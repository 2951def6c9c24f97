using System.Diagnostics;
using System.Net;
using CyberWatch.Enrichment;
using CyberWatch.Enrichment.HopNames;
using CyberWatch.Measurement;
using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Tests.Enrichment.HopNames;

public sealed class HopNameTests
{
    private static readonly HopNameOptions Defaults = new();

    [Fact]
    public void A_ptr_answer_gives_its_first_name_without_the_root_dot_for_its_ttl_held_within_bounds()
    {
        var address = IPAddress.Parse("11.12.100.1");
        var name = ReverseAnswer.Interpret(address, 0, [new PtrRecord("van-br.tra-br.as1200.lab.example.", 7200), new PtrRecord("other.example.", 60)], null, Defaults);
        Assert.Equal(HopNameStatus.Name, name.Status);
        Assert.Equal("van-br.tra-br.as1200.lab.example", name.Hostname);
        Assert.Equal(TimeSpan.FromHours(2), name.Ttl);

        Assert.Equal(TimeSpan.FromSeconds(Defaults.MinTtlSeconds), ReverseAnswer.Interpret(address, 0, [new PtrRecord("a.example.", 0)], null, Defaults).Ttl);
        Assert.Equal(TimeSpan.FromSeconds(Defaults.MaxTtlSeconds), ReverseAnswer.Interpret(address, 0, [new PtrRecord("a.example.", int.MaxValue)], null, Defaults).Ttl);
    }

    [Fact]
    public void A_negative_answer_is_kept_for_the_smaller_of_the_soa_ttl_and_minimum_or_the_configured_default_without_soa()
    {
        var address = IPAddress.Parse("11.12.100.1");
        var nx = ReverseAnswer.Interpret(address, 3, [], new NegativeSoa(3600, 900), Defaults);
        Assert.Equal((HopNameStatus.NxDomain, (string?)null, TimeSpan.FromSeconds(900)), (nx.Status, nx.Hostname, nx.Ttl));
        var nodata = ReverseAnswer.Interpret(address, 0, [], new NegativeSoa(300, 86400), Defaults);
        Assert.Equal((HopNameStatus.NoData, TimeSpan.FromSeconds(300)), (nodata.Status, nodata.Ttl));
        Assert.Equal(TimeSpan.FromSeconds(Defaults.NegativeTtlSeconds), ReverseAnswer.Interpret(address, 3, [], null, Defaults).Ttl);
    }

    [Fact]
    public void Servfail_refused_and_unusable_names_are_failures_asked_again_after_the_retry_delay()
    {
        var address = IPAddress.Parse("11.12.100.1");
        var servfail = ReverseAnswer.Interpret(address, 2, [], null, Defaults);
        Assert.Equal((HopNameStatus.Failed, "the resolver answered SERVFAIL", TimeSpan.FromSeconds(Defaults.RetrySeconds)), (servfail.Status, servfail.Error, servfail.Ttl));
        Assert.Equal("the resolver answered REFUSED", ReverseAnswer.Interpret(address, 5, [], null, Defaults).Error);
        var tooLong = ReverseAnswer.Interpret(address, 0, [new PtrRecord(new string('a', 300) + ".", 60)], null, Defaults);
        Assert.Equal(HopNameStatus.Failed, tooLong.Status);
        Assert.Null(tooLong.Hostname);
    }

    [Fact]
    public async Task The_resolver_reads_names_negative_ttls_and_failures_from_a_dns_exchange_over_udp()
    {
        await using var server = new FakePtrServer { SoaTtl = 3600, SoaMinimum = 900 };
        server.Names[IPAddress.Parse("11.12.100.1")] = ("van-br.tra-br.as1200.lab.example", 7200);
        server.Names[IPAddress.Parse("2a0c:9a40:1200:100::1")] = ("van-br.tra-br.as1200.lab.example", 120);
        server.ServerFailures[IPAddress.Parse("11.13.100.1")] = true;
        server.Silent[IPAddress.Parse("11.14.1.1")] = true;
        using var resolver = new ReverseResolver(Options(server), TimeProvider.System);

        var v4 = await resolver.ResolveAsync(IPAddress.Parse("11.12.100.1"), CancellationToken.None);
        Assert.Equal((HopNameStatus.Name, "van-br.tra-br.as1200.lab.example", TimeSpan.FromHours(2)), (v4.Status, v4.Hostname, v4.Ttl));
        var v6 = await resolver.ResolveAsync(IPAddress.Parse("2a0c:9a40:1200:100::1"), CancellationToken.None);
        Assert.Equal((HopNameStatus.Name, TimeSpan.FromSeconds(120)), (v6.Status, v6.Ttl));
        var nx = await resolver.ResolveAsync(IPAddress.Parse("11.15.1.1"), CancellationToken.None);
        Assert.Equal((HopNameStatus.NxDomain, TimeSpan.FromSeconds(900)), (nx.Status, nx.Ttl));
        var servfail = await resolver.ResolveAsync(IPAddress.Parse("11.13.100.1"), CancellationToken.None);
        Assert.Equal(HopNameStatus.Failed, servfail.Status);
        var silent = await resolver.ResolveAsync(IPAddress.Parse("11.14.1.1"), CancellationToken.None);
        Assert.Equal(HopNameStatus.Failed, silent.Status);
        // The timed-out query was tried twice (one retry), the others once.
        Assert.Equal(2, server.Questions.Count(a => a.Equals(IPAddress.Parse("11.14.1.1"))));
        Assert.Equal(1, server.Questions.Count(a => a.Equals(IPAddress.Parse("11.12.100.1"))));
    }

    [Fact]
    public async Task Lookups_are_spaced_by_the_configured_rate()
    {
        await using var server = new FakePtrServer();
        var options = Options(server);
        options.RatePerSecond = 10;
        using var resolver = new ReverseResolver(options, TimeProvider.System);
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(1, 15).Select(i => resolver.ResolveAsync(IPAddress.Parse($"11.16.0.{i}"), CancellationToken.None)));
        // One token every 100 ms, the first at once: 15 queries take at least 1.4 s.
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.3), $"15 lookups at 10/s took {clock.Elapsed.TotalMilliseconds:F0} ms");
        Assert.True(server.Questions.Count >= 15);
    }

    [Fact]
    public async Task Global_hops_get_names_after_ingest_special_ones_are_never_asked_and_answers_hold_for_their_ttl()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var server = new FakePtrServer { SoaTtl = 600, SoaMinimum = 600 };
        server.Names[IPAddress.Parse("11.12.100.1")] = ("van-br.tra-br.as1200.lab.example", 7200);
        server.Names[IPAddress.Parse("11.14.1.2")] = ("d14-br.d14-e1.as1400.lab.example", 120);
        server.Names[IPAddress.Parse("10.0.0.1")] = ("private.example", 7200);
        server.Silent[IPAddress.Parse("11.13.100.1")] = true;
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));
        await SeedAsync(db, 1, "2026-12-07 11:59+00", [("10.0.0.1", "private"), ("100.64.0.1", "cgnat"), ("11.12.100.1", "global"),
            ("11.13.100.1", "global"), ("11.14.1.2", "global"), ("11.15.1.1", "global"), (null, null)]);
        var options = Options(server);
        using var resolver = new ReverseResolver(options, TimeProvider.System);
        var enricher = new HopNameEnricher(new HopNameStore(db.DataSource, clock), resolver, new SpecialAddresses(Array.Empty<IPAddress>()),
            Microsoft.Extensions.Options.Options.Create(options), clock, NullLogger<HopNameEnricher>.Instance);

        Assert.Equal(4, (await enricher.RunOnceAsync(CancellationToken.None)).Asked);

        Assert.DoesNotContain(server.Questions, a => a.Equals(IPAddress.Parse("10.0.0.1")) || a.Equals(IPAddress.Parse("100.64.0.1")));
        var hops = await new MeasurementQueries(db.DataSource).HopsAsync(1, TargetScope.IncludingDns, CancellationToken.None);
        Assert.Equal(["", "", "van-br.tra-br.as1200.lab.example", "", "d14-br.d14-e1.as1400.lab.example", "", ""],
            hops!.Select(h => h.Hostname ?? "").ToArray());
        Assert.Equal("nxdomain", await db.ScalarAsync<string>("SELECT status FROM hop_names WHERE address = '11.15.1.1'"));
        Assert.Equal(600, await db.ScalarAsync<double>("SELECT extract(epoch FROM expires_at - resolved_at)::float8 FROM hop_names WHERE address = '11.15.1.1'"));
        Assert.Equal("failed", await db.ScalarAsync<string>("SELECT status FROM hop_names WHERE address = '11.13.100.1'"));

        // The same addresses traced again a minute later: every answer is still fresh, nothing is asked.
        var asked = server.Questions.Count;
        clock.Advance(TimeSpan.FromMinutes(1));
        await SeedAsync(db, 2, "2026-12-07 12:01+00", [("11.12.100.1", "global"), ("11.14.1.2", "global"), ("11.15.1.1", "global")]);
        Assert.Equal(0, (await enricher.RunOnceAsync(CancellationToken.None)).Asked);
        Assert.Equal(asked, server.Questions.Count);

        // Past the 120 s TTL of one name and the retry delay of the failure: those two are asked again.
        server.Silent.Clear();
        server.Names[IPAddress.Parse("11.13.100.1")] = ("trb-br.van-br.as1300.lab.example", 3600);
        clock.Advance(TimeSpan.FromSeconds(options.RetrySeconds));
        await SeedAsync(db, 3, "2026-12-07 12:07+00", [("11.12.100.1", "global"), ("11.14.1.2", "global")]);
        Assert.Equal(2, (await enricher.RunOnceAsync(CancellationToken.None)).Asked);
        Assert.Equal("trb-br.van-br.as1300.lab.example", await db.ScalarAsync<string>("SELECT hostname FROM hop_names WHERE address = '11.13.100.1'"));
        Assert.Equal(3L, await db.ScalarAsync<long>("SELECT last_measurement FROM hop_name_progress"));
    }

    [Fact]
    public async Task A_failed_refresh_keeps_the_name_already_known()
    {
        await using var db = await TestDatabase.CreateAsync();
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));
        var store = new HopNameStore(db.DataSource, clock);
        var address = IPAddress.Parse("11.12.100.1");
        await store.SaveAsync([new HopName(address, HopNameStatus.Name, "van-br.tra-br.as1200.lab.example", null, TimeSpan.FromMinutes(2))], CancellationToken.None);
        clock.Advance(TimeSpan.FromMinutes(5));
        await store.SaveAsync([ReverseAnswer.Failed(address, "the resolver did not answer in time", Defaults)], CancellationToken.None);
        Assert.Equal("van-br.tra-br.as1200.lab.example|name|the resolver did not answer in time",
            await db.ScalarAsync<string>("SELECT hostname || '|' || status || '|' || error FROM hop_names"));
    }

    [Theory]
    [InlineData("CyberWatch:HopNames:Server", "resolver.example", "CYBERWATCH_RDNS_SERVER")]
    [InlineData("CyberWatch:HopNames:RatePerSecond", "0", "CYBERWATCH_RDNS_RATE_PER_SECOND")]
    [InlineData("CyberWatch:HopNames:Concurrency", "0", "CYBERWATCH_RDNS_CONCURRENCY")]
    [InlineData("CyberWatch:HopNames:TimeoutSeconds", "-1", "CYBERWATCH_RDNS_TIMEOUT_SECONDS")]
    public void Bad_settings_are_refused_at_start_naming_the_variable(string key, string value, string variable)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CyberWatch:HopNames:Enabled"] = "false",
            [key] = value,
        }).Build();
        using var provider = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddHopNames(configuration).BuildServiceProvider();
        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<HopNameOptions>>().Value);
        Assert.Contains(variable, error.Message);
    }

    private static HopNameOptions Options(FakePtrServer server) => new()
    {
        Enabled = true,
        Server = server.EndPoint.ToString(),
        RatePerSecond = 1000,
        TimeoutSeconds = 1,
    };

    private static async Task SeedAsync(TestDatabase db, long id, string startedAt, IReadOnlyList<(string? Address, string? Class)> hops)
    {
        await using var command = db.DataSource.CreateCommand($"""
            INSERT INTO measurements (id, target, tool, method, vantage, started_at, success)
            VALUES ({id}, '11.14.255.1', 'scamper', 'icmp-paris', 'vp1', '{startedAt}', true);
            INSERT INTO hops (measurement_id, measured_at, ttl, address, address_class)
            SELECT {id}, '{startedAt}', ordinality, address::inet, class FROM unnest(@addresses::text[], @classes::text[]) WITH ORDINALITY AS u(address, class);
            """);
        command.Parameters.Add(new NpgsqlParameter("addresses", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = hops.Select(h => (object?)h.Address ?? DBNull.Value).ToArray() });
        command.Parameters.Add(new NpgsqlParameter("classes", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = hops.Select(h => (object?)h.Class ?? DBNull.Value).ToArray() });
        await command.ExecuteNonQueryAsync();
    }
}
