using System.Diagnostics.Metrics;
using System.Net;
using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace CyberWatch.Tests.Operations;

/// <summary>
/// The node's clock jumps (an NTP step, a VM restored from a snapshot): retention counts from the newest stored
/// row, not from the clock, and the hourly roll-up keeps rolling up. Each test prints a "clock-jump:" line with
/// its figures for scripts/faults.d/clock-jump.sh.
/// </summary>
public sealed class ClockJumpTests : IAsyncLifetime
{
    private readonly ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly DateTimeOffset now = DateTimeOffset.UtcNow;
    private TestDatabase database = null!;
    private MeasurementWriter writer = null!;

    private DateTime ThisMonth => new(now.Year, now.Month, 1, 0, 0, 0, DateTimeKind.Utc);

    public async ValueTask InitializeAsync()
    {
        database = await TestDatabase.CreateAsync();
        writer = new MeasurementWriter(database.DataSource, NullLogger<MeasurementWriter>.Instance, services.GetRequiredService<IMeterFactory>());
        await SqlAsync("UPDATE settings SET value = '{\"raw_months\": 2, \"aggregate_months\": 12}' WHERE key = 'retention_settings'");
        await SqlAsync($"SELECT cw_ensure_month_partitions('{ThisMonth.AddMonths(-5):yyyy-MM-dd}', 5)"); // months -5 .. -1
    }

    public async ValueTask DisposeAsync()
    {
        await database.DisposeAsync();
        await services.DisposeAsync();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(-1)]
    [InlineData(400)]
    public async Task A_clock_jump_drops_no_partition_holding_data_within_retention_of_the_newest_row(int days)
    {
        await writer.StoreAsync([Measurement(ThisMonth.AddMonths(-5).AddDays(3)), Measurement(ThisMonth.AddMonths(-1).AddDays(2)),
                                 Measurement(now.UtcDateTime.AddHours(-3)), Measurement(now.UtcDateTime.AddMinutes(-10))], CancellationToken.None);
        var clock = new FakeTimeProvider(now.AddDays(days));

        var report = await Job(clock).RunAsync(prune: true, CancellationToken.None);

        // Retention is 2 months: what the newest row (10 minutes ago) keeps is last month's and this month's.
        var kept = await database.ScalarAsync<long>("SELECT count(*) FROM measurements");
        Assert.Equal(3L, kept);
        Assert.Contains($"measurements_{ThisMonth.AddMonths(-5):yyyy_MM}", report.PartitionsDropped);
        Assert.DoesNotContain(report.PartitionsDropped, p => string.CompareOrdinal(p, $"measurements_{ThisMonth.AddMonths(-2):yyyy_MM}") > 0
                                                             && p.StartsWith("measurements_", StringComparison.Ordinal));
        Assert.NotNull(await database.ScalarAsync<string>($"SELECT to_regclass('measurements_{ThisMonth.AddMonths(-1):yyyy_MM}')::text"));
        Report($"jump {days:+0;-0} d: {report.PartitionsDropped.Count} partition(s) dropped (months -5 to -3 of measurements and hops), {kept} of 3 rows within retention kept");
    }

    [Fact]
    public async Task The_hourly_roll_up_goes_on_after_the_clock_jumps_a_day_ahead_and_back()
    {
        var clock = new FakeTimeProvider(now);
        var aggregates = new HourlyAggregates(database.DataSource, clock);
        await writer.StoreAsync([Measurement(now.UtcDateTime.AddHours(-3))], CancellationToken.None);
        await aggregates.RollUpAsync(CancellationToken.None);

        clock.Advance(TimeSpan.FromDays(1));
        var ahead = await aggregates.RollUpAsync(CancellationToken.None);
        clock.AdjustTime(now); // back a day: the mark is a day in the future
        // What the node measures once its clock is right again, in hours the jump "rolled up" empty.
        await writer.StoreAsync([Measurement(now.UtcDateTime.AddHours(-2)), Measurement(now.UtcDateTime.AddHours(-1))], CancellationToken.None);
        clock.Advance(TimeSpan.FromHours(1));
        await aggregates.RollUpAsync(CancellationToken.None);

        var mark = await aggregates.RolledUpToAsync(CancellationToken.None);
        Assert.True(mark <= clock.GetUtcNow(), $"the roll-up mark stayed in the future ({mark:o})");
        var rolledUp = await database.ScalarAsync<long>("SELECT coalesce(sum(measurement_count), 0) FROM target_hourly_stats");
        Assert.Equal(3L, rolledUp);
        Report($"roll-up after +1 d and -1 d: mark {(ahead - mark)!.Value.TotalHours:0} h pulled back, {rolledUp} of 3 measurements in the hourly aggregates");
    }

    private static void Report(string line) => TestContext.Current.TestOutputHelper?.WriteLine("clock-jump: " + line);

    private RetentionJob Job(TimeProvider clock) => new(database.DataSource, new HourlyAggregates(database.DataSource, clock), clock,
        NullLogger<RetentionJob>.Instance, services.GetRequiredService<IMeterFactory>());

    private async Task SqlAsync(string sql)
    {
        await using var command = database.DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    private static MeasurementRow Measurement(DateTime startedAt) => new()
    {
        Target = IPAddress.Parse("30.15.1.10"),
        Tool = "scamper",
        Method = "icmp-paris",
        Vantage = "home",
        StartedAt = new DateTimeOffset(startedAt, TimeSpan.Zero),
        CompletedAt = new DateTimeOffset(startedAt.AddSeconds(4), TimeSpan.Zero),
        Success = true,
        HopCount = 1,
        DestRttMs = 20,
        Hops = [new HopRow { Ttl = 1, Address = IPAddress.Parse("30.15.1.10"), RttMs = 20, Asn = 64501 }],
    };
}
