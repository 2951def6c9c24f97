using System.Net;
using System.Net.Sockets;

namespace CyberWatch.Enrichment;

/// <summary>An IXP peering LAN holding an address, and the member AS whose interface the address is, when known.</summary>
public readonly record struct IxpMatch(string Name, long? MemberAsn);

/// <summary>One IXP peering LAN.</summary>
public sealed record IxpLan(IpPrefix Prefix, int IxId, string Name);

/// <summary>
/// IXP peering LANs (PeeringDB <c>ixpfx</c>) and member interface addresses (<c>netixlan</c>), swapped whole
/// when a sync finishes. Lookups are a handful of hash probes (one per distinct prefix length), most specific first.
/// </summary>
public sealed class IxpDirectory
{
    private sealed record Snapshot(
        Dictionary<(UInt128 Network, byte Length, bool IsIPv6), IxpLan> Lans, byte[] V4Lengths, byte[] V6Lengths,
        Dictionary<UInt128, long> V4Members, Dictionary<UInt128, long> V6Members);

    private volatile Snapshot snapshot = Build([], []);

    public int LanCount => snapshot.Lans.Count;

    public int MemberCount => snapshot.V4Members.Count + snapshot.V6Members.Count;

    public DateTimeOffset? SyncedAt { get; private set; }

    public void Replace(IEnumerable<IxpLan> lans, IEnumerable<(IPAddress Address, long Asn)> members, DateTimeOffset syncedAt)
    {
        snapshot = Build(lans, members);
        SyncedAt = syncedAt;
    }

    public IxpMatch? Find(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        var s = snapshot;
        var isV6 = address.AddressFamily == AddressFamily.InterNetworkV6;
        var bits = AddressBits.ToUInt128(address);
        foreach (var length in isV6 ? s.V6Lengths : s.V4Lengths)
        {
            if (s.Lans.TryGetValue((bits & IpPrefix.Mask(length, isV6), length, isV6), out var lan))
            {
                return new IxpMatch(lan.Name, (isV6 ? s.V6Members : s.V4Members).TryGetValue(bits, out var asn) ? asn : null);
            }
        }
        return null;
    }

    private static Snapshot Build(IEnumerable<IxpLan> lans, IEnumerable<(IPAddress Address, long Asn)> members)
    {
        var byPrefix = new Dictionary<(UInt128, byte, bool), IxpLan>();
        foreach (var lan in lans)
        {
            byPrefix.TryAdd((lan.Prefix.Network, lan.Prefix.Length, lan.Prefix.IsIPv6), lan);
        }
        var v4 = new Dictionary<UInt128, long>();
        var v6 = new Dictionary<UInt128, long>();
        foreach (var (address, asn) in members)
        {
            var a = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
            (a.AddressFamily == AddressFamily.InterNetworkV6 ? v6 : v4).TryAdd(AddressBits.ToUInt128(a), asn);
        }
        return new Snapshot(byPrefix,
            byPrefix.Keys.Where(k => !k.Item3).Select(k => k.Item2).Distinct().OrderDescending().ToArray(),
            byPrefix.Keys.Where(k => k.Item3).Select(k => k.Item2).Distinct().OrderDescending().ToArray(),
            v4, v6);
    }
}
