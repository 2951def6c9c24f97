using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using CyberWatch.Measurement;
using CyberWatch.Measurement.Scamper;
using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace CyberWatch.Tests.Measurement;

public sealed class ProbeSchedulerTests : IAsyncLifetime
{
    private readonly ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private TestDatabase db = null!;
    private SettingsMonitor settings = null!;
    private ProbeScheduler scheduler = null!;

    public async ValueTask InitializeAsync()
    {
        db = await TestDatabase.CreateAsync();
        await SetWorkerAsync("""{"rate_limit_per_minute": 6000, "max_concurrent_traceroutes": 1, "per_prefix_interval_seconds": 0.3}""");
        settings = new SettingsMonitor(db.DataSource, NullLogger<SettingsMonitor>.Instance, TimeProvider.System);
        await settings.RefreshAsync(CancellationToken.None);
        scheduler = new ProbeScheduler(settings, TimeProvider.System, NullLogger<ProbeScheduler>.Instance,
            services.GetRequiredService<IMeterFactory>());
        await scheduler.StartAsync(CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        if (scheduler is not null)
        {
            await scheduler.StopAsync(CancellationToken.None);
            scheduler.Dispose();
        }
        if (db is not null)
        {
            await db.DisposeAsync();
        }
        await services.DisposeAsync();
    }

    private async Task SetWorkerAsync(string json)
    {
        await using var command = db.DataSource.CreateCommand("UPDATE settings SET value = value || $1::jsonb WHERE key = 'worker_settings'");
        command.Parameters.AddWithValue(json);
        await command.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Burst_in_one_slash_24_does_not_starve_another_network()
    {
        var order = new ConcurrentQueue<string>();
        var burst = Enumerable.Range(1, 6).Select(i => IPAddress.Parse($"30.1.1.{i}")).ToList();
        var tasks = burst.Select(ip => scheduler.ScheduleAsync(ip, ProbePriority.Scheduled, _ =>
        {
            order.Enqueue(ip.ToString());
            return Task.FromResult(0);
        })).ToList();
        var other = IPAddress.Parse("30.2.2.2");
        tasks.Add(scheduler.ScheduleAsync(other, ProbePriority.Scheduled, _ =>
        {
            order.Enqueue(other.ToString());
            return Task.FromResult(0);
        }));

        await Task.WhenAll(tasks);

        // The other network goes second: the /24 with the burst must wait its spacing between probes.
        Assert.Equal(1, order.ToList().IndexOf("30.2.2.2"));
    }

    [Fact]
    public async Task Same_prefix_probes_are_spaced_by_the_per_prefix_interval()
    {
        var times = new ConcurrentQueue<long>();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(1, 4).Select(i => scheduler.ScheduleAsync(IPAddress.Parse($"30.3.3.{i}"),
            ProbePriority.Scheduled, _ =>
            {
                times.Enqueue(clock.ElapsedMilliseconds);
                return Task.FromResult(0);
            })));

        var gaps = times.Zip(times.Skip(1), (a, b) => b - a).ToList();
        Assert.All(gaps, gap => Assert.True(gap >= 280, $"probes {gap} ms apart in one /24 (spacing is 300 ms)"));
    }

    [Fact]
    public async Task Rate_limit_holds_probes_to_the_configured_rate()
    {
        await SetWorkerAsync("""{"rate_limit_per_minute": 600, "max_concurrent_traceroutes": 10}""");
        await settings.RefreshAsync(CancellationToken.None);
        var clock = Stopwatch.StartNew();

        await Task.WhenAll(Enumerable.Range(1, 11).Select(i => scheduler.ScheduleAsync(IPAddress.Parse($"31.{i}.0.1"),
            ProbePriority.Scheduled, _ => Task.FromResult(0))));

        // 600/min is one every 100 ms with no burst: 11 probes need at least 10 intervals.
        Assert.True(clock.ElapsedMilliseconds >= 950, $"11 probes at 600/min took only {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task High_rate_limit_still_runs_probes_at_that_rate()
    {
        // 60,000/min (the most the settings allow) is one every ms: a replenishment period that short stopped the bucket.
        await SetWorkerAsync("""{"rate_limit_per_minute": 60000, "max_concurrent_traceroutes": 10, "per_prefix_interval_seconds": 0}""");
        await settings.RefreshAsync(CancellationToken.None);
        var clock = Stopwatch.StartNew();

        var done = 0;
        var all = Task.WhenAll(Enumerable.Range(0, 500).Select(i => scheduler.ScheduleAsync(IPAddress.Parse($"32.{i / 250}.{i % 250}.1"),
            ProbePriority.Scheduled, _ => { Interlocked.Increment(ref done); return Task.FromResult(0); })));
        try
        {
            await all.WaitAsync(TimeSpan.FromSeconds(20));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"stalled: {done} probes ran, {scheduler.Queued} queued, {scheduler.Running} running");
        }

        Assert.True(clock.ElapsedMilliseconds >= 400, $"500 probes at 60,000/min took only {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task Concurrency_cap_from_settings_is_never_exceeded()
    {
        await SetWorkerAsync("""{"max_concurrent_traceroutes": 3}""");
        await settings.RefreshAsync(CancellationToken.None);
        var now = 0;
        var peak = 0;

        await Task.WhenAll(Enumerable.Range(1, 12).Select(i => scheduler.ScheduleAsync(IPAddress.Parse($"32.{i}.0.1"),
            ProbePriority.Scheduled, async ct =>
            {
                var current = Interlocked.Increment(ref now);
                InterlockedMax(ref peak, current);
                await Task.Delay(100, ct);
                Interlocked.Decrement(ref now);
                return 0;
            })));

        Assert.Equal(3, peak);
    }

    [Fact]
    public async Task Probe_interrupted_by_scamper_dying_is_retried_until_it_completes()
    {
        var attempts = 0;
        var result = await scheduler.ScheduleAsync(IPAddress.Parse("33.0.0.1"), ProbePriority.Scheduled, _ =>
            ++attempts < 3 ? throw new ScamperUnavailableException("scamper exited") : Task.FromResult("done"));

        Assert.Equal("done", result);
        Assert.Equal(3, attempts);
    }

    [Fact]
    public async Task Probe_that_fails_for_another_reason_reports_it_once()
    {
        var attempts = 0;
        var error = await Assert.ThrowsAsync<ScamperCommandException>(() => scheduler.ScheduleAsync<int>(IPAddress.Parse("34.0.0.1"),
            ProbePriority.Scheduled, _ =>
            {
                attempts++;
                throw new ScamperCommandException("command not accepted");
            }));

        Assert.Equal(1, attempts);
        Assert.Contains("not accepted", error.Message);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while (value > (seen = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}

public sealed class ProbeSchedulerPrefixTests
{
    [Fact]
    public void Fairness_buckets_are_slash_24_and_slash_48()
    {
        Assert.Equal(ProbeScheduler.PrefixKey(IPAddress.Parse("30.1.1.1")), ProbeScheduler.PrefixKey(IPAddress.Parse("30.1.1.254")));
        Assert.NotEqual(ProbeScheduler.PrefixKey(IPAddress.Parse("30.1.1.1")), ProbeScheduler.PrefixKey(IPAddress.Parse("30.1.2.1")));
        Assert.Equal(ProbeScheduler.PrefixKey(IPAddress.Parse("2a0c:1:2::1")), ProbeScheduler.PrefixKey(IPAddress.Parse("2a0c:1:2:ffff::9")));
        Assert.NotEqual(ProbeScheduler.PrefixKey(IPAddress.Parse("2a0c:1:2::1")), ProbeScheduler.PrefixKey(IPAddress.Parse("2a0c:1:3::1")));
        Assert.Equal(ProbeScheduler.PrefixKey(IPAddress.Parse("30.1.1.1")), ProbeScheduler.PrefixKey(IPAddress.Parse("::ffff:30.1.1.9")));
    }
}
