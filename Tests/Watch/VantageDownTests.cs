using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using CyberWatch.Vantages;
using CyberWatch.Watch.Incidents;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace CyberWatch.Tests.Watch;

/// <summary><c>vantage_down</c> incidents: the hysteresis (<see cref="VantageDownRules"/>) and the watch on the incidents table.</summary>
public sealed class VantageDownTests : IAsyncLifetime
{
    private static readonly IncidentSettings Rules = new() { OpenAfter = 2, ResolveAfter = 3 };
    private TestDatabase? db;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (db is not null)
        {
            await db.DisposeAsync();
        }
    }

    [Fact]
    public void Down_opens_after_two_checks_resolves_after_three_not_down_and_a_flap_inside_keeps_it()
    {
        var rules = new VantageDownRules();
        (string, string)[] Home(string status) => [("home", status), ("office", VantageStatus.Up)];
        Assert.Empty(rules.Observe(Home(VantageStatus.Down), Rules));
        Assert.Empty(rules.Observe(Home(VantageStatus.Up), Rules)); // one check down is not an incident
        Assert.Empty(rules.Observe(Home(VantageStatus.Down), Rules));
        Assert.Equal([("home", true)], rules.Observe(Home(VantageStatus.Down), Rules));
        Assert.Empty(rules.Observe(Home(VantageStatus.Degraded), Rules)); // degraded is not down
        Assert.Empty(rules.Observe(Home(VantageStatus.Up), Rules));
        Assert.Empty(rules.Observe(Home(VantageStatus.Down), Rules)); // back down: the clear count starts again
        Assert.Empty(rules.Observe(Home(VantageStatus.Up), Rules));
        Assert.Empty(rules.Observe(Home(VantageStatus.Up), Rules));
        Assert.Equal([("home", false)], rules.Observe(Home(VantageStatus.Up), Rules));
        Assert.False(rules.IsOpen("office"));
    }

    [Fact]
    public async Task Two_silos_watching_one_down_vantage_open_one_incident_and_a_restarted_one_resolves_it()
    {
        db = await TestDatabase.CreateAsync();
        var store = new IncidentStore(db.DataSource);
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));
        VantageDownWatch Silo() => new(new VantageDirectory(db.DataSource, Microsoft.Extensions.Options.Options.Create(new CyberWatch.Vantages.VantageOptions())), store, null!, clock, NullLogger<VantageDownWatch>.Instance);
        var first = Silo();
        var second = Silo();
        (string, string)[] down = [("home", VantageStatus.Down), ("office", VantageStatus.Up)];
        for (var check = 0; check < 3; check++)
        {
            await first.CheckAsync(down, Rules, CancellationToken.None);
            await second.CheckAsync(down, Rules, CancellationToken.None);
            clock.Advance(VantageDownWatch.CheckEvery);
        }
        var incident = Assert.Single(await store.ListAsync("open", clock.GetUtcNow().AddDays(-1), clock.GetUtcNow(), null, null, 10, TargetScope.IncludingDns, CancellationToken.None));
        Assert.Equal("vantage_down", incident.Kind);
        Assert.Equal("home", incident.Subject);
        Assert.Equal(["home"], incident.Vantages);
        Assert.Empty(incident.Targets);

        // A silo started now takes the open incident from the table and resolves it after three checks up.
        var restarted = Silo();
        (string, string)[] up = [("home", VantageStatus.Up), ("office", VantageStatus.Up)];
        for (var check = 0; check < 3; check++)
        {
            await restarted.CheckAsync(up, Rules, CancellationToken.None);
            clock.Advance(VantageDownWatch.CheckEvery);
        }
        var resolved = (await store.GetAsync(incident.Id, TargetScope.IncludingDns, CancellationToken.None))!;
        Assert.Equal("resolved", resolved.State);
        Assert.Equal("up", resolved.After!.Value.GetProperty("status").GetString());
        Assert.Equal(1, await db.ScalarAsync<long>("SELECT count(*) FROM incidents"));
    }
}
