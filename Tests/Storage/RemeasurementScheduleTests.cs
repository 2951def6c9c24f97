using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Storage;

/// <summary>The remeasurement schedule's statements on the real targets table (sql/015).</summary>
public sealed class RemeasurementScheduleTests : IAsyncLifetime
{
    private TestDatabase db = null!;
    private RemeasurementSchedule schedule = null!;

    public async ValueTask InitializeAsync()
    {
        db = await TestDatabase.CreateAsync();
        schedule = new RemeasurementSchedule(db.DataSource);
    }

    public async ValueTask DisposeAsync()
    {
        if (db is not null)
        {
            await db.DisposeAsync();
        }
    }

    [Fact]
    public async Task Every_address_hashes_to_one_of_16_shards_and_they_are_evenly_filled()
    {
        await db.ScalarAsync<object>("""
            INSERT INTO targets (ip, next_due_at)
            SELECT ('30.' || (i >> 16) || '.' || ((i >> 8) & 255) || '.' || (i & 255))::inet, now() FROM generate_series(1, 16000) i
            """);
        Assert.Equal(16, await db.ScalarAsync<long>("SELECT count(DISTINCT schedule_shard) FROM targets"));
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT count(*) FROM targets WHERE schedule_shard NOT BETWEEN 0 AND 15"));
        // 1,000 per shard expected; a hash this far off would starve some shards' silos.
        Assert.InRange(await db.ScalarAsync<long>("SELECT max(n) FROM (SELECT count(*) n FROM targets GROUP BY schedule_shard) s"), 1000, 1150);
        Assert.Equal(RemeasurementSchedule.Shards, 16);
    }

    [Fact]
    public async Task A_shard_takes_its_due_targets_most_overdue_first_and_leases_them()
    {
        // PostgreSQL keeps microseconds: a time with finer ticks would not compare equal once stored.
        var now = DateTimeOffset.UtcNow;
        now = now.AddTicks(-(now.Ticks % 10));
        // Ten due targets and two not yet due, all in shard 3; one due target of another shard; one not remeasured.
        await db.ScalarAsync<object>($"""
            WITH candidates AS (
                SELECT ('11.0.' || (i >> 8) || '.' || (i & 255))::inet AS ip, i FROM generate_series(1, 4000) i)
            INSERT INTO targets (ip, next_due_at, remeasure)
            SELECT ip, '{now:O}'::timestamptz - make_interval(secs => 100 - n), true
              FROM (SELECT ip, row_number() OVER (ORDER BY i) AS n FROM candidates WHERE (hashtext(host(ip)) & 15) = 3) s
             WHERE n <= 12
            """);
        await db.ScalarAsync<object>($"UPDATE targets SET next_due_at = '{now:O}'::timestamptz + interval '1 hour' WHERE ip IN (SELECT ip FROM targets ORDER BY next_due_at DESC LIMIT 2)");
        await db.ScalarAsync<object>($"UPDATE targets SET remeasure = false WHERE ip = (SELECT ip FROM targets ORDER BY next_due_at LIMIT 1 OFFSET 5)");
        await db.ScalarAsync<object>($"""
            INSERT INTO targets (ip, next_due_at)
            SELECT ip, '{now:O}'::timestamptz - interval '1 hour'
              FROM (SELECT ('11.1.0.' || i)::inet AS ip FROM generate_series(1, 50) i) c WHERE (hashtext(host(ip)) & 15) = 4 LIMIT 1
            """);

        var first = await schedule.TakeDueAsync(3, now, TimeSpan.FromMinutes(10), 4, CancellationToken.None);
        var rest = await schedule.TakeDueAsync(3, now, TimeSpan.FromMinutes(10), 100, CancellationToken.None);

        Assert.Equal(4, first.Count);
        Assert.Equal(5, rest.Count);
        var all = first.Concat(rest).ToList();
        Assert.Equal(all.OrderBy(t => t.DueAt).Select(t => t.Address), all.Select(t => t.Address));
        Assert.True(first.Max(t => t.DueAt) <= rest.Min(t => t.DueAt), "the most overdue come first");
        Assert.All(all, t => Assert.True(t.DueAt <= now));
        // Leased: due again ten minutes on, so nothing is taken twice until then.
        Assert.Equal(9, await db.ScalarAsync<long>(
            $"SELECT count(*) FROM targets WHERE next_due_at = '{now:O}'::timestamptz + interval '10 minutes'"));
        Assert.Empty(await schedule.TakeDueAsync(3, now, TimeSpan.FromMinutes(10), 100, CancellationToken.None));
        Assert.Equal(3, (await schedule.TakeDueAsync(3, now.AddMinutes(10), TimeSpan.FromMinutes(10), 3, CancellationToken.None)).Count);
        Assert.Single(await schedule.TakeDueAsync(4, now, TimeSpan.FromMinutes(10), 100, CancellationToken.None));
    }

    [Fact]
    public async Task A_shorter_interval_brings_forward_only_the_targets_due_later_than_it_allows()
    {
        await db.ScalarAsync<object>("""
            INSERT INTO targets (ip, last_measured_at, next_due_at, first_seen)
            SELECT ('30.1.0.' || i)::inet, now() - interval '30 minutes', now() + make_interval(hours => i % 3 * 10), now() - interval '1 day'
              FROM generate_series(1, 60) i
            """);
        var moved = 0;
        for (var shard = 0; shard < RemeasurementSchedule.Shards; shard++)
        {
            moved += await schedule.ShortenToIntervalAsync(shard, TimeSpan.FromHours(1), CancellationToken.None);
        }
        Assert.Equal(40, moved);
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT count(*) FROM targets WHERE next_due_at > last_measured_at + interval '1 hour'"));
        Assert.Equal(20, await db.ScalarAsync<long>("SELECT count(*) FROM targets WHERE next_due_at < now() + interval '1 minute'"));
    }
}
