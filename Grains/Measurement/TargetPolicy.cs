using System.Net;
using CyberWatch.Enrichment;

namespace CyberWatch.Measurement;

/// <summary>Verdict on a proposed target.</summary>
public sealed record TargetVerdict(bool Accepted, string? Address, string? Reason)
{
    public static TargetVerdict Accept(string address) => new(true, address, null);
    public static TargetVerdict Refuse(string reason) => new(false, null, reason);
}

/// <summary>
/// Decides whether an address may be probed: a strict IP address that is globally routed, unless an
/// allow-list (<c>CyberWatch:AllowedTargetPrefixes</c>, e.g. a lab's private space) says otherwise.
/// Private, loopback, link-local, CGNAT, documentation, multicast, reserved and our own addresses are refused.
/// </summary>
public sealed class TargetPolicy(SpecialAddresses special, IReadOnlyList<IpPrefix> allowed)
{
    public const int MaxLength = 253;

    public TargetVerdict Check(string? input)
    {
        if (string.IsNullOrWhiteSpace(input))
        {
            return TargetVerdict.Refuse("a target is required");
        }
        if (input.Length > MaxLength)
        {
            return TargetVerdict.Refuse($"the target is longer than {MaxLength} characters");
        }
        if (!TargetAddress.TryCanonical(input.Trim(), out var canonical))
        {
            return TargetVerdict.Refuse($"'{Shorten(input)}' is not an IPv4 or IPv6 address");
        }
        var address = IPAddress.Parse(canonical);
        var addressClass = special.Classify(address);
        if (addressClass != AddressClass.Global && !allowed.Any(p => p.Contains(address)))
        {
            return TargetVerdict.Refuse($"{canonical} is a {addressClass.ToString().ToLowerInvariant()} address; only globally routed addresses are probed");
        }
        return TargetVerdict.Accept(canonical);
    }

    private static string Shorten(string input) => input.Length <= 64 ? input : input[..64] + "...";
}
