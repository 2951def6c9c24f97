using System.Net;
using CyberWatch.Measurement;
using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using CyberWatch.Vantages;
using Microsoft.Extensions.Logging.Abstractions;

namespace CyberWatch.Tests.Measurement.Schedule;

/// <summary>The remeasurement schedule's statements on the real target_vantages table (sql/016).</summary>
public sealed class RemeasurementScheduleTests : IAsyncLifetime
{
    private TestDatabase db = null!;
    private RemeasurementSchedule schedule = null!;
    private TargetTable table = null!;
    private SettingsMonitor settings = null!;

    public async ValueTask InitializeAsync()
    {
        db = await TestDatabase.CreateAsync();
        var settings = new SettingsMonitor(db.DataSource, NullLogger<SettingsMonitor>.Instance, TimeProvider.System);
        await settings.RefreshAsync(CancellationToken.None);
        schedule = new RemeasurementSchedule(db.DataSource, settings);
        this.settings = settings;
        table = new TargetTable(db.DataSource);
        await db.ScalarAsync<object>("INSERT INTO vantages (name) VALUES ('home'), ('office')");
    }

    public async ValueTask DisposeAsync()
    {
        if (db is not null)
        {
            await db.DisposeAsync();
        }
    }

    private static DateTimeOffset Now()
    {
        // PostgreSQL keeps microseconds: a time with finer ticks would not compare equal once stored.
        var now = DateTimeOffset.UtcNow;
        return now.AddTicks(-(now.Ticks % 10));
    }

    [Fact]
    public async Task Every_address_hashes_to_one_of_16_shards_and_they_are_evenly_filled()
    {
        await db.ScalarAsync<object>("""
            WITH t AS (INSERT INTO targets (ip)
                       SELECT ('30.' || (i >> 16) || '.' || ((i >> 8) & 255) || '.' || (i & 255))::inet FROM generate_series(1, 16000) i
                       RETURNING ip)
            INSERT INTO target_vantages (ip, vantage, next_due_at) SELECT ip, 'home', now() FROM t
            """);
        Assert.Equal(16, await db.ScalarAsync<long>("SELECT count(DISTINCT schedule_shard) FROM target_vantages"));
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT count(*) FROM target_vantages WHERE schedule_shard NOT BETWEEN 0 AND 15"));
        // 1,000 per shard expected; a hash this far off would starve some shards' silos.
        Assert.InRange(await db.ScalarAsync<long>("SELECT max(n) FROM (SELECT count(*) n FROM target_vantages GROUP BY schedule_shard) s"), 1000, 1150);
        Assert.Equal(16, RemeasurementSchedule.Shards);
    }

    [Fact]
    public async Task A_shard_takes_its_vantages_due_pairs_most_overdue_first_and_leases_them()
    {
        var now = Now();
        // Twelve targets of shard 3: ten due and two not yet due from home; every one is also due from office.
        await db.ScalarAsync<object>($"""
            WITH candidates AS (SELECT ('11.0.' || (i >> 8) || '.' || (i & 255))::inet AS ip, i FROM generate_series(1, 4000) i),
                 chosen AS (SELECT ip, row_number() OVER (ORDER BY i) AS n FROM candidates WHERE (hashtext(host(ip)) & 15) = 3),
                 t AS (INSERT INTO targets (ip) SELECT ip FROM chosen WHERE n <= 12 RETURNING ip)
            INSERT INTO target_vantages (ip, vantage, next_due_at)
            SELECT c.ip, v, '{now:O}'::timestamptz - make_interval(secs => 100 - c.n)
              FROM chosen c JOIN t ON t.ip = c.ip CROSS JOIN unnest(ARRAY['home', 'office']) v
            """);
        await db.ScalarAsync<object>($"""
            UPDATE target_vantages SET next_due_at = '{now:O}'::timestamptz + interval '1 hour'
             WHERE vantage = 'home' AND ip IN (SELECT ip FROM target_vantages WHERE vantage = 'home' ORDER BY next_due_at DESC LIMIT 2)
            """);

        var first = await schedule.TakeDueAsync("home", 3, now, TimeSpan.FromMinutes(10), 4, CancellationToken.None);
        var rest = await schedule.TakeDueAsync("home", 3, now, TimeSpan.FromMinutes(10), 100, CancellationToken.None);

        Assert.Equal(4, first.Count);
        Assert.Equal(6, rest.Count);
        var all = first.Concat(rest).ToList();
        Assert.Equal(all.OrderBy(t => t.DueAt).Select(t => t.Address), all.Select(t => t.Address));
        Assert.True(first.Max(t => t.DueAt) <= rest.Min(t => t.DueAt), "the most overdue come first");
        Assert.All(all, t => Assert.True(t.DueAt <= now));
        // Leased: due again ten minutes on, so nothing is taken twice until then.
        Assert.Equal(10, await db.ScalarAsync<long>(
            $"SELECT count(*) FROM target_vantages WHERE vantage = 'home' AND next_due_at = '{now:O}'::timestamptz + interval '10 minutes'"));
        Assert.Empty(await schedule.TakeDueAsync("home", 3, now, TimeSpan.FromMinutes(10), 100, CancellationToken.None));
        Assert.Equal(3, (await schedule.TakeDueAsync("home", 3, now.AddMinutes(10), TimeSpan.FromMinutes(10), 3, CancellationToken.None)).Count);
        // The other vantage's pairs of the same targets were not touched: its own shard takes all twelve.
        Assert.Equal(0, await db.ScalarAsync<long>($"SELECT count(*) FROM target_vantages WHERE vantage = 'office' AND next_due_at > '{now:O}'"));
        Assert.Equal(12, (await schedule.TakeDueAsync("office", 3, now, TimeSpan.FromMinutes(10), 100, CancellationToken.None)).Count);
        Assert.Empty(await schedule.TakeDueAsync("office", 4, now, TimeSpan.FromMinutes(10), 100, CancellationToken.None));
    }

    [Fact]
    public async Task Offering_a_known_target_again_never_moves_a_due_time_nor_undoes_a_lease()
    {
        var target = IPAddress.Parse("30.9.0.1");
        var now = Now();
        var created = await table.SaveAsync(target, [TargetSource.Api], now, now, VantageSelection.Everywhere, false, CancellationToken.None);
        Assert.Equal(["home", "office"], created.Select(p => p.Vantage).Order());
        var shard = created[0].Shard;
        var leased = await schedule.TakeDueAsync("home", shard, now.AddSeconds(1), TimeSpan.FromMinutes(10), 10, CancellationToken.None);
        Assert.Single(leased);
        var leaseEnds = await db.ScalarAsync<DateTime>("SELECT next_due_at FROM target_vantages WHERE vantage = 'home'");

        // Offered again by DNS, by hop feedback and by the API with a selection that keeps home.
        Assert.Empty(await table.SaveAsync(target, [TargetSource.Api, TargetSource.Dns], now, now.AddSeconds(5), VantageSelection.Everywhere, false, CancellationToken.None));
        Assert.Empty(await table.SaveAsync(target, [TargetSource.Api, TargetSource.Dns, TargetSource.Hop], now, now.AddSeconds(6), VantageSelection.Only(["home"]), true, CancellationToken.None));
        await table.TouchAsync(target, now.AddSeconds(7), CancellationToken.None);

        Assert.Equal(leaseEnds, await db.ScalarAsync<DateTime>("SELECT next_due_at FROM target_vantages WHERE vantage = 'home'"));
        Assert.Empty(await schedule.TakeDueAsync("home", shard, now.AddSeconds(10), TimeSpan.FromMinutes(10), 10, CancellationToken.None));
        // The selection left office: its pair is gone with it.
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT count(*) FROM target_vantages WHERE vantage = 'office'"));
        Assert.Equal("{api,dns,hop}", await db.ScalarAsync<string>("SELECT sources::text FROM targets"));
    }

    [Fact]
    public async Task A_measurement_sets_its_pairs_next_due_time_an_interval_on_and_a_removed_pair_stays_removed()
    {
        var target = IPAddress.Parse("30.9.0.2");
        var now = Now();
        await table.SaveAsync(target, [TargetSource.Api], now, now, VantageSelection.Only(["office"]), true, CancellationToken.None);

        Assert.True(await schedule.CompleteAsync(target, "office", 7, now, CancellationToken.None));
        Assert.False(await schedule.CompleteAsync(target, "home", 8, now, CancellationToken.None));
        // An older measurement reported late does not move the pair back.
        Assert.True(await schedule.CompleteAsync(target, "office", 6, now.AddMinutes(-5), CancellationToken.None) is false);

        var hours = await db.ScalarAsync<double>("SELECT extract(epoch FROM next_due_at - last_measured_at)::float8 / 3600 FROM target_vantages");
        Assert.InRange(hours, 24 * 0.9 - 0.01, 24 * 1.1 + 0.01);
        Assert.Equal(7, await db.ScalarAsync<long>("SELECT last_measurement_id FROM target_vantages"));
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT count(*) FROM target_vantages WHERE vantage = 'home'"));
        await table.DeleteAsync(target, CancellationToken.None);
        Assert.False(await schedule.CompleteAsync(target, "office", 9, now.AddMinutes(1), CancellationToken.None));
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT count(*) FROM target_vantages"));
    }

    [Fact]
    public async Task A_new_vantage_gets_every_all_target_spread_over_the_jitter_and_no_target_that_names_others()
    {
        var now = Now();
        for (var i = 1; i <= 200; i++)
        {
            await table.SaveAsync(IPAddress.Parse($"30.9.1.{i}"), [TargetSource.Api], now, now,
                i <= 150 ? VantageSelection.Everywhere : VantageSelection.Only(["home"]), true, CancellationToken.None);
        }
        await db.ScalarAsync<object>("INSERT INTO vantages (name) VALUES ('lab')");
        await schedule.OnVantageServedAsync("lab", CancellationToken.None);
        await schedule.OnVantageServedAsync("lab", CancellationToken.None);

        Assert.Equal(150, await db.ScalarAsync<long>("SELECT count(*) FROM target_vantages WHERE vantage = 'lab'"));
        // Default interval 24 h, jitter 0.1: spread over 2.4 hours, not one burst.
        var spreadMinutes = await db.ScalarAsync<double>(
            "SELECT extract(epoch FROM max(next_due_at) - min(next_due_at))::float8 / 60 FROM target_vantages WHERE vantage = 'lab'");
        Assert.InRange(spreadMinutes, 60, 24 * 60 * 0.1 + 1);
        Assert.Equal(200, await db.ScalarAsync<long>("SELECT count(*) FROM target_vantages WHERE vantage = 'home'"));
    }

    [Fact]
    public async Task Targets_of_open_incidents_are_due_within_remeasure_seconds_from_their_vantages_and_back_on_the_schedule_once_resolved()
    {
        Assert.Equal(60, settings.Current.Incidents.RemeasureSeconds);
        var now = Now();
        var interval = TimeSpan.FromSeconds(settings.Current.Incidents.RemeasureSeconds);
        await db.ScalarAsync<object>("""
            WITH t AS (INSERT INTO targets (ip) SELECT ('30.2.0.' || i)::inet FROM generate_series(1, 4) i RETURNING ip)
            INSERT INTO target_vantages (ip, vantage, last_measured_at, next_due_at)
            SELECT ip, v, now() - interval '1 hour', now() + interval '23 hours' FROM t, unnest(ARRAY['home', 'office']) v
            """);
        // Loss of .1 from home; an AS-path incident of .2 and .3 seen from office; .4's incident from home is over.
        var loss = await db.ScalarAsync<long>("""
            INSERT INTO incidents (kind, subject, vantages, targets, opened_at) VALUES ('loss', '30.2.0.1', '{home}', '{30.2.0.1}', now()) RETURNING id
            """);
        await db.ScalarAsync<object>("""
            INSERT INTO incidents (kind, subject, vantages, targets, opened_at, resolved_at) VALUES
              ('as_path', 'AS1>AS2 => AS1>AS3', '{office}', '{30.2.0.2,30.2.0.3}', now(), NULL),
              ('unreachable', '30.2.0.4', '{home}', '{30.2.0.4}', now() - interval '1 hour', now() - interval '30 minutes')
            """);
        async Task<int> PullAsync(string vantage)
        {
            var moved = 0;
            for (var shard = 0; shard < RemeasurementSchedule.Shards; shard++)
            {
                moved += await schedule.ShortenForIncidentsAsync(vantage, shard, interval, now, CancellationToken.None);
            }
            return moved;
        }
        Assert.Equal(1, await PullAsync("home"));
        Assert.Equal(2, await PullAsync("office"));
        Assert.Equal("30.2.0.1 home,30.2.0.2 office,30.2.0.3 office", await db.ScalarAsync<string>(
            "SELECT string_agg(host(ip) || ' ' || vantage, ',' ORDER BY ip, vantage) FROM target_vantages WHERE next_due_at <= now() + interval '2 minutes'"));
        Assert.Equal((now + interval).UtcDateTime, await db.ScalarAsync<DateTime>("SELECT next_due_at FROM target_vantages WHERE ip = '30.2.0.1' AND vantage = 'home'"));
        // Every tick runs it: a pair already due that soon is left alone (never a second probe of a leased pair).
        Assert.Equal(0, await PullAsync("home"));

        // Resolved: its next trace puts it back on the schedule (24 h ± jitter), and nothing pulls it in again.
        await db.ScalarAsync<object>($"UPDATE incidents SET resolved_at = now() WHERE id = {loss}");
        Assert.True(await schedule.CompleteAsync(IPAddress.Parse("30.2.0.1"), "home", 1, now, CancellationToken.None));
        Assert.Equal(0, await PullAsync("home"));
        Assert.True(await db.ScalarAsync<bool>(
            "SELECT next_due_at > now() + interval '20 hours' FROM target_vantages WHERE ip = '30.2.0.1' AND vantage = 'home'"));
    }

    [Fact]
    public async Task A_shorter_interval_or_a_clock_gone_back_brings_forward_only_the_pairs_due_later_than_it_allows()
    {
        await db.ScalarAsync<object>("""
            WITH t AS (INSERT INTO targets (ip, first_seen) SELECT ('30.1.0.' || i)::inet, now() - interval '1 day' FROM generate_series(1, 60) i RETURNING ip)
            INSERT INTO target_vantages (ip, vantage, last_measured_at, next_due_at)
            SELECT ip, 'home', now() - interval '30 minutes', now() + make_interval(hours => (host(ip)::inet - '30.1.0.0'::inet)::int % 3 * 10) FROM t
            """);
        var moved = 0;
        for (var shard = 0; shard < RemeasurementSchedule.Shards; shard++)
        {
            moved += await schedule.ShortenToIntervalAsync("home", shard, TimeSpan.FromHours(1), DateTimeOffset.UtcNow, CancellationToken.None);
            Assert.Equal(0, await schedule.ShortenToIntervalAsync("office", shard, TimeSpan.FromHours(1), DateTimeOffset.UtcNow, CancellationToken.None));
        }
        Assert.Equal(40, moved);
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT count(*) FROM target_vantages WHERE next_due_at > last_measured_at + interval '1 hour'"));
        Assert.Equal(20, await db.ScalarAsync<long>("SELECT count(*) FROM target_vantages WHERE next_due_at < now() + interval '1 minute'"));

        // A clock that had run a day ahead left measurements (and due times) in the future: pulled back to now + interval.
        await db.ScalarAsync<object>("UPDATE target_vantages SET last_measured_at = now() + interval '1 day', next_due_at = now() + interval '1 day 1 hour'");
        moved = 0;
        for (var shard = 0; shard < RemeasurementSchedule.Shards; shard++)
        {
            moved += await schedule.ShortenToIntervalAsync("home", shard, TimeSpan.FromHours(1), DateTimeOffset.UtcNow, CancellationToken.None);
        }
        Assert.Equal(60, moved);
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT count(*) FROM target_vantages WHERE next_due_at > now() + interval '1 hour 1 minute'"));
    }
}
