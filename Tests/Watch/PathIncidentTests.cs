using System.Text.Json;
using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using CyberWatch.Watch.Incidents;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace CyberWatch.Tests.Watch;

/// <summary>AS-path incidents from path changes: the rules (<see cref="PathIncidents"/>) and their watch on path_changes (sql/023).</summary>
public sealed class PathIncidentTests : IAsyncLifetime
{
    private static readonly DateTimeOffset At = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
    // The lab's move: AS 64500 reaches 64530 through 64510, then through 64520.
    private static readonly long[] Before = [64500, 64510, 64530];
    private static readonly long[] After = [64500, 64520, 64530];
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
    public void Changed_edge_is_the_last_shared_as_and_the_next_of_each_path()
    {
        Assert.Equal(new AsEdgeChange(64500, 64510, 64520), AsEdgeChange.Between(Before, After));
        Assert.Equal("AS64500>AS64510 => AS64500>AS64520", AsEdgeChange.Between(Before, After)!.Subject);
        Assert.Equal(new AsEdgeChange(64510, 64530, null), AsEdgeChange.Between([64500, 64510, 64530], [64500, 64510]));
        Assert.Equal(new AsEdgeChange(null, 64500, 64501), AsEdgeChange.Between([64500], [64501]));
        Assert.Null(AsEdgeChange.Between(Before, Before));
    }

    [Fact]
    public void Changes_at_one_edge_from_several_targets_and_vantages_are_one_incident_that_resolves_when_every_path_is_back()
    {
        var rules = new PathIncidents([]);
        var first = rules.Apply(new AsPathChange(1, "30.14.1.10", "home", At, Before, After, 11));
        Assert.Same(first, rules.Apply(new AsPathChange(2, "30.14.1.20", "home", At.AddMinutes(3), Before, After, 12)));
        Assert.Same(first, rules.Apply(new AsPathChange(3, "30.14.1.10", "office", At.AddMinutes(4), [64501, .. Before], [64501, .. After], 13)));
        // Another edge is another cause.
        var other = rules.Apply(new AsPathChange(4, "30.15.1.10", "home", At.AddMinutes(5), [64500, 64540], [64500, 64550], 14))!;
        Assert.NotSame(first, other);
        Assert.Equal(2, rules.Open.Count);
        Assert.Equal(["home", "office"], first!.Vantages);
        Assert.Equal(["30.14.1.10", "30.14.1.20"], first.Targets);

        // A path that flaps inside the open incident opens nothing new; back on two of three pairs keeps it open.
        Assert.Same(first, rules.Apply(new AsPathChange(5, "30.14.1.10", "home", At.AddMinutes(6), After, Before, 15)));
        Assert.Same(first, rules.Apply(new AsPathChange(6, "30.14.1.10", "home", At.AddMinutes(7), Before, After, 16)));
        Assert.Same(first, rules.Apply(new AsPathChange(7, "30.14.1.10", "home", At.AddMinutes(8), After, Before, 17)));
        Assert.Same(first, rules.Apply(new AsPathChange(8, "30.14.1.20", "home", At.AddMinutes(8), After, Before, 18)));
        Assert.Null(first.ResolvedAt);
        Assert.Same(first, rules.Apply(new AsPathChange(9, "30.14.1.10", "office", At.AddMinutes(9), [64501, .. After], [64501, .. Before], 19)));
        Assert.Equal(At.AddMinutes(9), first.ResolvedAt);
        Assert.Equal("back", first.Resolution);
        Assert.Equal([other], rules.Open);

        // A new path that lasts settles: resolved once nothing changed for the settle time.
        Assert.Empty(rules.Settle(At.AddMinutes(5).AddHours(1).AddSeconds(-1), TimeSpan.FromHours(1)));
        Assert.Equal([other], rules.Settle(At.AddMinutes(5).AddHours(1), TimeSpan.FromHours(1)));
        Assert.Equal("settled", other.Resolution);
    }

    [Fact]
    public async Task Watch_opens_one_incident_per_changed_edge_from_path_changes_once_and_resolves_it_when_the_paths_are_back()
    {
        db = await TestDatabase.CreateAsync();
        var clock = new FakeTimeProvider(At.AddMinutes(1));
        var rules = new IncidentSettings();
        // What was there before the migration is not news.
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT last_change_id FROM path_incident_cursor"));
        await InsertChangeAsync("30.14.1.10", "home", At, Before, After);
        await InsertChangeAsync("30.14.1.20", "home", At.AddSeconds(10), Before, After);
        await InsertChangeAsync("30.14.1.10", "office", At.AddSeconds(20), [64501, .. Before], [64501, .. After]);
        await InsertChangeAsync("30.14.1.10", "office", At.AddSeconds(20), [64501, .. Before], [64501, .. After], kind: "ip_path");
        // Too fresh: its id may have been taken before an earlier one's commit; left for the next pass.
        await InsertChangeAsync("30.14.1.30", "home", At.AddMinutes(1), Before, After);

        var watch = new PathIncidentWatch(db.DataSource, null!, clock, NullLogger<PathIncidentWatch>.Instance);
        Assert.Equal(3, await watch.RunOnceAsync(rules, CancellationToken.None));
        // A second silo's pass (or this one's again) applies nothing twice.
        Assert.Equal(0, await watch.RunOnceAsync(rules, CancellationToken.None));
        var store = new IncidentStore(db.DataSource);
        var incident = Assert.Single(await store.ListAsync("open", At.AddDays(-1), At.AddDays(1), "as_path", null, 10, TargetScope.IncludingDns, CancellationToken.None));
        Assert.Equal("AS64500>AS64510 => AS64500>AS64520", incident.Subject);
        Assert.Equal(["home", "office"], incident.Vantages);
        Assert.Equal(["30.14.1.10", "30.14.1.20"], incident.Targets);
        Assert.Equal(64510, incident.Before!.Value.GetProperty("changed_edge").GetProperty("before_next_asn").GetInt64());
        Assert.Equal(Before, incident.Before.Value.GetProperty("paths")[0].GetProperty("as_path").Deserialize<long[]>());
        Assert.Equal(After, incident.After!.Value.GetProperty("paths")[0].GetProperty("as_path").Deserialize<long[]>());

        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, await watch.RunOnceAsync(rules, CancellationToken.None));
        Assert.Equal(3, (await store.GetAsync(incident.Id, TargetScope.IncludingDns, CancellationToken.None))!.Targets.Count);

        // Everything moves back: resolved, with the paths now as before.
        foreach (var (target, vantage, before, after) in new[]
                 {
                     ("30.14.1.10", "home", Before, After), ("30.14.1.20", "home", Before, After), ("30.14.1.30", "home", Before, After),
                     ("30.14.1.10", "office", (long[])[64501, .. Before], (long[])[64501, .. After]),
                 })
        {
            await InsertChangeAsync(target, vantage, At.AddMinutes(3), after, before);
        }
        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(4, await watch.RunOnceAsync(rules, CancellationToken.None));
        var resolved = (await store.GetAsync(incident.Id, TargetScope.IncludingDns, CancellationToken.None))!;
        Assert.Equal("resolved", resolved.State);
        Assert.Equal(At.AddMinutes(3), resolved.ResolvedAt);
        Assert.Equal("back", resolved.After!.Value.GetProperty("resolution").GetString());
        Assert.Equal(1, await db.ScalarAsync<long>("SELECT count(*) FROM incidents"));
    }

    [Fact]
    public async Task Changes_written_in_other_shapes_are_read_or_skipped_and_never_stop_the_watch()
    {
        db = await TestDatabase.CreateAsync();
        var clock = new FakeTimeProvider(At.AddMinutes(1));
        // A bare array (as tools and tests write it), rows without paths, and paths that name no AS. Before, one such
        // row threw out of the watch, which stopped the silo.
        await db.ScalarAsync<object>("""
            INSERT INTO path_changes (target, detected_at, kind, measurement_id, before, after, vantage) VALUES
              ('30.14.2.1', '2026-12-07 12:00:00+00', 'as_path', 1, '[64500, 64510, 64530]', '[64500, 64520, 64530]', 'home'),
              ('30.14.2.2', '2026-12-07 12:00:00+00', 'as_path', 2, '{}', '{}', 'home'),
              ('30.14.2.3', '2026-12-07 12:00:00+00', 'as_path', 3, '["AS64500", null]', '{"as_path": "x"}', 'home')
            """);
        var watch = new PathIncidentWatch(db.DataSource, null!, clock, NullLogger<PathIncidentWatch>.Instance);
        Assert.Equal(2, await watch.RunOnceAsync(new IncidentSettings(), CancellationToken.None));
        Assert.Equal(await db.ScalarAsync<long>("SELECT max(id) FROM path_changes"), await db.ScalarAsync<long>("SELECT last_change_id FROM path_incident_cursor"));
        var incident = Assert.Single(await new IncidentStore(db.DataSource).ListAsync("open", At.AddDays(-1), At.AddDays(1), "as_path", null, 10, TargetScope.IncludingDns, CancellationToken.None));
        Assert.Equal("AS64500>AS64510 => AS64500>AS64520", incident.Subject);
        Assert.Equal(["30.14.2.1"], incident.Targets);
    }

    private async Task InsertChangeAsync(string target, string vantage, DateTimeOffset at, long[] before, long[] after, string kind = "as_path")
    {
        await using var command = db!.DataSource.CreateCommand("""
            INSERT INTO path_changes (target, detected_at, kind, previous_measurement_id, measurement_id, before, after, vantage)
            VALUES (@target::inet, @at, @kind, 1, 2, @before::jsonb, @after::jsonb, @vantage)
            """);
        command.Parameters.AddWithValue("target", target);
        command.Parameters.AddWithValue("at", at.UtcDateTime);
        command.Parameters.AddWithValue("kind", kind);
        command.Parameters.AddWithValue("before", JsonSerializer.Serialize(new { as_path = before }));
        command.Parameters.AddWithValue("after", JsonSerializer.Serialize(new { as_path = after }));
        command.Parameters.AddWithValue("vantage", vantage);
        await command.ExecuteNonQueryAsync();
    }
}
