using Microsoft.Extensions.Logging;

namespace CyberWatch.Measurement;

public sealed partial class TargetGrain
{
    /// <summary>
    /// Before vantage points a target had one history; it becomes the history of the vantage that took its
    /// last measurement (or, when that row is gone, of this silo's vantage, the only one such a node had).
    /// </summary>
    private async Task MoveHistoryOfEarlierVersionsAsync(CancellationToken cancellationToken)
    {
        var old = state.State;
        if (old.History.Count > 0 || old.LastMeasurementId is null)
        {
            return;
        }
        var vantage = (await measurements.GetAsync(old.LastMeasurementId.Value, Storage.TargetScope.IncludingDns, cancellationToken))?.Vantage ?? options.Vantage;
        old.History[vantage] = new VantageHistory
        {
            LastMeasuredAt = old.LastMeasuredAt,
            LastMeasurementId = old.LastMeasurementId,
            LastSuccessfulMeasurementId = old.LastSuccessfulMeasurementId,
            LastIpPath = old.LastIpPath,
            LastAsPath = old.LastAsPath,
            SeenPerTtl = old.SeenPerTtl,
            RecentRttsMs = old.RecentRttsMs,
            LastProbeRequestedAt = old.LastProbeRequestedAt,
        };
        (old.LastMeasuredAt, old.LastMeasurementId, old.LastSuccessfulMeasurementId, old.LastProbeRequestedAt) = (null, null, null, null);
        (old.LastIpPath, old.LastAsPath, old.SeenPerTtl, old.RecentRttsMs) = ([], [], [], []);
        await state.WriteStateAsync(cancellationToken);
        LogHistoryMoved(address, vantage);
    }

    private void FeedHops(MeasurementSummary measurement)
    {
        foreach (var hop in measurement.IpPath)
        {
            // The one target policy: the grain offered to would refuse what it refuses, at the cost of an activation.
            if (hop is not null && hop != address.ToString() && policy.Check(hop).Accepted)
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Target {Target}: its history of before vantage points is now that of {Vantage}")]
    private partial void LogHistoryMoved(System.Net.IPAddress target, string vantage);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Hop {Hop} could not become a target: {Error}")]
    private partial void LogHopFeedbackFailed(string hop, string error);
}
