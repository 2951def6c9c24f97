using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace CyberWatch.Tests.Operations;

public sealed class RetentionTests : IAsyncLifetime
{
    private readonly ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly DateTime thisMonth = new(DateTime.UtcNow.Year, DateTime.UtcNow.Month, 1, 0, 0, 0, DateTimeKind.Utc);
    private TestDatabase database = null!;
    private MeasurementWriter writer = null!;

    public async ValueTask InitializeAsync()
    {
        database = await TestDatabase.CreateAsync();
        writer = new MeasurementWriter(database.DataSource, NullLogger<MeasurementWriter>.Instance, services.GetRequiredService<IMeterFactory>());
        await SqlAsync("UPDATE settings SET value = '{\"raw_months\": 2, \"aggregate_months\": 12}' WHERE key = 'retention_settings'");
        await SqlAsync($"SELECT cw_ensure_month_partitions('{thisMonth.AddMonths(-5):yyyy-MM-dd}', 3)"); // months -5, -4, -3
    }

    public async ValueTask DisposeAsync()
    {
        await database.DisposeAsync();
        await services.DisposeAsync();
    }

    [Fact]
    public async Task Migration_seeds_retention_settings()
    {
        await using var fresh = await TestDatabase.CreateAsync();
        Assert.Equal("{\"raw_months\": 6, \"dns_query_days\": 30, \"dns_target_days\": 30, \"aggregate_months\": 24, \"dns_handoff_days\": 7}",
            await fresh.ScalarAsync<string>("SELECT value::text FROM settings WHERE key = 'retention_settings'"));
    }

    [Fact]
    public async Task Partitions_past_raw_months_are_dropped_after_their_hours_are_rolled_up_and_aggregates_stay()
    {
        var old = thisMonth.AddMonths(-5).AddDays(3).AddHours(10);
        await writer.StoreAsync([Measurement("30.14.1.10", old, 20), Measurement("30.14.1.10", old.AddMinutes(10), 30),
                                 Measurement("30.14.1.10", thisMonth.AddMonths(-4).AddDays(1), 25),
                                 Measurement("30.14.1.10", thisMonth.AddMonths(-1).AddDays(2), 21),
                                 Measurement("30.14.1.10", DateTime.UtcNow.AddMinutes(-5), 22)], CancellationToken.None);
        await SqlAsync($"""
            INSERT INTO target_hourly_stats (target, vantage, hour, measurement_count, success_count, avg_rtt_ms)
            VALUES ('30.14.2.20', 'home', '{thisMonth.AddMonths(-14):yyyy-MM-dd}', 1, 1, 10),
                   ('30.14.2.20', 'home', '{thisMonth.AddMonths(-10):yyyy-MM-dd}', 1, 1, 11)
            """);

        var report = await Job().RunAsync(prune: true, CancellationToken.None);

        string Month(int offset) => thisMonth.AddMonths(offset).ToString("yyyy_MM");
        Assert.Equal(new[] { $"hops_{Month(-5)}", $"hops_{Month(-4)}", $"hops_{Month(-3)}",
                             $"measurements_{Month(-5)}", $"measurements_{Month(-4)}", $"measurements_{Month(-3)}",
                             $"ping_rounds_{Month(-5)}", $"ping_rounds_{Month(-4)}", $"ping_rounds_{Month(-3)}" }, report.PartitionsDropped);
        foreach (var gone in report.PartitionsDropped)
        {
            Assert.Null(await database.ScalarAsync<string>($"SELECT to_regclass('{gone}')::text"));
        }
        Assert.Equal($"measurements_{Month(-1)}", await database.ScalarAsync<string>($"SELECT to_regclass('measurements_{Month(-1)}')::text"));
        Assert.Equal(2L, await database.ScalarAsync<long>("SELECT count(*) FROM measurements"));
        Assert.Equal($"measurements_{Month(2)}", await database.ScalarAsync<string>($"SELECT to_regclass('measurements_{Month(2)}')::text"));

        // The dropped hour lives on in the aggregates: two measurements, RTT 20 and 30 ms.
        var hour = new DateTime(old.Year, old.Month, old.Day, old.Hour, 0, 0, DateTimeKind.Utc);
        Assert.Equal(2, await database.ScalarAsync<int>($"SELECT measurement_count FROM target_hourly_stats WHERE hour = '{hour:O}'"));
        Assert.Equal(25.0, await database.ScalarAsync<double>($"SELECT avg_rtt_ms FROM target_hourly_stats WHERE hour = '{hour:O}'"));
        Assert.Equal(2L, await database.ScalarAsync<long>($"SELECT measurement_count FROM asn_stats WHERE hour = '{hour:O}' AND asn = 64500"));
        // Aggregates past aggregate_months go; younger ones stay.
        Assert.Equal(1L, await database.ScalarAsync<long>("SELECT count(*) FROM target_hourly_stats WHERE target = '30.14.2.20'"));
        Assert.Equal(1L, report.AggregateRowsDeleted);

        var again = await Job().RunAsync(prune: true, CancellationToken.None);
        Assert.Empty(again.PartitionsDropped);
        Assert.Equal(2, await database.ScalarAsync<int>($"SELECT measurement_count FROM target_hourly_stats WHERE hour = '{hour:O}'"));
    }

    [Fact]
    public async Task A_partition_whose_hours_are_not_rolled_up_is_kept()
    {
        await writer.StoreAsync([Measurement("30.14.1.10", thisMonth.AddMonths(-5).AddDays(1), 20),
                                 Measurement("30.14.1.10", DateTime.UtcNow.AddMinutes(-1), 20)], CancellationToken.None);
        // The roll-up has only reached two days into that month (it stopped there, as after failures).
        var job = new RetentionJob(database.DataSource, new HourlyAggregates(database.DataSource, new FixedClock(thisMonth.AddMonths(-5).AddDays(2))),
            TimeProvider.System, NullLogger<RetentionJob>.Instance, services.GetRequiredService<IMeterFactory>());
        var report = await job.RunAsync(prune: true, CancellationToken.None);

        Assert.Contains($"measurements_{thisMonth.AddMonths(-5):yyyy_MM}", report.PartitionsKept);
        Assert.DoesNotContain($"measurements_{thisMonth.AddMonths(-5):yyyy_MM}", report.PartitionsDropped);
        Assert.Contains($"measurements_{thisMonth.AddMonths(-4):yyyy_MM}", report.PartitionsKept);
        Assert.Equal(2L, await database.ScalarAsync<long>("SELECT count(*) FROM measurements"));
    }

    [Fact]
    public async Task Retention_gives_up_on_a_busy_partition_instead_of_blocking_ingestion()
    {
        await writer.StoreAsync([Measurement("30.14.1.10", thisMonth.AddMonths(-5).AddDays(1), 20),
                                 Measurement("30.14.1.11", DateTime.UtcNow.AddMinutes(-1), 20)], CancellationToken.None);
        var partition = $"measurements_{thisMonth.AddMonths(-5):yyyy_MM}";

        // A long-running reader (a Grafana query over the whole history) holds the parent table.
        await using var reader = await database.DataSource.OpenConnectionAsync();
        await using var transaction = await reader.BeginTransactionAsync();
        await using (var read = new NpgsqlCommand("SELECT count(*) FROM measurements", reader, transaction))
        {
            await read.ExecuteScalarAsync();
        }

        var job = Job();
        var run = job.RunAsync(prune: true, CancellationToken.None);
        // Ingestion while retention waits for its lock: each batch may wait at most the lock timeout.
        var slowest = TimeSpan.Zero;
        while (!run.IsCompleted)
        {
            var clock = Stopwatch.StartNew();
            await writer.StoreAsync([Measurement("30.14.1.11", DateTime.UtcNow, 12)], CancellationToken.None);
            slowest = clock.Elapsed > slowest ? clock.Elapsed : slowest;
            await Task.Delay(100);
        }
        var report = await run;

        Assert.Contains(partition, report.PartitionsKept);
        Assert.NotNull(await database.ScalarAsync<string>($"SELECT to_regclass('{partition}')::text"));
        Assert.True(slowest < RetentionJob.LockTimeout + TimeSpan.FromSeconds(1), $"an ingestion batch waited {slowest}");
        Assert.True(await database.ScalarAsync<long>("SELECT count(*) FROM measurements WHERE target = '30.14.1.11'") > 3);

        await transaction.RollbackAsync();
        var later = await Job().RunAsync(prune: true, CancellationToken.None);
        Assert.Contains(partition, later.PartitionsDropped);
    }

    [Fact]
    public async Task Without_default_partitions_old_partitions_are_detached_concurrently()
    {
        await SqlAsync("DROP TABLE measurements_default; DROP TABLE hops_default");
        await writer.StoreAsync([Measurement("30.14.1.10", thisMonth.AddMonths(-5).AddDays(1), 20),
                                 Measurement("30.14.1.10", DateTime.UtcNow.AddMinutes(-1), 20)], CancellationToken.None);

        var report = await Job().RunAsync(prune: true, CancellationToken.None);

        Assert.Contains($"measurements_{thisMonth.AddMonths(-5):yyyy_MM}", report.PartitionsDropped);
        Assert.Contains($"hops_{thisMonth.AddMonths(-5):yyyy_MM}", report.PartitionsDropped);
        Assert.Equal(1L, await database.ScalarAsync<long>("SELECT count(*) FROM measurements"));
    }

    [Fact]
    public async Task A_second_silo_skips_the_run_while_the_first_holds_it()
    {
        await using var other = await database.DataSource.OpenConnectionAsync();
        await using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({RetentionJob.AdvisoryLockKey})", other))
        {
            await take.ExecuteScalarAsync();
        }
        var report = await Job().RunAsync(prune: true, CancellationToken.None);
        Assert.True(report.Skipped);
    }

    [Theory]
    [InlineData("{\"raw_months\": 0, \"aggregate_months\": 24}", "raw_months")]
    [InlineData("{\"raw_months\": 12, \"aggregate_months\": 6}", "aggregate_months")]
    [InlineData("{\"dns_query_days\": 0}", "dns_query_days")]
    [InlineData("{\"dns_target_days\": -1}", "dns_target_days")]
    [InlineData("{\"dns_handoff_days\": 0}", "dns_handoff_days")]
    public void Bad_retention_settings_are_refused_with_the_reason(string json, string field)
    {
        var error = Assert.Throws<FormatException>(() => RetentionSettings.Parse(json));
        Assert.Contains(field, error.Message);
    }

    private RetentionJob Job() => new(database.DataSource, new HourlyAggregates(database.DataSource, TimeProvider.System), TimeProvider.System,
        NullLogger<RetentionJob>.Instance, services.GetRequiredService<IMeterFactory>()) { LockRetryPause = TimeSpan.FromMilliseconds(200) };

    private async Task SqlAsync(string sql)
    {
        await using var command = database.DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    private static MeasurementRow Measurement(string target, DateTime startedAt, double rtt) => new()
    {
        Target = IPAddress.Parse(target),
        Tool = "scamper",
        Method = "icmp-paris",
        Vantage = "home",
        StartedAt = new DateTimeOffset(startedAt, TimeSpan.Zero),
        CompletedAt = new DateTimeOffset(startedAt.AddSeconds(4), TimeSpan.Zero),
        Success = true,
        HopCount = 2,
        DestRttMs = rtt,
        Hops =
        [
            new HopRow { Ttl = 1, Address = IPAddress.Parse("62.1.1.1"), RttMs = rtt / 2, Asn = 64500 },
            new HopRow { Ttl = 2, Address = IPAddress.Parse(target), RttMs = rtt, Asn = 64501 },
        ],
    };

    private sealed class FixedClock(DateTime now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => new(now, TimeSpan.Zero);
    }
}
