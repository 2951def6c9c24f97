namespace CyberWatch.Topology;

/// <summary>
/// One directed AS edge (key <c>A-&gt;B</c>): counts crossings (direct and indirect apart), keeps RTT extremes and
/// mean, vantages and IXP. An indirect crossing never hides a direct one: the edge is direct once seen directly.
/// </summary>
public sealed class AsEdgeGrain(
    [PersistentState("asEdge", "cyberwatch")] IPersistentState<AsEdgeState> state,
    TopologyFeed feed) : Grain, IAsEdgeGrain
{
    public const int MaxVantages = 64;

    private long src;
    private long dst;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (!AsEdgeKey.TryParse(this.GetPrimaryKeyString(), out src, out dst))
        {
            throw new ArgumentException($"AS edge grain key '{this.GetPrimaryKeyString()}' is not 'A->B' with two different ASNs");
        }
        var s = state.State;
        if (s.ObservedCount > s.DirectCount + s.IndirectCount)
        {
            // Kept before indirect crossings were recorded, when only direct ones were.
            s.DirectCount = s.ObservedCount - s.IndirectCount;
        }
        return base.OnActivateAsync(cancellationToken);
    }

    public Task<AsEdgeStats> Observe(AsEdgeObservation observation) => ObserveAll([observation]);

    public async Task<AsEdgeStats> ObserveAll(IReadOnlyList<AsEdgeObservation> observations)
    {
        var counted = false;
        foreach (var observation in observations)
        {
            counted |= Count(observation);
        }
        if (!counted)
        {
            return Stats()!;
        }
        // One write for the lot: an edge every path crosses is observed by the hundred a second.
        await state.WriteStateAsync();
        var stats = Stats()!;
        feed.EdgeChanged(stats);
        return stats;
    }

    private bool Count(AsEdgeObservation observation)
    {
        if (observation.SrcAsn != src || observation.DstAsn != dst)
        {
            throw new ArgumentException($"observation of {observation.SrcAsn}->{observation.DstAsn} sent to edge {src}->{dst}");
        }
        var s = state.State;
        if (!RecentMeasurements.Add(s.RecentMeasurements, observation.MeasurementId))
        {
            return false;
        }
        s.ObservedCount++;
        if (observation.Kind == AsLinkKind.Indirect)
        {
            s.IndirectCount++;
            s.MinGapHops = s.MinGapHops is { } fewest ? Math.Min(fewest, observation.GapHops) : observation.GapHops;
        }
        else
        {
            s.DirectCount++;
        }
        if (observation.RttMs is { } rtt && double.IsFinite(rtt) && rtt >= 0)
        {
            s.MinRttMs = s.MinRttMs is { } min ? Math.Min(min, rtt) : rtt;
            s.MaxRttMs = s.MaxRttMs is { } max ? Math.Max(max, rtt) : rtt;
            s.RttSumMs += rtt;
            s.RttCount++;
        }
        s.FirstSeen = s.FirstSeen is { } first && first <= observation.ObservedAt ? first : observation.ObservedAt;
        if (s.LastSeen is not { } last || observation.ObservedAt >= last)
        {
            s.LastSeen = observation.ObservedAt;
            // The latest crossing names the IXP: an edge can move between exchanges (or to a private interconnect).
            s.Ixp = observation.Ixp ?? s.Ixp;
        }
        if (s.Vantages.Count < MaxVantages)
        {
            s.Vantages.Add(observation.Vantage);
        }
        return true;
    }

    public Task<AsEdgeStats?> GetStats() => Task.FromResult(Stats());

    private AsEdgeStats? Stats()
    {
        var s = state.State;
        if (s.FirstSeen is not { } first || s.LastSeen is not { } last)
        {
            return null;
        }
        return new AsEdgeStats(src, dst, s.ObservedCount, s.MinRttMs, s.RttCount > 0 ? s.RttSumMs / s.RttCount : null, s.MaxRttMs,
            first, last, s.Ixp, [.. s.Vantages], s.DirectCount, s.IndirectCount, s.MinGapHops);
    }
}
