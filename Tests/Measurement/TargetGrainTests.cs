using Orleans.Runtime.MembershipService.SiloMetadata;
using System.Diagnostics.Metrics;
using CyberWatch.Configuration;
using CyberWatch.Enrichment;
using CyberWatch.Measurement;
using CyberWatch.Silo;
using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using CyberWatch.Vantages;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;

namespace CyberWatch.Tests.Measurement;

/// <summary>
/// The target grain in an in-process cluster on the real PostgreSQL, called directly as the DNS intake, hop
/// feedback and probe runner call it (no API in front, no scamper): its own target policy, per-vantage
/// path history, and the rows it writes before it acknowledges. Runs without root.
/// </summary>
public sealed class TargetGrainTests : IAsyncLifetime
{
    private TestDatabase db = null!;
    private InProcessTestCluster cluster = null!;
    private readonly FakeTimeProvider clock = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
    private long nextId = 1000;

    public async ValueTask InitializeAsync()
    {
        db = await TestDatabase.CreateAsync();
        await db.ScalarAsync<object>("INSERT INTO vantages (name) VALUES ('north'), ('south')");
        var builder = new InProcessTestClusterBuilder(1);
        builder.Options.ServiceId = "svc-" + Guid.NewGuid().ToString("n")[..8];
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddCyberWatchPersistence(db.ConnectionString);
            silo.Services.AddSingleton(db.DataSource);
            silo.Services.AddSingleton<TimeProvider>(clock);
            silo.Services.AddSingleton(new CyberWatchOptions { Vantage = "north" });
            silo.Services.AddSingleton<SettingsMonitor>();
            silo.Services.AddSingleton<TargetTable>();
            silo.Services.AddSingleton<MeasurementQueries>();
            silo.Services.AddSingleton(new TargetPolicy(SpecialAddresses.Standard, []));
            silo.Services.AddSingleton<PathChangeLog>();
            // The grain nudges the schedule shards of the vantages a silo serves (this one serves "north").
            silo.UseSiloMetadata(new Dictionary<string, string> { [CyberWatch.Vantages.VantagePlacement.MetadataKey] = "north" });
            silo.Services.AddSingleton<CyberWatch.Vantages.VantageSilos>();
        });
        cluster = builder.Build();
        await cluster.DeployAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (cluster is not null)
        {
            await cluster.DisposeAsync();
        }
        if (db is not null)
        {
            await db.DisposeAsync();
        }
    }

    private ITargetGrain Target(string ip) => cluster.Client.GetGrain<ITargetGrain>(ip);


    private MeasurementSummary Measured(string target, string vantage, long?[] asPath, params string?[] ipPath) =>
        new(nextId++, target, "icmp-paris", true, clock.GetUtcNow(), ipPath.Length, 10, "COMPLETED", null, ipPath,
            [.. asPath.OfType<long>()], vantage);

    [Fact]
    public async Task A_grain_called_directly_refuses_what_the_target_policy_refuses_and_writes_nothing()
    {
        foreach (var address in new[] { "10.0.0.1", "127.0.0.1", "192.0.2.1", "100.64.0.1" })
        {
            var acceptance = await Target(address).Accept(TargetSource.Dns);
            Assert.False(acceptance.Created);
            Assert.Contains("address", acceptance.Refused);
            Assert.False((await Target(address).GetInfo()).Active);
        }
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT count(*) FROM targets"));
    }

    [Fact]
    public async Task An_acknowledged_target_has_its_rows_and_pairs_and_offering_it_again_keeps_its_selection()
    {
        var first = await Target("30.9.0.7").Accept(TargetSource.Dns);
        Assert.True(first.Created);
        // Written before the acknowledgement, not in a batch behind it.
        Assert.Equal("{dns}", await db.ScalarAsync<string>("SELECT sources::text FROM targets WHERE ip = '30.9.0.7'"));
        Assert.Equal(2, await db.ScalarAsync<long>("SELECT count(*) FROM target_vantages WHERE ip = '30.9.0.7'"));

        await Target("30.9.0.7").Accept(TargetSource.Api, VantageSelection.Only(["south"]));
        await Target("30.9.0.7").Accept(TargetSource.Hop);
        var info = await Target("30.9.0.7").GetInfo();
        Assert.Equal(VantageSelection.Only(["south"]), info.Vantages);
        Assert.Equal(["south"], info.PerVantage.Where(v => v.Scheduled).Select(v => v.Vantage));
        Assert.Equal([TargetSource.Api, TargetSource.Dns, TargetSource.Hop], info.Sources);
        Assert.Equal("{south}", await db.ScalarAsync<string>("SELECT array_agg(vantage)::text FROM target_vantages WHERE ip = '30.9.0.7'"));

        await Target("30.9.0.7").Remove();
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT count(*) FROM target_vantages WHERE ip = '30.9.0.7'"));
    }

    [Fact]
    public async Task Measurements_from_two_vantages_interleaved_are_judged_each_against_its_own_history()
    {
        var target = Target("30.9.0.9");
        await target.Accept(TargetSource.Api);
        // North reaches it over AS 100 → 200 → 300, south over AS 400 → 300: different paths, both stable.
        for (var round = 0; round < 10; round++)
        {
            clock.Advance(TimeSpan.FromMinutes(5));
            await target.OnMeasured(Measured("30.9.0.9", "north", [100, 200, 300], "198.18.0.1", "198.18.1.1", "30.9.0.9"));
            clock.Advance(TimeSpan.FromMinutes(5));
            await target.OnMeasured(Measured("30.9.0.9", "south", [400, 300], "203.0.113.1", "30.9.0.9"));
        }
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT count(*) FROM path_changes"));

        // North's route moves: one AS-path and one IP-path change, recorded for north only.
        await target.OnMeasured(Measured("30.9.0.9", "north", [100, 500, 300], "198.18.0.1", "198.18.5.1", "30.9.0.9"));
        await target.OnMeasured(Measured("30.9.0.9", "south", [400, 300], "203.0.113.1", "30.9.0.9"));
        Assert.Equal("as_path,ip_path", await db.ScalarAsync<string>("SELECT string_agg(kind, ',' ORDER BY kind) FROM path_changes"));
        Assert.Equal("{north}", await db.ScalarAsync<string>("SELECT array_agg(DISTINCT vantage)::text FROM path_changes"));

        var info = await target.GetInfo();
        Assert.Equal([100L, 500L, 300L], info.PerVantage.Single(v => v.Vantage == "north").LastAsPath);
        Assert.Equal([400L, 300L], info.PerVantage.Single(v => v.Vantage == "south").LastAsPath);
    }

    [Fact]
    public async Task A_report_told_twice_or_late_changes_nothing()
    {
        var target = Target("30.9.0.12");
        await target.Accept(TargetSource.Api);
        var first = Measured("30.9.0.12", "north", [100, 300], "198.18.0.1", "30.9.0.12");
        await target.OnMeasured(first);
        var second = Measured("30.9.0.12", "north", [100, 200, 300], "198.18.0.1", "198.18.1.1", "30.9.0.12");
        await target.OnMeasured(second);
        Assert.Equal(2, await db.ScalarAsync<long>("SELECT count(*) FROM path_changes WHERE target = '30.9.0.12'"));
        // The probe runner sends a rejected report again; a report of an older measurement arrives last.
        await target.OnMeasured(second);
        await target.OnMeasured(first);
        Assert.Equal(2, await db.ScalarAsync<long>("SELECT count(*) FROM path_changes WHERE target = '30.9.0.12'"));
        var north = (await target.GetInfo()).PerVantage.Single(v => v.Vantage == "north");
        Assert.Equal([100L, 200L, 300L], north.LastAsPath);
    }

    [Fact]
    public async Task The_cooldown_of_an_on_demand_probe_is_per_vantage()
    {
        await db.ScalarAsync<object>("""UPDATE settings SET value = value || '{"target_cooldown_seconds": 60}'::jsonb WHERE key = 'worker_settings'""");
        await cluster.Silos[0].ServiceProvider.GetRequiredService<SettingsMonitor>().RefreshAsync(CancellationToken.None);
        var target = Target("30.9.0.11");
        Assert.True((await target.RequestProbe("north")).Allowed);
        Assert.False((await target.RequestProbe("north")).Allowed);
        Assert.True((await target.RequestProbe("south")).Allowed);
        clock.Advance(TimeSpan.FromSeconds(61));
        Assert.True((await target.RequestProbe("north")).Allowed);
    }
}
