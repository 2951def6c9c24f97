using System.Net;
using CyberWatch.Storage;
using Microsoft.Extensions.Logging;

namespace CyberWatch.Measurement;

/// <summary>
/// One measurement target. Owns its sources, its measurement history pointers and its next due time
/// (which the <see cref="RemeasurementScheduleGrain"/> shards read from the targets table); probes go
/// through the silo-local <see cref="IProbeWorkerGrain"/> pool and come back through <see cref="OnMeasured"/>.
/// </summary>
// Read targets (API, UI) stay active; with a million of them, idle activations go after 2 minutes
// rather than Orleans' default 15 (reactivating costs one state read).
[CollectionAgeLimit(Minutes = 2)]
public sealed partial class TargetGrain(
    [PersistentState("target", "cyberwatch")] IPersistentState<TargetState> state,
    SettingsMonitor settings,
    TargetTable table,
    MeasurementQueries measurements,
    ProbeScheduler probes,
    PathChangeLog pathChanges,
    TimeProvider clock,
    ILogger<TargetGrain> logger) : Grain, ITargetGrain
{
    /// <summary>
    /// How long a read of the latest measurement is served from memory before it is read again (in
    /// the background: callers get the copy in hand meanwhile). Measurements of this node come through
    /// <see cref="OnMeasured"/> and replace it at once; the age bounds what arrives otherwise (hops
    /// enriched later, rows written by other means).
    /// </summary>
    private static readonly TimeSpan LatestMeasurementMaxAge = TimeSpan.FromSeconds(10);

    private IPAddress address = IPAddress.None;
    private LatestMeasurement? latest;
    private DateTimeOffset? latestReadAt;
    private Task? latestRefresh;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = this.GetPrimaryKeyString();
        if (!TargetAddress.TryCanonical(key, out var canonical) || canonical != key)
        {
            throw new ArgumentException($"target grain key '{key}' is not a canonical IP address");
        }
        address = IPAddress.Parse(key);
        return base.OnActivateAsync(cancellationToken);
    }

    public async Task<TargetAcceptance> Accept(TargetSource source)
    {
        var now = clock.GetUtcNow();
        var created = !state.State.Active;
        var changed = created || state.State.Sources.Add(source);
        state.State.Sources.Add(source);
        state.State.LastSeen = now;
        if (created)
        {
            state.State.Active = true;
            state.State.FirstSeen ??= now;
            state.State.NextDueAt = NextDue(now);
            await SubmitFirstProbeAsync(now);
            LogAccepted(address, source.ToWire());
        }
        if (changed || created)
        {
            await state.WriteStateAsync();
        }
        table.Upsert(Info());
        if (created)
        {
            // Nothing calls a new target again until its first probe reports back; added by the
            // hundred thousand, their activations would hold the silo's memory until collected.
            DeactivateOnIdle();
        }
        return new TargetAcceptance(created, Info());
    }

    public Task<TargetInfo> GetInfo() => Task.FromResult(Info());

    public async Task<LatestMeasurement?> GetLatestMeasurement()
    {
        if (latestReadAt is { } readAt)
        {
            if (clock.GetUtcNow() - readAt >= LatestMeasurementMaxAge && latestRefresh is null)
            {
                latestRefresh = RefreshLatestAsync();
            }
            return latest;
        }
        var read = await measurements.LatestWithHopsAsync(address, CancellationToken.None);
        KeepIfCurrent(read);
        return read;
    }

    /// <summary>
    /// Keeps a read unless it is older than the measurement this grain was last told of (that row is
    /// not visible to the read yet); a newer row written by other means is kept.
    /// </summary>
    private void KeepIfCurrent(LatestMeasurement? read)
    {
        if (state.State.LastMeasuredAt is not { } reported || read is not null && read.Measurement.StartedAt >= reported)
        {
            (latest, latestReadAt) = (read, clock.GetUtcNow());
        }
    }

    private async Task RefreshLatestAsync()
    {
        try
        {
            KeepIfCurrent(await measurements.LatestWithHopsAsync(address, CancellationToken.None));
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
        {
            LogLatestRefreshFailed(address, e.Message);
        }
        finally
        {
            // Whatever came of it, the next try is an age away: the copy in hand is served meanwhile.
            if (latestReadAt is not null)
            {
                latestReadAt = clock.GetUtcNow();
            }
            latestRefresh = null;
        }
    }

    public async Task Remove()
    {
        table.Delete(address.ToString());
        await state.ClearStateAsync();
        state.State = new TargetState();
        LogRemoved(address);
        DeactivateOnIdle();
    }

    public async Task<ProbePermission> RequestProbe()
    {
        var now = clock.GetUtcNow();
        var cooldown = TimeSpan.FromSeconds(settings.Current.Worker.TargetCooldownSeconds);
        var last = Max(state.State.LastProbeRequestedAt, state.State.LastMeasuredAt);
        if (last is { } at && now - at < cooldown)
        {
            return new ProbePermission(false, cooldown - (now - at), state.State.LastMeasurementId);
        }
        state.State.LastProbeRequestedAt = now;
        await state.WriteStateAsync();
        return new ProbePermission(true, TimeSpan.Zero, state.State.LastMeasurementId);
    }

    public async Task OnMeasured(MeasurementSummary measurement)
    {
        var now = clock.GetUtcNow();
        (latest, latestReadAt) = (null, null);
        state.State.LastMeasuredAt = measurement.StartedAt;
        state.State.LastMeasurementId = measurement.MeasurementId;
        state.State.ProbePendingSince = null;
        if (measurement.Success)
        {
            DetectChanges(measurement, now);
            state.State.LastIpPath = [.. measurement.IpPath];
            state.State.LastAsPath = [.. measurement.AsPath];
            state.State.LastSuccessfulMeasurementId = measurement.MeasurementId;
            RememberHops(measurement.IpPath);
            if (measurement.DestinationRttMs is { } rtt)
            {
                state.State.RecentRttsMs.Add(rtt);
                if (state.State.RecentRttsMs.Count > 20)
                {
                    state.State.RecentRttsMs.RemoveAt(0);
                }
            }
        }
        if (state.State.Active)
        {
            state.State.NextDueAt = NextDue(now);
        }
        await state.WriteStateAsync();
        if (state.State.Active)
        {
            table.Upsert(Info());
        }
        if (measurement.Success && settings.Current.Worker.HopFeedbackEnabled)
        {
            FeedHops(measurement);
        }
        else
        {
            // The next call is the next measurement, an interval away, unless someone reads the
            // target (which activates it again from its state row). Hop offers still in flight keep it.
            DeactivateOnIdle();
        }
    }

    private void DetectChanges(MeasurementSummary measurement, DateTimeOffset now)
    {
        var previousId = state.State.LastSuccessfulMeasurementId;
        if (previousId is null)
        {
            return;
        }
        void Record(string kind, object before, object after, object? details = null) =>
            pathChanges.Record(new PathChangeRow(address, now, kind, previousId, measurement.MeasurementId,
                PathChangeLog.Json(before), PathChangeLog.Json(after), details is null ? null : PathChangeLog.Json(details)));

        if (PathChangeDetector.AsPathChanged(state.State.LastAsPath, measurement.AsPath))
        {
            Record("as_path", new { as_path = state.State.LastAsPath }, new { as_path = measurement.AsPath });
        }
        if (PathChangeDetector.IpPathChanged(state.State.LastIpPath, measurement.IpPath, state.State.SeenPerTtl))
        {
            Record("ip_path", new { ip_path = state.State.LastIpPath }, new { ip_path = measurement.IpPath });
        }
        if (measurement.DestinationRttMs is { } rtt && PathChangeDetector.Baseline(state.State.RecentRttsMs) is { } baseline
            && PathChangeDetector.LatencyShifted(baseline, rtt))
        {
            Record("latency", new { baseline_ms = baseline.Median, sigma_ms = baseline.Sigma, samples = state.State.RecentRttsMs.Count },
                new { rtt_ms = rtt }, new { shift_ms = rtt - baseline.Median });
        }
    }

    private void RememberHops(IReadOnlyList<string?> path)
    {
        var seen = state.State.SeenPerTtl;
        for (var i = 0; i < path.Count; i++)
        {
            while (seen.Count <= i)
            {
                seen.Add([]);
            }
            // Keep a handful per TTL: enough for ECMP fans, bounded for state size.
            if (path[i] is { } hop && (seen[i].Count < 16 || seen[i].Contains(hop)))
            {
                seen[i].Add(hop);
            }
        }
    }

    private TargetInfo Info() => new(
        address.ToString(),
        [.. state.State.Sources.Order()],
        state.State.FirstSeen,
        state.State.LastSeen,
        state.State.LastMeasuredAt,
        state.State.LastMeasurementId,
        state.State.Active ? state.State.NextDueAt : null,
        state.State.Active,
        state.State.LastIpPath,
        RttBaseline(),
        state.State.LastAsPath);

    private double? RttBaseline()
    {
        var rtts = state.State.RecentRttsMs;
        if (rtts.Count == 0)
        {
            return null;
        }
        var sorted = rtts.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static DateTimeOffset? Max(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;

    [LoggerMessage(Level = LogLevel.Information, Message = "Target {Target} accepted from {Source}")]
    private partial void LogAccepted(IPAddress target, string source);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Latest measurement of {Target} could not be read again: {Error}; serving the copy in hand")]
    private partial void LogLatestRefreshFailed(IPAddress target, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Target {Target} removed")]
    private partial void LogRemoved(IPAddress target);
}
