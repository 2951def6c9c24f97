using CyberWatch.Storage;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace CyberWatch.Measurement;

public sealed partial class TargetGrain
{
    private const string RemeasureReminder = "remeasure";
    private const string PendingReminder = "probe-pending";

    /// <summary>A handed-off probe not reported back by then (a silo died) is submitted again.</summary>
    private static readonly TimeSpan PendingTimeout = TimeSpan.FromMinutes(10);

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (!state.State.Active)
        {
            await UnregisterAsync(reminderName);
            return;
        }
        var now = clock.GetUtcNow();
        if (reminderName == RemeasureReminder)
        {
            var remeasurement = settings.Current.Remeasurement;
            if (!remeasurement.Enabled)
            {
                await UnregisterAsync(RemeasureReminder);
                state.State.NextDueAt = null;
                await state.WriteStateAsync();
                table.Upsert(Info());
                return;
            }
            if (status.Period != remeasurement.Interval)
            {
                // The interval setting changed since the reminder was registered.
                await ScheduleRemeasurementAsync(now);
            }
            await SubmitProbeAsync(now);
            await state.WriteStateAsync();
        }
        else if (reminderName == PendingReminder)
        {
            if (state.State.ProbePendingSince is { } since && now - since >= PendingTimeout)
            {
                LogResubmit(address, since);
                state.State.ProbePendingSince = null;
                await SubmitProbeAsync(now);
                await state.WriteStateAsync();
            }
            else if (state.State.ProbePendingSince is null)
            {
                await UnregisterAsync(PendingReminder);
            }
        }
    }

    /// <summary>Registers the remeasurement reminder, its first tick jittered so targets added together spread out.</summary>
    private async Task ScheduleRemeasurementAsync(DateTimeOffset now)
    {
        var remeasurement = settings.Current.Remeasurement;
        if (!remeasurement.Enabled)
        {
            state.State.NextDueAt = null;
            return;
        }
        var interval = remeasurement.Interval;
        var jitter = Math.Clamp(remeasurement.JitterFraction, 0, 0.5);
        var due = interval * (1 + jitter * (Random.Shared.NextDouble() * 2 - 1));
        await this.RegisterOrUpdateReminder(RemeasureReminder, due, interval);
        state.State.NextDueAt = now + due;
    }

    private async Task SubmitProbeAsync(DateTimeOffset now)
    {
        if (state.State.ProbePendingSince is { } since && now - since < PendingTimeout)
        {
            return;
        }
        var method = ProbeMethods.Parse(settings.Current.Worker.DefaultMethod) ?? ProbeMethod.IcmpParis;
        await GrainFactory.GetGrain<IProbeWorkerGrain>(0).Submit(new ProbeRequest(address.ToString(), method, OnDemand: false));
        state.State.ProbePendingSince = now;
        await this.RegisterOrUpdateReminder(PendingReminder, PendingTimeout, PendingTimeout);
    }

    private async Task UnregisterAsync(string name)
    {
        var reminder = await this.GetReminder(name);
        if (reminder is not null)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    private void FeedHops(MeasurementSummary measurement)
    {
        foreach (var hop in measurement.IpPath)
        {
            if (hop is not null && hop != address.ToString() && TargetAddress.IsProbeable(hop))
            {
                _ = OfferHopAsync(hop);
            }
        }
    }

    private async Task OfferHopAsync(string hop)
    {
        try
        {
            await GrainFactory.GetGrain<ITargetGrain>(hop).Accept(TargetSource.Hop);
        }
        catch (Exception e)
        {
            LogHopFeedbackFailed(hop, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Hop {Hop} could not become a target: {Error}")]
    private partial void LogHopFeedbackFailed(string hop, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Probe of {Target} handed off at {Since} never came back; submitting again")]
    private partial void LogResubmit(System.Net.IPAddress target, DateTimeOffset since);
}
