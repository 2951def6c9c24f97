using Microsoft.Extensions.Logging;

namespace CyberWatch.Measurement;

public sealed partial class TargetGrain
{
    /// <summary>
    /// When the target is due next: an interval from now, jittered so that targets added or measured
    /// together do not come due together. The remeasurement schedule takes it from the targets table
    /// (while remeasurement is disabled it takes nothing, and what came due meanwhile runs once enabled).
    /// </summary>
    private DateTimeOffset NextDue(DateTimeOffset now)
    {
        var remeasurement = settings.Current.Remeasurement;
        var jitter = Math.Clamp(remeasurement.JitterFraction, 0, 0.5);
        return now + remeasurement.Interval * (1 + jitter * (Random.Shared.NextDouble() * 2 - 1));
    }

    /// <summary>
    /// The first probe of a new target: at once while this silo's probe queue has room, else the target
    /// is due now and its schedule shard hands it over when there is room (a million targets added
    /// at once do not sit in memory as a million queued probes). A probe that never reports back is
    /// taken again when the schedule's lease runs out.
    /// </summary>
    private async Task SubmitFirstProbeAsync(DateTimeOffset now)
    {
        var worker = settings.Current.Worker;
        if (RemeasurementScheduleGrain.QueueRoom(worker, probes) <= 0)
        {
            state.State.NextDueAt = now;
            return;
        }
        await GrainFactory.GetGrain<IProbeWorkerGrain>(0).Submit(RemeasurementScheduleGrain.ScheduledProbe(address.ToString(), worker));
        state.State.ProbePendingSince = now;
        if (state.State.NextDueAt is { } due && due - now > RemeasurementScheduleGrain.Lease)
        {
            state.State.NextDueAt = now + RemeasurementScheduleGrain.Lease;
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
}
