using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace CyberWatch.Vantages;

/// <summary>
/// Places a grain keyed "{vantage}" or "{vantage}/{...}" on a silo serving that vantage point, and on no
/// other: a probe "from there" must leave from there. Each silo publishes its vantage as silo metadata
/// (<see cref="MetadataKey"/>), which every silo caches from the membership. Orleans' own
/// <c>SiloRoleBasedPlacement</c> needs a membership provider that stores roles (ADO.NET's does not), and
/// its metadata filters fall back to any silo when none matches; here no matching silo means the call fails.
/// </summary>
[GenerateSerializer, Immutable]
public sealed class VantagePlacement : PlacementStrategy
{
    public const string MetadataKey = "cyberwatch.vantage";

    internal static readonly VantagePlacement Instance = new();
}

/// <summary>Places the grain class with <see cref="VantagePlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class VantagePlacementAttribute() : PlacementAttribute(VantagePlacement.Instance);

/// <summary>Chooses this silo when it serves the grain's vantage, else a random silo that does.</summary>
public sealed class VantagePlacementDirector(ISiloMetadataCache metadata) : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var vantage = VantageNames.OfKey(target.GrainIdentity.Key.ToString()!);
        var candidates = context.GetCompatibleSilos(target).Where(silo => Serves(silo, vantage)).ToArray();
        if (candidates.Length == 0)
        {
            throw new VantageUnavailableException(vantage);
        }
        return Task.FromResult(candidates.Contains(context.LocalSilo) ? context.LocalSilo : candidates[Random.Shared.Next(candidates.Length)]);
    }

    private bool Serves(SiloAddress silo, string vantage) =>
        metadata.GetSiloMetadata(silo).Metadata.TryGetValue(VantagePlacement.MetadataKey, out var served)
        && string.Equals(served, vantage, StringComparison.Ordinal);
}

/// <summary>
/// Whether an active silo serves a vantage point, read from the silo metadata <see cref="VantagePlacementDirector"/>
/// places by: a nudge for a vantage no silo serves (a remote agent's, whose link polls its pairs, or a vantage that is
/// down) is not sent to a grain that cannot be placed.
/// </summary>
public sealed class VantageSilos(IClusterMembershipService membership, ISiloMetadataCache metadata)
{
    public bool AnyServes(string vantage) => membership.CurrentSnapshot.Members.Values.Any(member =>
        member.Status == SiloStatus.Active
        && metadata.GetSiloMetadata(member.SiloAddress).Metadata.TryGetValue(VantagePlacement.MetadataKey, out var served)
        && string.Equals(served, vantage, StringComparison.Ordinal));
}
