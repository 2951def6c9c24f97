using CyberWatch.Enrichment;
using CyberWatch.Enrichment.Online;

namespace CyberWatch.Topology;

/// <summary>
/// One AS (key: the ASN): neighbor sets, measurements through it, first-hop RTT mean, first/last seen, and
/// the registry metadata of the online sources, refreshed in the background at most once per TTL.
/// </summary>
public sealed class AsnGrain(
    [PersistentState("asn", "cyberwatch")] IPersistentState<AsnState> state,
    TopologyFeed feed,
    TimeProvider? clock = null,
    AsnMetadataRefresher? metadataRefresher = null) : Grain, IAsnGrain
{
    private long asn;
    private DateTimeOffset? metadataRequestedAt;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        asn = this.GetPrimaryKeyLong();
        if (asn is < 0 or > AsEdgeKey.MaxAsn)
        {
            throw new ArgumentException($"ASN grain key {asn} is not an ASN (0..4294967295)");
        }
        return base.OnActivateAsync(cancellationToken);
    }

    public async Task<AsnObservationResult> Observe(AsnObservation observation) =>
        new((await ObserveAll([observation])).Counted[0], Info());

    public async Task<AsnObservationsResult> ObserveAll(IReadOnlyList<AsnObservation> observations)
    {
        var counted = new bool[observations.Count];
        for (var i = 0; i < observations.Count; i++)
        {
            counted[i] = Count(observations[i]);
        }
        if (!counted.Contains(true))
        {
            return new AsnObservationsResult(counted, Info());
        }
        // One write for the lot: the vantage's own AS is in every path.
        await state.WriteStateAsync();
        var info = Info();
        feed.AsnChanged(info);
        RequestMetadataWhenDue();
        return new AsnObservationsResult(counted, info);
    }

    private bool Count(AsnObservation observation)
    {
        var s = state.State;
        if (!RecentMeasurements.Add(s.RecentMeasurements, observation.MeasurementId))
        {
            return false;
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
        return true;
    }

    public Task<AsnInfo> GetInfo() => Task.FromResult(Info());

    public Task<AsnMetadata?> GetMetadata()
    {
        RequestMetadataWhenDue();
        return Task.FromResult(state.State.Metadata);
    }

    public async Task ApplyMetadata(AsnMetadata metadata)
    {
        if (metadata.Asn != asn)
        {
            throw new ArgumentException($"metadata of AS{metadata.Asn} given to AS{asn}", nameof(metadata));
        }
        if (state.State.Metadata is { } held && held.LastEnriched > metadata.LastEnriched)
        {
            return;
        }
        state.State.Metadata = metadata;
        await state.WriteStateAsync();
    }

    /// <summary>Asks the refresher (never waits for it) when the metadata is missing or older than the TTL.</summary>
    private void RequestMetadataWhenDue()
    {
        if (metadataRefresher is not { Enabled: true })
        {
            return;
        }
        var now = (clock ?? TimeProvider.System).GetUtcNow();
        if (state.State.Metadata is { } held && now - held.LastEnriched < metadataRefresher.Ttl)
        {
            return;
        }
        if (metadataRequestedAt is { } asked && now - asked < metadataRefresher.RetryAfter)
        {
            return;
        }
        metadataRequestedAt = now;
        metadataRefresher.Request(asn);
    }

    private AsnInfo Info()
    {
        var s = state.State;
        return new AsnInfo(asn, s.OrgName, s.Country, s.MeasurementCount, s.RttCount > 0 ? s.RttSumMs / s.RttCount : null,
            s.FirstSeen, s.LastSeen, [.. s.InNeighbors], [.. s.OutNeighbors]);
    }
}
