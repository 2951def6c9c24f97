using System.Diagnostics.Metrics;
using System.Net;
using CyberWatch.Configuration;
using CyberWatch.Measurement;
using CyberWatch.Measurement.Parsing;
using CyberWatch.Measurement.Scamper;
using CyberWatch.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CyberWatch.Watch;

/// <summary>
/// Runs this silo's share of its vantage point's ping series: every second it takes the due rounds from
/// <see cref="PingSchedule"/> (up to <c>max_concurrent_rounds</c> running), runs each as one scamper ping of
/// <c>pings_per_round</c> probes, turns the result into a <see cref="PingRound"/> and hands it to the writer.
/// Pings bypass the traceroute queue and its per-minute token bucket: a round is a handful of packets a second
/// at most, and scamper's own packet rate (<c>packets_per_second</c>) still paces every packet the silo sends.
/// While scamper is not installed, nothing is taken: the rounds wait rather than being stored as failures of
/// the network.
/// </summary>
public sealed partial class PingSeriesService : BackgroundService
{
    public static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan NewPairsEvery = TimeSpan.FromSeconds(30);

    private readonly PingSchedule schedule;
    private readonly PingRoundWriter writer;
    private readonly ScamperEngine scamper;
    private readonly TargetPolicy policy;
    private readonly SettingsMonitor settings;
    private readonly TimeProvider clock;
    private readonly ILogger<PingSeriesService> logger;
    private readonly IGrainFactory grains;
    private readonly string vantage;
    private readonly Counter<long> rounds;
    private readonly Histogram<double> lateness;
    private readonly Lock gate = new();
    private readonly HashSet<Task> inFlight = [];
    private DateTimeOffset lastNewPairs = DateTimeOffset.MinValue;
    private TimeSpan? lastInterval;
    private bool reportedNoScamper;

    public PingSeriesService(PingSchedule schedule, PingRoundWriter writer, ScamperEngine scamper, TargetPolicy policy, SettingsMonitor settings,
        CyberWatchOptions options, IGrainFactory grains, TimeProvider clock, ILogger<PingSeriesService> logger, IMeterFactory meters)
    {
        this.grains = grains;
        this.schedule = schedule;
        this.writer = writer;
        this.scamper = scamper;
        this.policy = policy;
        this.settings = settings;
        this.clock = clock;
        this.logger = logger;
        vantage = options.Vantage;
        var meter = meters.Create("CyberWatch.Watch");
        rounds = meter.CreateCounter<long>("cyberwatch.ping.rounds", description: "ping rounds run, by outcome (done, failed)");
        lateness = meter.CreateHistogram<double>("cyberwatch.ping.round_lateness", "s", "how long after its due time a ping round was started");
        meter.CreateObservableGauge("cyberwatch.ping.rounds_running", () => Running, description: "ping rounds running on this silo");
    }

    public int Running
    {
        get
        {
            lock (gate)
            {
                return inFlight.Count;
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await settings.FirstRead.WaitAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
            {
                LogScheduleUnreadable(e.Message);
            }
            try
            {
                await Task.Delay(Tick, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        Task[] running;
        lock (gate)
        {
            running = [.. inFlight];
        }
        // Rounds under way finish within their pings' time; wait a little so they are stored, not cut off.
        await Task.WhenAll(running).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    /// <summary>One tick: new pairs (every <see cref="NewPairsEvery"/>), then the due rounds; returns how many rounds it started.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var ping = settings.Current.Ping;
        if (!ping.Enabled || !PingMethods.TryParse(ping.Method, out var method))
        {
            return 0;
        }
        if (!scamper.Installed)
        {
            if (!reportedNoScamper)
            {
                reportedNoScamper = true;
                LogNoScamper();
            }
            return 0;
        }
        reportedNoScamper = false;
        var now = clock.GetUtcNow();
        if (now - lastNewPairs >= NewPairsEvery || lastInterval != ping.Interval)
        {
            if (lastInterval is { } previous && ping.Interval < previous)
            {
                await schedule.ShortenToIntervalAsync(vantage, ping.Interval, now, cancellationToken);
            }
            var added = await schedule.AddMissingAsync(vantage, ping.Sources, ping.Interval, now, cancellationToken);
            if (added > 0)
            {
                LogPairsAdded(added, vantage);
            }
            lastNewPairs = now;
            lastInterval = ping.Interval;
        }
        var free = ping.MaxConcurrentRounds - Running;
        if (free <= 0)
        {
            return 0;
        }
        var due = await schedule.TakeDueAsync(vantage, ping.Sources, ping.Interval, now, free, cancellationToken);
        var options = new PingProbeOptions { Count = ping.PingsPerRound, IntervalSeconds = ping.SpacingSeconds, Method = method };
        foreach (var pair in due)
        {
            lateness.Record((now - pair.DueAt).TotalSeconds, new KeyValuePair<string, object?>("vantage", vantage));
            var round = RunRoundAsync(pair.Target, options, cancellationToken);
            lock (gate)
            {
                inFlight.Add(round);
            }
            _ = round.ContinueWith(done =>
            {
                lock (gate)
                {
                    inFlight.Remove(done);
                }
            }, TaskScheduler.Default);
        }
        return due.Count;
    }

    /// <summary>Completes when every round started so far has finished (for tests and shutdown).</summary>
    public Task WhenRoundsDoneAsync()
    {
        lock (gate)
        {
            return Task.WhenAll(inFlight.ToArray());
        }
    }

    private async Task RunRoundAsync(IPAddress target, PingProbeOptions options, CancellationToken cancellationToken)
    {
        await Task.Yield();
        var startedAt = clock.GetUtcNow();
        PingRound round;
        var verdict = policy.Check(target.ToString());
        if (!verdict.Accepted)
        {
            // No packet leaves for what the policy refuses, whatever put it in the schedule.
            round = PingRound.Failed(target, vantage, options.Method, startedAt, $"not probed: {verdict.Reason}");
        }
        else
        {
            try
            {
                var command = ScamperCommand.Ping(target, options);
                var raw = await scamper.RunAsync(command, TimeSpan.FromSeconds(10), cancellationToken);
                var result = ScamperPingParser.Parse(raw, new ProbeContext(vantage) { Target = target, StartedAt = startedAt });
                round = PingRound.From(result, target, vantage, options.Method, startedAt);
            }
            catch (Exception e) when (e is ScamperCommandException or ScamperDeadlineException or ScamperUnavailableException)
            {
                round = PingRound.Failed(target, vantage, options.Method, startedAt, $"scamper: {e.Message}");
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
        writer.Add(round);
        rounds.Add(1, new KeyValuePair<string, object?>("outcome", round.FailureReason is null ? "done" : "failed"),
            new KeyValuePair<string, object?>("vantage", vantage));
        try
        {
            await grains.GetGrain<IPingWatchGrain>(Incidents.PingWatchGrain.Key(vantage, target)).Observe(round.Outcome());
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The round is stored; the incident rules miss one round, which hysteresis is made to bear.
            LogObserverFailed(target.ToString(), e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ping series: scamper is not available on this silo; rounds wait until it is")]
    private partial void LogNoScamper();

    [LoggerMessage(Level = LogLevel.Information, Message = "Ping series: {Count} new (target, vantage) pair(s) for {Vantage}")]
    private partial void LogPairsAdded(int count, string vantage);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ping series: schedule not read ({Error}); trying again")]
    private partial void LogScheduleUnreadable(string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ping series: the incident rules did not get the round of {Target}: {Error}")]
    private partial void LogObserverFailed(string target, string error);
}
