using CyberWatch.Silo;
using CyberWatch.Tests.Infrastructure;
using Orleans.Configuration;
using Orleans.TestingHost;

namespace CyberWatch.Tests.Hosting;

public sealed class GrainPersistenceOnPostgresTests
{
    private static InProcessTestCluster BuildCluster(TestDatabase db, string serviceId)
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.Options.ServiceId = serviceId;
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddCyberWatchPersistence(db.ConnectionString);
            silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
        });
        return builder.Build();
    }

    [Fact]
    public async Task Grain_state_written_by_one_cluster_is_read_back_by_a_new_one()
    {
        await using var db = await TestDatabase.CreateAsync();
        var serviceId = "svc-" + Guid.NewGuid().ToString("n")[..8];

        await using (var first = BuildCluster(db, serviceId))
        {
            await first.DeployAsync();
            var grain = first.Client.GetGrain<IPersistenceProbeGrain>("203.0.113.7");
            await grain.RecordProbe("198.51.100.1");
            await grain.RecordProbe("198.51.100.2");
            await first.StopAllSilosAsync();
        }

        Assert.Equal(1, await db.ScalarAsync<long>("SELECT count(*) FROM orleans_storage WHERE payloadbinary IS NOT NULL"));

        await using var second = BuildCluster(db, serviceId);
        await second.DeployAsync();
        var state = await second.Client.GetGrain<IPersistenceProbeGrain>("203.0.113.7").Read();
        Assert.Equal(2, state.Probes);
        Assert.Equal(["198.51.100.1", "198.51.100.2"], state.Hops);
    }

    [Fact]
    public async Task Reminder_registered_in_postgres_fires_and_can_be_removed()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var cluster = BuildCluster(db, "svc-" + Guid.NewGuid().ToString("n")[..8]);
        await cluster.DeployAsync();
        var grain = cluster.Client.GetGrain<IPersistenceProbeGrain>("192.0.2.10");

        await grain.StartReminder(TimeSpan.FromSeconds(1));
        Assert.Equal(1, await db.ScalarAsync<long>("SELECT count(*) FROM orleans_reminders WHERE remindername = 'remeasure'"));

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await grain.Read()).ReminderTicks < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250, TestContext.Current.CancellationToken);
        }
        Assert.True((await grain.Read()).ReminderTicks >= 2, "the reminder did not fire twice within 30 s");

        await grain.StopReminder();
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT count(*) FROM orleans_reminders"));
    }

    [Fact]
    public async Task Stale_etag_write_is_refused_by_the_storage_contract()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var cluster = BuildCluster(db, "svc-" + Guid.NewGuid().ToString("n")[..8]);
        await cluster.DeployAsync();
        await cluster.Client.GetGrain<IPersistenceProbeGrain>("192.0.2.20").RecordProbe("x");

        // Another writer bumped the version behind the grain's back: the grain's next write must fail.
        await db.ScalarAsync<object>("UPDATE orleans_storage SET version = version + 1");
        var error = await Assert.ThrowsAnyAsync<Exception>(() =>
            cluster.Client.GetGrain<IPersistenceProbeGrain>("192.0.2.20").RecordProbe("y"));
        Assert.Contains("Version", error.ToString(), StringComparison.OrdinalIgnoreCase);
    }
}
