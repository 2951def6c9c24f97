using System.Net;
using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using CyberWatch.Watch.Incidents;

namespace CyberWatch.Tests.Watch;

/// <summary>The incidents table (sql/018) through its one writer.</summary>
public sealed class IncidentStoreTests : IAsyncLifetime
{
    private static readonly IPAddress Target = IPAddress.Parse("30.14.1.10");
    private static readonly DateTimeOffset At = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
    private TestDatabase db = null!;
    private IncidentStore store = null!;

    public async ValueTask InitializeAsync()
    {
        db = await TestDatabase.CreateAsync();
        store = new IncidentStore(db.DataSource);
    }

    public async ValueTask DisposeAsync()
    {
        if (db is not null)
        {
            await db.DisposeAsync();
        }
    }

    [Fact]
    public async Task One_cause_has_at_most_one_open_incident_and_resolving_closes_it()
    {
        var id = await store.OpenAsync(IncidentKind.Loss, Target, "home", At, new { loss_pct = 10 }, CancellationToken.None);
        // Opened again (another silo, a grain activated twice): the same incident.
        Assert.Equal(id, await store.OpenAsync(IncidentKind.Loss, Target, "home", At.AddMinutes(5), new { loss_pct = 12 }, CancellationToken.None));
        // Another vantage or kind is another cause.
        var office = await store.OpenAsync(IncidentKind.Loss, Target, "office", At, new { }, CancellationToken.None);
        var latency = await store.OpenAsync(IncidentKind.LatencyShift, Target, "home", At, new { }, CancellationToken.None);
        Assert.Equal(3, new[] { id, office, latency }.Distinct().Count());
        Assert.Equal(["latency_shift", "loss"], (await store.OpenKindsAsync(Target, "home", CancellationToken.None)).Order());

        Assert.True(await store.ResolveAsync(IncidentKind.Loss, Target, "home", At.AddMinutes(20), new { loss_pct = 0 }, CancellationToken.None));
        Assert.False(await store.ResolveAsync(IncidentKind.Loss, Target, "home", At.AddMinutes(25), new { }, CancellationToken.None));
        var resolved = await store.GetAsync(id, TargetScope.IncludingDns, CancellationToken.None);
        Assert.Equal("resolved", resolved!.State);
        Assert.Equal(At.AddMinutes(20), resolved.ResolvedAt);
        Assert.Equal(10, resolved.Before!.Value.GetProperty("loss_pct").GetInt32());
        Assert.Equal(["30.14.1.10"], resolved.Targets);
        Assert.Equal(["home"], resolved.Vantages);

        // After resolving, the same cause opens a new incident.
        Assert.NotEqual(id, await store.OpenAsync(IncidentKind.Loss, Target, "home", At.AddHours(1), new { }, CancellationToken.None));

        var open = await store.ListAsync("open", At.AddYears(-1), At.AddYears(1), null, null, 100, TargetScope.IncludingDns, CancellationToken.None);
        Assert.Equal(3, open.Count);
        Assert.Single(await store.ListAsync("resolved", At.AddDays(-1), At.AddDays(1), null, null, 100, TargetScope.IncludingDns, CancellationToken.None));
        Assert.Single(await store.ListAsync(null, At.AddDays(-1), At.AddDays(1), "loss", "office", 100, TargetScope.IncludingDns, CancellationToken.None));
        Assert.Equal([("latency_shift", "home", 1L), ("loss", "home", 1L), ("loss", "office", 1L)],
            (await store.OpenCountsAsync(CancellationToken.None)).Order());
    }
}
