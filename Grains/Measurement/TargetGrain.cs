using System.Net;
using CyberWatch.Configuration;
using CyberWatch.Storage;
using CyberWatch.Vantages;
using Microsoft.Extensions.Logging;

namespace CyberWatch.Measurement;

/// <summary>
/// One measurement target. Owns its sources, its vantage selection and, per vantage point, the path history
/// its path changes are judged against. The schedule of each (target, vantage) pair is the
/// <see cref="RemeasurementSchedule"/>'s; the target's rows are written before an acceptance is acknowledged.
/// Probes go through the vantage's schedule shards or probe grain and come back through <see cref="OnMeasured"/>.
/// </summary>
// Read targets (API, UI) stay active; with a million of them, idle activations go after 2 minutes
// rather than Orleans' default 15 (reactivating costs one state read).
[CollectionAgeLimit(Minutes = 2)]
public sealed partial class TargetGrain(
    [PersistentState("target", "cyberwatch")] IPersistentState<TargetState> state,
    SettingsMonitor settings,
    TargetTable table,
    TargetPolicy policy,
    MeasurementQueries measurements,
    PathChangeLog pathChanges,
    CyberWatchOptions options,
    CyberWatch.Vantages.VantageSilos vantageSilos,
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

    /// <summary>The key of the latest measurement from any vantage in <see cref="latest"/>.</summary>
    private const string AnyVantage = "";

    private IPAddress address = IPAddress.None;
    private readonly Dictionary<string, CachedLatest> latest = new(StringComparer.Ordinal);

    private VantageSelection Selection => state.State.Vantages ?? VantageSelection.Everywhere;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = this.GetPrimaryKeyString();
        if (!TargetAddress.TryCanonical(key, out var canonical) || canonical != key)
        {
            throw new ArgumentException($"target grain key '{key}' is not a canonical IP address");
        }
        address = IPAddress.Parse(key);
        await MoveHistoryOfEarlierVersionsAsync(cancellationToken);
        await base.OnActivateAsync(cancellationToken);
    }

    public async Task<TargetAcceptance> Accept(TargetSource source, VantageSelection? vantages = null)
    {
        var verdict = policy.Check(address.ToString());
        if (!verdict.Accepted)
        {
            // The API checks first; a grain called directly (DNS, hop feedback, ASN expansion, a tool) must refuse too.
            LogRefused(address, source.ToWire(), verdict.Reason!);
            return new TargetAcceptance(false, Info([]), verdict.Reason);
        }
        var now = clock.GetUtcNow();
        var created = !state.State.Active;
        var selection = vantages ?? (created ? VantageSelection.Everywhere : Selection);
        var changed = created | state.State.Sources.Add(source) | !selection.Equals(Selection);
        state.State.LastSeen = now;
        if (changed)
        {
            state.State.FirstSeen ??= now;
            // The rows first: an acknowledged target always has its place in the schedule.
            IReadOnlyList<NewPair> pairs;
            try
            {
                pairs = await table.SaveAsync(address, state.State.Sources, state.State.FirstSeen.Value, now, selection,
                    replaceSelection: vantages is not null, CancellationToken.None);
            }
            catch
            {
                // The caller retries (the DNS intake acknowledges only after this); start from the stored state then.
                DeactivateOnIdle();
                throw;
            }
            state.State.Active = true;
            state.State.Vantages = selection;
            await state.WriteStateAsync();
            foreach (var pair in pairs)
            {
                // Due now: its shard takes it within a moment rather than at its next tick. A vantage with no
                // silo up refuses the call; its pairs wait for it.
                _ = NudgeAsync(pair);
            }
            if (created)
            {
                LogAccepted(address, source.ToWire(), pairs.Count);
            }
        }
        else
        {
            await table.TouchAsync(address, now, CancellationToken.None);
        }
        if (created)
        {
            // Nothing calls a new target again until its first probe reports back; added by the
            // hundred thousand, their activations would hold the silo's memory until collected.
            DeactivateOnIdle();
        }
        return new TargetAcceptance(created, Info([]));
    }

    private async Task NudgeAsync(NewPair pair)
    {
        if (!vantageSilos.AnyServes(pair.Vantage))
        {
            // A remote agent's vantage (its link asks for due pairs every few seconds) or one that is down.
            return;
        }
        try
        {
            await GrainFactory.GetGrain<IRemeasurementScheduleGrain>(RemeasurementSchedule.ShardKey(pair.Vantage, pair.Shard)).Nudge();
        }
        catch (Exception e)
        {
            LogNudgeFailed(address, pair.Vantage, e.Message);
        }
    }

    public async Task<TargetInfo> GetInfo() => Info(state.State.Active ? await table.PairsAsync(address, CancellationToken.None) : []);

    public async Task<LatestMeasurement?> GetLatestMeasurement(string? vantage = null)
    {
        var key = vantage ?? AnyVantage;
        if (latest.TryGetValue(key, out var cached))
        {
            if (clock.GetUtcNow() - cached.ReadAt >= LatestMeasurementMaxAge && cached.Refresh is null)
            {
                cached.Refresh = RefreshLatestAsync(key);
            }
            return cached.Measurement;
        }
        var read = await measurements.LatestWithHopsAsync(address, vantage, CancellationToken.None);
        KeepIfCurrent(key, read);
        return read;
    }

    public async Task<IReadOnlyList<LatestMeasurement>> GetLatestMeasurements()
    {
        // The newest of any vantage first: rows written by other means (an import, another tool) count too.
        var found = new List<LatestMeasurement>();
        if (await GetLatestMeasurement(null) is { } newest)
        {
            found.Add(newest);
        }
        foreach (var vantage in state.State.History.Keys.ToList())
        {
            if (found.All(m => m.Measurement.Vantage != vantage) && await GetLatestMeasurement(vantage) is { } measurement)
            {
                found.Add(measurement);
            }
        }
        return [.. found.OrderByDescending(m => m.Measurement.StartedAt).ThenByDescending(m => m.Measurement.Id)];
    }

    /// <summary>
    /// Keeps a read unless it is older than the measurement this grain was last told of (that row is
    /// not visible to the read yet); a newer row written by other means is kept.
    /// </summary>
    private void KeepIfCurrent(string key, LatestMeasurement? read)
    {
        var reported = key == AnyVantage
            ? state.State.History.Values.Max(h => h.LastMeasuredAt)
            : state.State.History.GetValueOrDefault(key)?.LastMeasuredAt;
        if (reported is null || read is not null && read.Measurement.StartedAt >= reported)
        {
            latest[key] = new CachedLatest(read, clock.GetUtcNow());
        }
    }

    private async Task RefreshLatestAsync(string key)
    {
        try
        {
            KeepIfCurrent(key, await measurements.LatestWithHopsAsync(address, key == AnyVantage ? null : key, CancellationToken.None));
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
        {
            LogLatestRefreshFailed(address, e.Message);
        }
        finally
        {
            // Whatever came of it, the next try is an age away: the copy in hand is served meanwhile.
            if (latest.TryGetValue(key, out var cached))
            {
                cached.ReadAt = clock.GetUtcNow();
                cached.Refresh = null;
            }
        }
    }

    public async Task Remove()
    {
        await table.DeleteAsync(address, CancellationToken.None);
        await state.ClearStateAsync();
        state.State = new TargetState();
        latest.Clear();
        LogRemoved(address);
        DeactivateOnIdle();
    }

    public async Task<ProbePermission> RequestProbe(string vantage)
    {
        var now = clock.GetUtcNow();
        var history = HistoryOf(vantage);
        var cooldown = TimeSpan.FromSeconds(settings.Current.Worker.TargetCooldownSeconds);
        var last = Max(history.LastProbeRequestedAt, history.LastMeasuredAt);
        if (last is { } at && now - at < cooldown)
        {
            return new ProbePermission(false, cooldown - (now - at), history.LastMeasurementId);
        }
        history.LastProbeRequestedAt = now;
        await state.WriteStateAsync();
        return new ProbePermission(true, TimeSpan.Zero, history.LastMeasurementId);
    }

    public async Task OnMeasured(MeasurementSummary measurement)
    {
        var now = clock.GetUtcNow();
        latest.Remove(measurement.Vantage);
        latest.Remove(AnyVantage);
        var history = HistoryOf(measurement.Vantage);
        if (history.LastMeasurementId is { } last && measurement.MeasurementId <= last)
        {
            // Told again (a retried report) or late: the history already moved past it. Ids grow with time, so a
            // smaller one is an older measurement and must not roll the paths back.
            return;
        }
        history.LastMeasuredAt = measurement.StartedAt;
        history.LastMeasurementId = measurement.MeasurementId;
        if (measurement.Success)
        {
            // Stored before the history moves past them (a crash cannot lose a change the history no longer
            // shows); should that fail, the history stays and the next measurement finds the change again.
            await pathChanges.StoreAsync(DetectChanges(measurement, history, now), CancellationToken.None);
            history.LastIpPath = [.. measurement.IpPath];
            history.LastAsPath = [.. measurement.AsPath];
            history.LastSuccessfulMeasurementId = measurement.MeasurementId;
            RememberHops(history, measurement.IpPath);
            if (measurement.DestinationRttMs is { } rtt)
            {
                history.RecentRttsMs.Add(rtt);
                if (history.RecentRttsMs.Count > 20)
                {
                    history.RecentRttsMs.RemoveAt(0);
                }
            }
        }
        await state.WriteStateAsync();
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

    private VantageHistory HistoryOf(string vantage)
    {
        if (!state.State.History.TryGetValue(vantage, out var history))
        {
            state.State.History[vantage] = history = new VantageHistory();
        }
        return history;
    }

    private List<PathChangeRow> DetectChanges(MeasurementSummary measurement, VantageHistory history, DateTimeOffset now)
    {
        var changes = new List<PathChangeRow>();
        var previousId = history.LastSuccessfulMeasurementId;
        if (previousId is null)
        {
            return changes;
        }
        void Record(string kind, object before, object after, object? details = null) =>
            changes.Add(new PathChangeRow(address, now, kind, previousId, measurement.MeasurementId,
                PathChangeLog.Json(before), PathChangeLog.Json(after), details is null ? null : PathChangeLog.Json(details), measurement.Vantage));

        if (PathChangeDetector.AsPathChanged(history.LastAsPath, measurement.AsPath))
        {
            Record("as_path", new { as_path = history.LastAsPath }, new { as_path = measurement.AsPath });
        }
        if (PathChangeDetector.IpPathChanged(history.LastIpPath, measurement.IpPath, history.SeenPerTtl))
        {
            Record("ip_path", new { ip_path = history.LastIpPath }, new { ip_path = measurement.IpPath });
        }
        if (measurement.DestinationRttMs is { } rtt && PathChangeDetector.Baseline(history.RecentRttsMs) is { } baseline
            && PathChangeDetector.LatencyShifted(baseline, rtt))
        {
            Record("latency", new { baseline_ms = baseline.Median, sigma_ms = baseline.Sigma, samples = history.RecentRttsMs.Count },
                new { rtt_ms = rtt }, new { shift_ms = rtt - baseline.Median });
        }
        return changes;
    }

    private static void RememberHops(VantageHistory history, IReadOnlyList<string?> path)
    {
        var seen = history.SeenPerTtl;
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

    private TargetInfo Info(IReadOnlyList<TargetVantageRow> pairs)
    {
        var perVantage = state.State.History.Keys.Union(pairs.Select(p => p.Vantage)).Order(StringComparer.Ordinal).Select(vantage =>
        {
            var pair = pairs.FirstOrDefault(p => p.Vantage == vantage);
            var history = state.State.History.GetValueOrDefault(vantage) ?? new VantageHistory();
            return new TargetVantageInfo(vantage, pair is not null, pair?.NextDueAt, history.LastMeasuredAt ?? pair?.LastMeasuredAt,
                history.LastMeasurementId ?? pair?.LastMeasurementId, history.LastIpPath, history.LastAsPath, Median(history.RecentRttsMs));
        }).ToList();
        var newest = perVantage.Where(v => v.LastMeasuredAt is not null).MaxBy(v => v.LastMeasuredAt);
        return new TargetInfo(
            address.ToString(),
            [.. state.State.Sources.Order()],
            state.State.FirstSeen,
            state.State.LastSeen,
            newest?.LastMeasuredAt,
            newest?.LastMeasurementId,
            state.State.Active ? pairs.Min(p => (DateTimeOffset?)p.NextDueAt) : null,
            state.State.Active,
            newest?.LastIpPath ?? [],
            newest?.RttBaselineMs,
            newest?.LastAsPath ?? [],
            Selection,
            perVantage);
    }

    private static double? Median(List<double> rtts)
    {
        if (rtts.Count == 0)
        {
            return null;
        }
        var sorted = rtts.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static DateTimeOffset? Max(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;

    private sealed class CachedLatest(LatestMeasurement? measurement, DateTimeOffset readAt)
    {
        public LatestMeasurement? Measurement { get; } = measurement;
        public DateTimeOffset ReadAt { get; set; } = readAt;
        public Task? Refresh { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Target {Target} accepted from {Source}, {Pairs} vantage pair(s) due now")]
    private partial void LogAccepted(IPAddress target, string source, int pairs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Target {Target} refused (offered by {Source}): {Reason}")]
    private partial void LogRefused(IPAddress target, string source, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Schedule shard of {Target} from {Vantage} not nudged: {Error}; it takes the pair at its next tick")]
    private partial void LogNudgeFailed(IPAddress target, string vantage, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Latest measurement of {Target} could not be read again: {Error}; serving the copy in hand")]
    private partial void LogLatestRefreshFailed(IPAddress target, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Target {Target} removed")]
    private partial void LogRemoved(IPAddress target);
}
