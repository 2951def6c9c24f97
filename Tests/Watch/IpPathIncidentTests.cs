using System.Text.Json;
using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using CyberWatch.Watch.Incidents;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace CyberWatch.Tests.Watch;

/// <summary>IP-path incidents beyond ECMP: the changed hop, the rules on the traces after a change (<see cref="IpPathRules"/>) and the watch (sql/025).</summary>
public sealed class IpPathIncidentTests : IAsyncLifetime
{
    private static readonly DateTimeOffset At = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
    // The lab's shape: the vantage's router, then one of two upstreams, then the target.
    private static readonly string?[] Old = ["10.0.0.1", "10.0.1.1", null, "30.14.1.10"];
    private static readonly string?[] New = ["10.0.0.1", "10.0.2.1", null, "30.14.1.10"];
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
    public void Changed_hop_is_the_last_shared_address_and_the_first_differing_one_silent_hops_skipped()
    {
        Assert.Equal(new IpHopChange("10.0.0.1", "10.0.1.1", "10.0.2.1"), IpHopChange.Between(Old, New));
        Assert.Equal("10.0.0.1>10.0.1.1 => 10.0.0.1>10.0.2.1", IpHopChange.Between(Old, New)!.Subject);
        // A silent TTL on one side is no difference; the first hop differing has the vantage as its 'from'.
        Assert.Null(IpHopChange.Between(["10.0.0.1", null, "30.14.1.10"], [null, "10.0.1.1", "30.14.1.10"]));
        Assert.Equal(new IpHopChange(null, "10.0.0.1", "10.0.0.9"), IpHopChange.Between(["10.0.0.1"], ["10.0.0.9"]));
        // The path stopping earlier: the end moved.
        Assert.Equal(new IpHopChange("10.0.1.1", "30.14.1.10", null), IpHopChange.Between(["10.0.0.1", "10.0.1.1", "30.14.1.10"], ["10.0.0.1", "10.0.1.1"]));
        Assert.Null(IpHopChange.Between(Old, Old));
    }

    [Fact]
    public void Alternation_never_opens_a_change_that_holds_opens_after_open_after_traces_and_resolves_after_resolve_after_clear()
    {
        var rules = new IncidentSettings { OpenAfter = 2, ResolveAfter = 3, PathSettleSeconds = 86_400 };
        IpPathEvaluation Evaluate(params bool[] onNew) =>
            IpPathRules.Evaluate([.. onNew.Select((on, i) => new IpPathTrace(100 + i, At.AddMinutes(i), on))], rules, At.AddMinutes(onNew.Length));

        Assert.Equal(IpPathVerdict.Pending, Evaluate(true).Verdict);
        // ECMP: a branch not seen before, then back on a known one — however long it alternates, never an incident.
        Assert.Equal(IpPathVerdict.Alternation, Evaluate(true, false).Verdict);
        Assert.Equal(IpPathVerdict.Alternation, Evaluate(true, false, true, false, true, true, true).Verdict);

        var open = Evaluate(true, true);
        Assert.Equal(IpPathVerdict.Open, open.Verdict);
        Assert.Equal(At.AddMinutes(1), open.OpenedAt);
        // Flapping inside: two clear, one on the new hop, two clear — still open (the clear count started again).
        Assert.Equal(IpPathVerdict.Open, Evaluate(true, true, false, false, true, false, false).Verdict);
        var back = Evaluate(true, true, false, false, true, false, false, false);
        Assert.Equal(IpPathVerdict.Back, back.Verdict);
        Assert.Equal(At.AddMinutes(7), back.ResolvedAt);
        Assert.Equal(107, back.LastMeasurementId);

        // A new hop that lasts the settle time is the new normal.
        var settled = IpPathRules.Evaluate([new IpPathTrace(1, At, true), new IpPathTrace(2, At.AddMinutes(1), true)], rules, At.AddDays(2));
        Assert.Equal(IpPathVerdict.Settled, settled.Verdict);
        Assert.Equal(At.AddMinutes(1).AddDays(1), settled.ResolvedAt);
    }

    [Fact]
    public async Task Watch_opens_one_incident_per_changed_hop_for_changes_that_hold_none_for_alternation_or_as_path_changes_and_resolves_it()
    {
        db = await TestDatabase.CreateAsync();
        var clock = new FakeTimeProvider(At.AddMinutes(1));
        var rules = new IncidentSettings { OpenAfter = 2, ResolveAfter = 2 };
        var watch = new IpPathIncidentWatch(db.DataSource, null!, clock, NullLogger<IpPathIncidentWatch>.Instance);

        // 30.14.1.10 and .20 from home, and .10 from office: moved to the upstream 10.0.2.1 and staying there.
        foreach (var (target, vantage) in new[] { ("30.14.1.10", "home"), ("30.14.1.20", "home"), ("30.14.1.10", "office") })
        {
            await TraceAsync(target, vantage, At.AddMinutes(-5), Old);
            var change = await TraceAsync(target, vantage, At, New);
            await ChangeAsync(target, vantage, At, change, Old, New);
        }
        // 30.14.1.30 from home: a branch not seen before, then back on the known one — ECMP alternation.
        await TraceAsync("30.14.1.30", "home", At.AddMinutes(-5), Old);
        var ecmp = await TraceAsync("30.14.1.30", "home", At, New);
        await ChangeAsync("30.14.1.30", "home", At, ecmp, Old, New);
        await TraceAsync("30.14.1.30", "home", At.AddMinutes(1), Old);
        // 30.14.1.40 from home: the IP change came with an AS-path change in the same trace — the AS-path incident's.
        var moved = await TraceAsync("30.14.1.40", "home", At, New);
        await ChangeAsync("30.14.1.40", "home", At, moved, Old, New);
        await TraceAsync("30.14.1.40", "home", At.AddMinutes(1), New);
        await db.ScalarAsync<object>($$"""
            INSERT INTO path_changes (target, detected_at, kind, measurement_id, before, after, vantage)
            VALUES ('30.14.1.40', '{{At.UtcDateTime:O}}', 'as_path', {{moved}}, '{"as_path": [64500, 64510]}', '{"as_path": [64500, 64520]}', 'home')
            """);

        // One trace on the new hop so far: pending, nothing open.
        Assert.Equal(0, await watch.RunOnceAsync(rules, CancellationToken.None));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM incidents"));

        foreach (var (target, vantage) in new[] { ("30.14.1.10", "home"), ("30.14.1.20", "home"), ("30.14.1.10", "office") })
        {
            await TraceAsync(target, vantage, At.AddMinutes(2), New);
        }
        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(1, await watch.RunOnceAsync(rules, CancellationToken.None));
        Assert.Equal(1, await watch.RunOnceAsync(rules, CancellationToken.None));
        var store = new IncidentStore(db.DataSource);
        var incident = Assert.Single(await store.ListAsync(null, At.AddDays(-1), At.AddDays(1), null, null, 10, TargetScope.IncludingDns, CancellationToken.None));
        Assert.Equal("ip_path", incident.Kind);
        Assert.Equal("10.0.0.1>10.0.1.1 => 10.0.0.1>10.0.2.1", incident.Subject);
        Assert.Equal(["home", "office"], incident.Vantages);
        Assert.Equal(["30.14.1.10", "30.14.1.20"], incident.Targets.Order());
        Assert.Equal(At.AddMinutes(2), incident.OpenedAt);
        Assert.Equal("10.0.2.1", incident.Before!.Value.GetProperty("changed_hop").GetProperty("after").GetString());
        Assert.Equal(3, incident.After!.Value.GetProperty("paths").GetArrayLength());

        // Back on the old upstream: one clear trace is not enough, two are.
        foreach (var (target, vantage) in new[] { ("30.14.1.10", "home"), ("30.14.1.20", "home"), ("30.14.1.10", "office") })
        {
            await TraceAsync(target, vantage, At.AddMinutes(4), Old);
        }
        clock.Advance(TimeSpan.FromMinutes(3));
        Assert.Equal(1, await watch.RunOnceAsync(rules, CancellationToken.None));
        foreach (var (target, vantage, minute) in new[] { ("30.14.1.10", "home", 5), ("30.14.1.20", "home", 6), ("30.14.1.10", "office", 7) })
        {
            await TraceAsync(target, vantage, At.AddMinutes(minute), Old);
        }
        clock.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(0, await watch.RunOnceAsync(rules, CancellationToken.None));
        var resolved = (await store.GetAsync(incident.Id, TargetScope.IncludingDns, CancellationToken.None))!;
        Assert.Equal("resolved", resolved.State);
        Assert.Equal(At.AddMinutes(7), resolved.ResolvedAt);
        Assert.Equal("back", resolved.After!.Value.GetProperty("resolution").GetString());
        // Nothing reopens on later passes, and nothing else was ever opened.
        Assert.Equal(0, await watch.RunOnceAsync(rules, CancellationToken.None));
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM incidents"));
    }

    private async Task<long> TraceAsync(string target, string vantage, DateTimeOffset at, string?[] path)
    {
        await using var command = db!.DataSource.CreateCommand("""
            WITH m AS (
                INSERT INTO measurements (target, tool, method, vantage, started_at, success)
                VALUES (@target::inet, 'scamper', 'icmp-paris', @vantage, @at, true) RETURNING id)
            SELECT id FROM m
            """);
        command.Parameters.AddWithValue("target", target);
        command.Parameters.AddWithValue("vantage", vantage);
        command.Parameters.AddWithValue("at", at.UtcDateTime);
        var id = (long)(await command.ExecuteScalarAsync())!;
        for (var i = 0; i < path.Length; i++)
        {
            await using var hop = db.DataSource.CreateCommand("INSERT INTO hops (measurement_id, measured_at, ttl, address) VALUES (@id, @at, @ttl, @address::inet)");
            hop.Parameters.AddWithValue("id", id);
            hop.Parameters.AddWithValue("at", at.UtcDateTime);
            hop.Parameters.AddWithValue("ttl", (short)(i + 1));
            hop.Parameters.AddWithValue("address", NpgsqlTypes.NpgsqlDbType.Text, (object?)path[i] ?? DBNull.Value);
            await hop.ExecuteNonQueryAsync();
        }
        return id;
    }

    private async Task ChangeAsync(string target, string vantage, DateTimeOffset at, long measurementId, string?[] before, string?[] after)
    {
        await using var command = db!.DataSource.CreateCommand("""
            INSERT INTO path_changes (target, detected_at, kind, measurement_id, before, after, vantage)
            VALUES (@target::inet, @at, 'ip_path', @measurement, @before::jsonb, @after::jsonb, @vantage)
            """);
        command.Parameters.AddWithValue("target", target);
        command.Parameters.AddWithValue("at", at.UtcDateTime);
        command.Parameters.AddWithValue("measurement", measurementId);
        command.Parameters.AddWithValue("before", JsonSerializer.Serialize(new { ip_path = before }));
        command.Parameters.AddWithValue("after", JsonSerializer.Serialize(new { ip_path = after }));
        command.Parameters.AddWithValue("vantage", vantage);
        await command.ExecuteNonQueryAsync();
    }
}
