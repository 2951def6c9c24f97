using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json.Nodes;
using CyberWatch.Measurement;
using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using CyberWatch.Watch;
using CyberWatch.WebApi.Settings;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace CyberWatch.Tests.Watch;

/// <summary>The ping schedule, the rounds' table, their roll-up and retention, on the migrated schema (sql/018).</summary>
public sealed class PingScheduleTests : IAsyncLifetime
{
    private static readonly string[] Sources = ["static", "api"];
    private static readonly TimeSpan Interval = TimeSpan.FromMinutes(5);
    private readonly ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private TestDatabase db = null!;
    private PingSchedule schedule = null!;

    public async ValueTask InitializeAsync()
    {
        db = await TestDatabase.CreateAsync();
        schedule = new PingSchedule(db.DataSource);
        await db.ScalarAsync<object>("INSERT INTO vantages (name) VALUES ('home'), ('office')");
        // api and static targets have a series; dns ones do not unless their own flag says so.
        await db.ScalarAsync<object>("""
            INSERT INTO targets (ip, sources, ping) VALUES
                ('30.14.1.10', '{api}', NULL), ('30.14.1.11', '{static,dns}', NULL), ('30.14.1.12', '{dns}', NULL),
                ('30.14.1.13', '{dns}', true), ('30.14.1.14', '{api}', false);
            INSERT INTO target_vantages (ip, vantage, next_due_at)
            SELECT ip, v, now() FROM targets CROSS JOIN unnest(ARRAY['home', 'office']) v;
            """);
    }

    public async ValueTask DisposeAsync()
    {
        if (db is not null)
        {
            await db.DisposeAsync();
        }
        await services.DisposeAsync();
    }

    private static DateTimeOffset Now()
    {
        var now = DateTimeOffset.UtcNow;
        return now.AddTicks(-(now.Ticks % 10));
    }

    [Fact]
    public async Task Migration_seeds_ping_settings_the_silo_reads()
    {
        var settings = new SettingsMonitor(db.DataSource, NullLogger<SettingsMonitor>.Instance, TimeProvider.System);
        await settings.RefreshAsync(CancellationToken.None);

        Assert.Equal(new PingSettings(), settings.Current.Ping);
        Assert.Equal(300, settings.Current.Ping.IntervalSeconds);
        Assert.Equal(20, settings.Current.Ping.PingsPerRound);

        await db.ScalarAsync<object>("""UPDATE settings SET value = value || '{"interval_seconds": 60, "sources": ["dns"]}' WHERE key = 'ping_settings'""");
        await settings.RefreshAsync(CancellationToken.None);
        Assert.Equal(60, settings.Current.Ping.IntervalSeconds);
        Assert.Equal(["dns"], settings.Current.Ping.Sources);
    }

    [Fact]
    public void Settings_schema_refuses_a_bad_ping_setting_naming_the_field()
    {
        var stored = new JsonObject();
        var errors = SettingsSchema.Validate("ping_settings", JsonNode.Parse("""
            {"interval_seconds": 5, "pings_per_round": 500, "method": "gre", "sources": ["api", "satellite"], "spacing_seconds": 1}
            """)!.AsObject(), stored);

        Assert.Equal(["interval_seconds", "method", "pings_per_round", "sources"], errors.Keys.Order());
        Assert.Contains("asn_expansion", errors["sources"][0]);
        Assert.Empty(SettingsSchema.Validate("ping_settings", JsonNode.Parse("""{"sources": ["dns", "hop"], "method": "tcp"}""")!.AsObject(), stored));
    }

    [Fact]
    public async Task Pairs_are_added_for_targets_selected_by_source_or_their_own_flag_spread_over_the_interval()
    {
        var now = Now();

        Assert.Equal(3, await schedule.AddMissingAsync("home", Sources, Interval, now, CancellationToken.None));
        Assert.Equal(0, await schedule.AddMissingAsync("home", Sources, Interval, now, CancellationToken.None));

        Assert.Equal("30.14.1.10,30.14.1.11,30.14.1.13",
            await db.ScalarAsync<string>("SELECT string_agg(host(ip), ',' ORDER BY ip) FROM ping_schedule WHERE vantage = 'home'"));
        Assert.Equal(0, await db.ScalarAsync<long>($"""
            SELECT count(*) FROM ping_schedule WHERE next_due_at < '{now:O}' OR next_due_at > '{now + Interval:O}'
            """));
    }

    [Fact]
    public async Task Due_rounds_are_taken_once_per_vantage_and_the_next_is_due_on_the_grid()
    {
        var now = Now();
        await schedule.AddMissingAsync("home", Sources, Interval, now, CancellationToken.None);
        await schedule.AddMissingAsync("office", Sources, Interval, now, CancellationToken.None);
        // One pair is due 30 s ago, one 20 minutes ago (four intervals missed), one not due yet.
        await db.ScalarAsync<object>($"""
            UPDATE ping_schedule SET next_due_at = CASE host(ip) WHEN '30.14.1.10' THEN '{now.AddSeconds(-30):O}'::timestamptz
                                                                 WHEN '30.14.1.11' THEN '{now.AddMinutes(-20):O}'::timestamptz
                                                                 ELSE '{now.AddSeconds(40):O}'::timestamptz END
            """);

        var taken = await schedule.TakeDueAsync("home", Sources, Interval, now, 10, CancellationToken.None);
        var again = await schedule.TakeDueAsync("home", Sources, Interval, now, 10, CancellationToken.None);

        Assert.Equal(["30.14.1.11", "30.14.1.10"], taken.Select(p => p.Target.ToString()));
        Assert.Equal(now.AddMinutes(-20), taken[0].DueAt);
        Assert.Empty(again);
        // On the grid: due + interval; a pair more than an interval late starts again from now.
        Assert.Equal(now.AddSeconds(-30) + Interval, await NextDueAsync("30.14.1.10", "home"));
        Assert.Equal(now + Interval, await NextDueAsync("30.14.1.11", "home"));
        // The other vantage's pairs are its own.
        Assert.Equal(2, (await schedule.TakeDueAsync("office", Sources, Interval, now, 10, CancellationToken.None)).Count);
    }

    [Fact]
    public async Task A_target_switched_off_is_not_taken_and_a_deleted_one_loses_its_schedule()
    {
        var now = Now();
        await schedule.AddMissingAsync("home", Sources, Interval, now, CancellationToken.None);
        await db.ScalarAsync<object>($"UPDATE ping_schedule SET next_due_at = '{now.AddSeconds(-1):O}'");
        await db.ScalarAsync<object>("UPDATE targets SET ping = false WHERE ip = '30.14.1.10'");
        await db.ScalarAsync<object>("DELETE FROM targets WHERE ip = '30.14.1.11'");

        var taken = await schedule.TakeDueAsync("home", Sources, Interval, now, 10, CancellationToken.None);

        Assert.Equal(["30.14.1.13"], taken.Select(p => p.Target.ToString()));
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT count(*) FROM ping_schedule WHERE ip = '30.14.1.11'"));
    }

    [Fact]
    public async Task A_shorter_interval_brings_later_rounds_in()
    {
        var now = Now();
        await schedule.AddMissingAsync("home", Sources, TimeSpan.FromHours(1), now, CancellationToken.None);
        await db.ScalarAsync<object>($"UPDATE ping_schedule SET next_due_at = '{now.AddMinutes(50):O}'");

        Assert.Equal(3, await schedule.ShortenToIntervalAsync("home", TimeSpan.FromMinutes(1), now, CancellationToken.None));

        Assert.Equal(0, await db.ScalarAsync<long>($"SELECT count(*) FROM ping_schedule WHERE next_due_at > '{now.AddMinutes(1):O}'"));
    }

    [Fact]
    public async Task Rounds_are_stored_rolled_up_per_hour_and_their_old_partitions_dropped_with_the_measurements()
    {
        var writer = new PingRoundWriter(db.DataSource, NullLogger<PingRoundWriter>.Instance, services.GetRequiredService<IMeterFactory>());
        var now = DateTimeOffset.UtcNow;
        var thisMonth = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
        var hour = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero).AddHours(-3);
        var old = thisMonth.AddMonths(-5).AddDays(2);
        await db.ScalarAsync<object>($"SELECT cw_ensure_month_partitions('{thisMonth.AddMonths(-5):yyyy-MM-dd}', 3)");
        var target = IPAddress.Parse("30.14.1.10");
        PingRound Round(DateTimeOffset at, params double[] rtts) => PingRound.From(new PingResult
        {
            Success = true, Sent = 4, Replies = rtts.Length, StartedAt = at,
            Responses = [.. rtts.Select((rtt, i) => new PingReply { Seq = i, RttMs = rtt })],
        }, target, "home", PingMethod.Icmp, at);
        writer.Add(Round(hour.AddMinutes(1), 10, 12, 11, 13));
        writer.Add(Round(hour.AddMinutes(6), 20, 22));
        writer.Add(PingRound.Failed(target, "home", PingMethod.Icmp, hour.AddMinutes(11), "scamper: not running"));
        writer.Add(Round(old, 5, 5, 5, 5));
        // A measurement in the same old month, so the retention run has measurements to roll up as it always does.
        await db.ScalarAsync<object>($"""
            INSERT INTO measurements (target, tool, method, vantage, started_at, success) VALUES
                ('30.14.1.10', 'scamper', 'icmp-paris', 'home', '{old:O}', true), ('30.14.1.10', 'scamper', 'icmp-paris', 'home', '{now.AddMinutes(-1):O}', true)
            """);

        await writer.FlushAsync(CancellationToken.None);

        Assert.Equal(4, await db.ScalarAsync<long>("SELECT count(*) FROM ping_rounds"));
        Assert.Equal("{10,11,12,13}", await db.ScalarAsync<string>($"SELECT rtts_ms::text FROM ping_rounds WHERE started_at = '{hour.AddMinutes(1):O}'"));
        Assert.Null(await db.ScalarAsync<float?>($"SELECT loss_pct FROM ping_rounds WHERE started_at = '{hour.AddMinutes(11):O}'"));

        await db.ScalarAsync<object>("UPDATE settings SET value = '{\"raw_months\": 2, \"aggregate_months\": 12}' WHERE key = 'retention_settings'");
        var job = new RetentionJob(db.DataSource, new HourlyAggregates(db.DataSource, TimeProvider.System), TimeProvider.System,
            NullLogger<RetentionJob>.Instance, services.GetRequiredService<IMeterFactory>());
        var report = await job.RunAsync(prune: true, CancellationToken.None);

        // Three rounds, one failed: 8 pings sent by the two that ran, 6 answered; medians 11.5 and 21.
        await using (var command = db.DataSource.CreateCommand($"""
            SELECT rounds, failed_rounds, sent, received, loss_pct, min_rtt_ms, median_rtt_ms, max_rtt_ms
              FROM ping_rounds_hourly WHERE target = '30.14.1.10' AND hour = '{hour:O}'
            """))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            Assert.Equal((3, 1, 8, 6), (reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3)));
            Assert.Equal(25f, reader.GetFloat(4));
            Assert.Equal((10.0, 16.25, 22.0), (reader.GetDouble(5), reader.GetDouble(6), reader.GetDouble(7)));
        }
        Assert.Contains($"ping_rounds_{thisMonth.AddMonths(-5):yyyy_MM}", report.PartitionsDropped);
        Assert.Equal(3, await db.ScalarAsync<long>("SELECT count(*) FROM ping_rounds"));
        // The dropped month's round lives on in its hour.
        Assert.Equal(1, await db.ScalarAsync<int>($"SELECT rounds FROM ping_rounds_hourly WHERE hour = '{old:O}'"));
    }

    private async Task<DateTimeOffset> NextDueAsync(string ip, string vantage) =>
        new(await db.ScalarAsync<DateTime>($"SELECT next_due_at FROM ping_schedule WHERE ip = '{ip}' AND vantage = '{vantage}'"), TimeSpan.Zero);
}
