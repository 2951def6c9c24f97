using CyberWatch.Configuration;
using CyberWatch.Storage;
using CyberWatch.Vantages;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Runtime;

namespace CyberWatch.Measurement;

/// <summary>
/// One shard of one vantage point's remeasurement schedule (key "{vantage}/{shard}"), placed only on silos of
/// that vantage (<see cref="VantagePlacement"/>): the pairs it hands out are probed from where they belong.
/// Its Orleans reminder (once a minute) brings it back after its silo dies — onto another silo of the vantage,
/// or, while none is up, nowhere: the pairs wait. While active, a timer takes the shard's due pairs every
/// <see cref="TickPeriod"/>, most overdue first, and hands them to the silo's probe workers, never more than
/// the silo's queue can start within a couple of minutes.
/// </summary>
[VantagePlacement]
public sealed partial class RemeasurementScheduleGrain(
    [PersistentState("remeasurementSchedule", "cyberwatch")] IPersistentState<RemeasurementScheduleState> state,
    RemeasurementSchedule schedule,
    SettingsMonitor settings,
    ProbeScheduler probes,
    RemeasurementMetrics metrics,
    CyberWatch.Enrichment.PrefixTableService prefixes,
    CyberWatchOptions options,
    Microsoft.Extensions.Options.IOptions<VantageOptions> vantageOptions,
    TimeProvider clock,
    ILogger<RemeasurementScheduleGrain> logger) : Grain, IRemeasurementScheduleGrain, IRemindable
{
    public static readonly TimeSpan TickPeriod = TimeSpan.FromSeconds(5);

    /// <summary>How often a shard also pulls back due times further than one interval away (a clock that jumped).</summary>
    private static readonly TimeSpan ClockCheckPeriod = TimeSpan.FromHours(1);

    /// <summary>New pairs are taken this soon after a nudge (nudges of one burst share one dispatch).</summary>
    private static readonly TimeSpan NudgeDelay = TimeSpan.FromMilliseconds(200);

    private const string ReminderName = "vantage-schedule-shard";
    private static readonly TimeSpan ReminderPeriod = TimeSpan.FromMinutes(1);

    /// <summary>Minutes of probing (at the silo's rate limit) the probe queue may hold before the schedule stops adding.</summary>
    private const int QueueMinutes = 2;

    private string vantage = "";
    private int shard;
    private IGrainTimer? nudge;
    private DateTimeOffset clockCheckedAt = DateTimeOffset.MinValue;

    /// <summary>A scheduled probe of <paramref name="target"/> with the silo's default method.</summary>
    public static ProbeRequest ScheduledProbe(string target, WorkerSettings worker) =>
        new(target, ProbeMethods.Parse(worker.DefaultMethod) ?? ProbeMethod.IcmpParis, OnDemand: false);

    /// <summary>How many more scheduled probes this silo's queue takes now.</summary>
    public static int QueueRoom(WorkerSettings worker, ProbeScheduler probes) => worker.RateLimitPerMinute * QueueMinutes - probes.Queued;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = this.GetPrimaryKeyString();
        vantage = VantageNames.OfKey(key);
        if (!int.TryParse(key.AsSpan(vantage.Length + (key.Length > vantage.Length ? 1 : 0)), out shard) || shard is < 0 or >= RemeasurementSchedule.Shards)
        {
            throw new ArgumentException($"schedule shard key '{key}' is not {{vantage}}/{{0..{RemeasurementSchedule.Shards - 1}}}");
        }
        if (vantage != options.Vantage)
        {
            // Placement guarantees it; a shard must never hand one vantage's pairs to another's probes.
            throw new InvalidOperationException($"schedule shard {key} activated on a silo of vantage '{options.Vantage}'");
        }
        // Shards started together tick at different moments.
        var firstTick = TickPeriod * (shard + 1) / RemeasurementSchedule.Shards;
        this.RegisterGrainTimer(static (grain, _) => grain.TickAsync(), this,
            new GrainTimerCreationOptions(firstTick, TickPeriod) { KeepAlive = true });
        return base.OnActivateAsync(cancellationToken);
    }

    public async Task Start() => await this.RegisterOrUpdateReminder(ReminderName, ReminderPeriod, ReminderPeriod);

    public Task ReceiveReminder(string reminderName, TickStatus status) => TickAsync();

    public Task<ScheduleRound> DispatchDue() => DispatchAsync();

    public Task Nudge()
    {
        nudge ??= this.RegisterGrainTimer(static (grain, _) =>
        {
            grain.nudge?.Dispose();
            grain.nudge = null;
            return grain.TickAsync();
        }, this, new GrainTimerCreationOptions(NudgeDelay, Timeout.InfiniteTimeSpan));
        return Task.CompletedTask;
    }

    private async Task TickAsync()
    {
        try
        {
            await DispatchAsync();
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            LogTickFailed(this.GetPrimaryKeyString(), e.Message);
        }
    }

    private async Task<ScheduleRound> DispatchAsync()
    {
        var remeasurement = settings.Current.Remeasurement;
        if (!remeasurement.Enabled)
        {
            return new ScheduleRound(0, 0, "remeasurement is disabled");
        }
        var now = clock.GetUtcNow();
        if (state.State.IntervalSeconds != remeasurement.Interval.TotalSeconds || now - clockCheckedAt >= ClockCheckPeriod || now < clockCheckedAt)
        {
            // Also on a shard's first tick ever (what interval its rows were given is not known then), and hourly
            // or when the clock went back: due times further than one interval away are pulled back.
            var moved = await schedule.ShortenToIntervalAsync(vantage, shard, remeasurement.Interval, now, CancellationToken.None);
            if (state.State.IntervalSeconds is not null && state.State.IntervalSeconds != remeasurement.Interval.TotalSeconds || moved > 0)
            {
                LogIntervalChanged(this.GetPrimaryKeyString(), remeasurement.Interval, moved);
            }
            clockCheckedAt = now;
            if (state.State.IntervalSeconds != remeasurement.Interval.TotalSeconds)
            {
                state.State.IntervalSeconds = remeasurement.Interval.TotalSeconds;
                await state.WriteStateAsync();
            }
        }
        if (settings.Current.Incidents.RemeasureSeconds > 0)
        {
            var pulled = await schedule.ShortenForIncidentsAsync(vantage, shard, TimeSpan.FromSeconds(settings.Current.Incidents.RemeasureSeconds), now,
                CancellationToken.None);
            if (pulled > 0)
            {
                LogIncidentRemeasure(this.GetPrimaryKeyString(), pulled, settings.Current.Incidents.RemeasureSeconds);
            }
        }
        if (!prefixes.FirstLoad.IsCompleted)
        {
            // A probe now would be stored without origin ASNs and judged against its pair's history without an AS
            // path: a silo that just started waits for its prefix table (seconds) before it takes due pairs.
            return new ScheduleRound(0, 0, "the prefix table is loading");
        }
        var worker = settings.Current.Worker;
        var room = Math.Min(remeasurement.TargetsPerRun, QueueRoom(worker, probes));
        if (room <= 0)
        {
            return new ScheduleRound(0, 0, $"the probe queue holds {probes.Queued} probes, {QueueMinutes} minutes at {worker.RateLimitPerMinute}/min");
        }
        var due = await schedule.TakeDueAsync(vantage, shard, now, vantageOptions.Value.Lease, room, CancellationToken.None);
        if (due.Count == 0)
        {
            return new ScheduleRound(0, 0, null);
        }
        var pool = GrainFactory.GetGrain<IProbeWorkerGrain>(0);
        var latest = 0.0;
        foreach (var target in due)
        {
            var late = Math.Max(0, (now - target.DueAt).TotalSeconds);
            latest = Math.Max(latest, late);
            metrics.Lateness.Record(late, new KeyValuePair<string, object?>("vantage", vantage));
        }
        await Task.WhenAll(due.Select(target => pool.Submit(ScheduledProbe(target.Address, worker))));
        metrics.Dispatched.Add(due.Count, new KeyValuePair<string, object?>("vantage", vantage));
        return new ScheduleRound(due.Count, latest, null);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Remeasurement shard {Shard} could not take its due pairs: {Error}; trying again next tick")]
    private partial void LogTickFailed(string shard, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Remeasurement shard {Shard}: {Pulled} pair(s) of open incidents due within {Seconds} s")]
    private partial void LogIncidentRemeasure(string shard, int pulled, int seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Remeasurement interval is {Interval}: shard {Shard} moved {Moved} pair(s) due later than that")]
    private partial void LogIntervalChanged(string shard, TimeSpan interval, int moved);
}
