using CyberWatch.Storage;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Runtime;

namespace CyberWatch.Measurement;

/// <summary>
/// One shard of the remeasurement schedule. Its Orleans reminder (once a minute) keeps it active on
/// some silo of the cluster; while active, a timer takes the shard's due targets from the
/// <c>targets</c> table every <see cref="TickPeriod"/> and hands them to that silo's probe workers,
/// never more than the silo's queue can start within a couple of minutes.
/// </summary>
public sealed partial class RemeasurementScheduleGrain(
    [PersistentState("remeasurementSchedule", "cyberwatch")] IPersistentState<RemeasurementScheduleState> state,
    RemeasurementSchedule schedule,
    SettingsMonitor settings,
    ProbeScheduler probes,
    RemeasurementMetrics metrics,
    TimeProvider clock,
    ILogger<RemeasurementScheduleGrain> logger) : Grain, IRemeasurementScheduleGrain, IRemindable
{
    public static readonly TimeSpan TickPeriod = TimeSpan.FromSeconds(5);

    /// <summary>A handed-out target not measured by then (its silo died, its probe was lost) is due again.</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(10);

    private const string ReminderName = "remeasurement-shard";
    private static readonly TimeSpan ReminderPeriod = TimeSpan.FromMinutes(1);

    /// <summary>Minutes of probing (at the silo's rate limit) the probe queue may hold before the schedule stops adding.</summary>
    private const int QueueMinutes = 2;

    /// <summary>A scheduled probe of <paramref name="target"/> with the silo's default method.</summary>
    public static ProbeRequest ScheduledProbe(string target, WorkerSettings worker) =>
        new(target, ProbeMethods.Parse(worker.DefaultMethod) ?? ProbeMethod.IcmpParis, OnDemand: false);

    /// <summary>How many more scheduled probes this silo's queue takes now.</summary>
    public static int QueueRoom(WorkerSettings worker, ProbeScheduler probes) => worker.RateLimitPerMinute * QueueMinutes - probes.Queued;

    private int Shard => (int)this.GetPrimaryKeyLong();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (Shard is < 0 or >= RemeasurementSchedule.Shards)
        {
            throw new ArgumentOutOfRangeException(nameof(Shard), Shard, $"schedule shards are 0..{RemeasurementSchedule.Shards - 1}");
        }
        // Shards started together tick at different moments.
        var firstTick = TickPeriod * (Shard + 1) / RemeasurementSchedule.Shards;
        this.RegisterGrainTimer(static (grain, _) => grain.TickAsync(), this,
            new GrainTimerCreationOptions(firstTick, TickPeriod) { KeepAlive = true });
        return base.OnActivateAsync(cancellationToken);
    }

    public async Task Start() => await this.RegisterOrUpdateReminder(ReminderName, ReminderPeriod, ReminderPeriod);

    public Task ReceiveReminder(string reminderName, TickStatus status) => TickAsync();

    public Task<ScheduleRound> DispatchDue() => DispatchAsync();

    private async Task TickAsync()
    {
        try
        {
            await DispatchAsync();
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            LogTickFailed(Shard, e.Message);
        }
    }

    private async Task<ScheduleRound> DispatchAsync()
    {
        var remeasurement = settings.Current.Remeasurement;
        if (!remeasurement.Enabled)
        {
            return new ScheduleRound(0, 0, "remeasurement is disabled");
        }
        if (state.State.IntervalSeconds != remeasurement.Interval.TotalSeconds)
        {
            // Also on a shard's first tick ever: what interval its rows were given is not known then.
            var moved = await schedule.ShortenToIntervalAsync(Shard, remeasurement.Interval, CancellationToken.None);
            if (state.State.IntervalSeconds is not null || moved > 0)
            {
                LogIntervalChanged(Shard, remeasurement.Interval, moved);
            }
            state.State.IntervalSeconds = remeasurement.Interval.TotalSeconds;
            await state.WriteStateAsync();
        }
        var worker = settings.Current.Worker;
        var room = Math.Min(remeasurement.TargetsPerRun, QueueRoom(worker, probes));
        if (room <= 0)
        {
            return new ScheduleRound(0, 0, $"the probe queue holds {probes.Queued} probes, {QueueMinutes} minutes at {worker.RateLimitPerMinute}/min");
        }
        var now = clock.GetUtcNow();
        var due = await schedule.TakeDueAsync(Shard, now, Lease, room, CancellationToken.None);
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
            metrics.Lateness.Record(late);
        }
        await Task.WhenAll(due.Select(target => pool.Submit(ScheduledProbe(target.Address, worker))));
        metrics.Dispatched.Add(due.Count);
        return new ScheduleRound(due.Count, latest, null);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Remeasurement shard {Shard} could not take its due targets: {Error}; trying again next tick")]
    private partial void LogTickFailed(int shard, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Remeasurement interval is now {Interval}: shard {Shard} moved {Moved} target(s) due later than that")]
    private partial void LogIntervalChanged(int shard, TimeSpan interval, int moved);
}
