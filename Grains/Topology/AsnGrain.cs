namespace CyberWatch.Topology;

/// <summary>One AS (key: the ASN): neighbor sets, measurements through it, first-hop RTT mean, first/last seen.</summary>
public sealed class AsnGrain(
    [PersistentState("asn", "cyberwatch")] IPersistentState<AsnState> state,
    TopologyFeed feed) : Grain, IAsnGrain
{
    private long asn;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        asn = this.GetPrimaryKeyLong();
        if (asn is < 0 or > AsEdgeKey.MaxAsn)
        {
            throw new ArgumentException($"ASN grain key {asn} is not an ASN (0..4294967295)");
        }
        return base.OnActivateAsync(cancellationToken);
    }

    public async Task<AsnObservationResult> Observe(AsnObservation observation)
    {
        var s = state.State;
        if (!RecentMeasurements.Add(s.RecentMeasurements, observation.MeasurementId))
        {
            return new AsnObservationResult(false, Info());
        }
        s.MeasurementCount++;
        if (observation.FirstHopRttMs is { } rtt && double.IsFinite(rtt) && rtt >= 0)
        {
            s.RttSumMs += rtt;
            s.RttCount++;
        }
        s.FirstSeen = s.FirstSeen is { } first && first <= observation.ObservedAt ? first : observation.ObservedAt;
        s.LastSeen = s.LastSeen is { } last && last >= observation.ObservedAt ? last : observation.ObservedAt;
        s.InNeighbors.UnionWith(observation.InNeighbors.Where(n => n != asn));
        s.OutNeighbors.UnionWith(observation.OutNeighbors.Where(n => n != asn));
        s.OrgName = observation.OrgName ?? s.OrgName;
        s.Country = observation.Country ?? s.Country;
        await state.WriteStateAsync();
        var info = Info();
        feed.AsnChanged(info);
        return new AsnObservationResult(true, info);
    }

    public Task<AsnInfo> GetInfo() => Task.FromResult(Info());

    private AsnInfo Info()
    {
        var s = state.State;
        return new AsnInfo(asn, s.OrgName, s.Country, s.MeasurementCount, s.RttCount > 0 ? s.RttSumMs / s.RttCount : null,
            s.FirstSeen, s.LastSeen, [.. s.InNeighbors], [.. s.OutNeighbors]);
    }
}
