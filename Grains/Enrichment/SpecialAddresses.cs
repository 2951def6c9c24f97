using System.Net;
using System.Net.Sockets;

namespace CyberWatch.Enrichment;

/// <summary>What kind of address a hop or target is, decided before any origin-ASN lookup.</summary>
public enum AddressClass
{
    /// <summary>Globally routable unicast: worth an origin-ASN lookup.</summary>
    Global,

    /// <summary>One of this node's own addresses or prefixes.</summary>
    Own,

    /// <summary>0.0.0.0 or ::.</summary>
    Unspecified,

    /// <summary>127.0.0.0/8, ::1.</summary>
    Loopback,

    /// <summary>RFC 1918 (10/8, 172.16/12, 192.168/16), IPv6 unique local fc00::/7, NAT64 local-use 64:ff9b:1::/48.</summary>
    Private,

    /// <summary>RFC 6598 shared address space 100.64.0.0/10 (carrier-grade NAT).</summary>
    Cgnat,

    /// <summary>169.254.0.0/16, fe80::/10.</summary>
    LinkLocal,

    /// <summary>192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, 3fff::/20.</summary>
    Documentation,

    /// <summary>198.18.0.0/15, 2001:2::/48 (RFC 2544 / RFC 5180 test networks).</summary>
    Benchmarking,

    /// <summary>224.0.0.0/4, ff00::/8.</summary>
    Multicast,

    /// <summary>255.255.255.255.</summary>
    Broadcast,

    /// <summary>6to4 2002::/16 (RFC 3056): the IPv4 host is in bits 16..47.</summary>
    SixToFour,

    /// <summary>Teredo 2001::/32 (RFC 4380).</summary>
    Teredo,

    /// <summary>NAT64 well-known prefix 64:ff9b::/96 (RFC 6052): an IPv4 host behind a translator.</summary>
    Nat64,

    /// <summary>
    /// Anything else not globally routable: 0/8, 192.0.0/24, the deprecated 6to4 relay anycast
    /// 192.88.99/24, 240/4, IPv4-compatible ::/96, discard-only 100::/64, ORCHID, SRv6 SIDs 5f00::/16,
    /// site-local fec0::/10, and IPv6 space outside 2000::/3 that IANA has not allocated.
    /// </summary>
    Reserved,
}

/// <summary>
/// Classifies addresses by the IANA special-purpose registries (RFC 6890 and successors) and a set
/// of the node's own prefixes. Pure and allocation-free for the integer forms; IPv4-mapped IPv6
/// (::ffff:a.b.c.d) is classified as the IPv4 address it carries.
/// </summary>
public sealed class SpecialAddresses
{
    private readonly IpPrefix[] _own;

    /// <summary>A classifier that also recognises the node's own addresses and prefixes.</summary>
    public SpecialAddresses(IEnumerable<IpPrefix> ownPrefixes)
    {
        _own = ownPrefixes.Select(p => p.IsIPv6 && IsIPv4Mapped(p.Network) && p.Length >= 96
            ? IpPrefix.V4((uint)p.Network, p.Length - 96)
            : p).ToArray();
    }

    public SpecialAddresses(IEnumerable<IPAddress> ownAddresses)
        : this(ownAddresses.Select(a => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a)
            .Select(a => a.AddressFamily == AddressFamily.InterNetworkV6
                ? IpPrefix.V6(AddressBits.ToUInt128(a), 128)
                : IpPrefix.V4(AddressBits.ToUInt32(a), 32)))
    {
    }

    /// <summary>Classifier with no own addresses.</summary>
    public static SpecialAddresses Standard { get; } = new(Array.Empty<IpPrefix>());

    public AddressClass Classify(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return ClassifyV4(AddressBits.ToUInt32(address));
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            throw new ArgumentException($"not an IP address: {address}", nameof(address));
        }
        return ClassifyV6(AddressBits.ToUInt128(address));
    }

    public AddressClass ClassifyV4(uint address)
    {
        foreach (var own in _own)
        {
            if (!own.IsIPv6 && (address & (uint)IpPrefix.Mask(own.Length, false)) == (uint)own.Network)
            {
                return AddressClass.Own;
            }
        }
        return StandardV4(address);
    }

    public AddressClass ClassifyV6(UInt128 address)
    {
        if (IsIPv4Mapped(address))
        {
            return ClassifyV4((uint)address);
        }
        foreach (var own in _own)
        {
            if (own.IsIPv6 && (address & IpPrefix.Mask(own.Length, true)) == own.Network)
            {
                return AddressClass.Own;
            }
        }
        return StandardV6(address);
    }

    /// <summary>Class of an IPv4 address (host order) by the IANA registry alone.</summary>
    public static AddressClass StandardV4(uint a)
    {
        switch (a >> 24)
        {
            case 0:
                return a == 0 ? AddressClass.Unspecified : AddressClass.Reserved;
            case 10:
                return AddressClass.Private;
            case 100 when (a & 0xFFC0_0000) == 0x6440_0000:
                return AddressClass.Cgnat;
            case 127:
                return AddressClass.Loopback;
            case 169 when (a & 0xFFFF_0000) == 0xA9FE_0000:
                return AddressClass.LinkLocal;
            case 172 when (a & 0xFFF0_0000) == 0xAC10_0000:
                return AddressClass.Private;
            case 192:
                switch (a & 0xFFFF_FF00)
                {
                    case 0xC000_0000: return AddressClass.Reserved; // 192.0.0.0/24 IETF protocol assignments
                    case 0xC000_0200: return AddressClass.Documentation; // 192.0.2.0/24 TEST-NET-1
                    case 0xC058_6300: return AddressClass.Reserved; // 192.88.99.0/24 6to4 relay anycast, deprecated (RFC 7526)
                }
                return (a & 0xFFFF_0000) == 0xC0A8_0000 ? AddressClass.Private : AddressClass.Global;
            case 198:
                if ((a & 0xFFFE_0000) == 0xC612_0000)
                {
                    return AddressClass.Benchmarking; // 198.18.0.0/15
                }
                return (a & 0xFFFF_FF00) == 0xC633_6400 ? AddressClass.Documentation : AddressClass.Global; // 198.51.100.0/24
            case 203 when (a & 0xFFFF_FF00) == 0xCB00_7100:
                return AddressClass.Documentation; // 203.0.113.0/24
            case >= 224 and <= 239:
                return AddressClass.Multicast;
            case >= 240:
                return a == uint.MaxValue ? AddressClass.Broadcast : AddressClass.Reserved;
            default:
                return AddressClass.Global;
        }
    }

    /// <summary>Class of an IPv6 address by the IANA registry alone (IPv4-mapped addresses are classified as IPv4).</summary>
    public static AddressClass StandardV6(UInt128 a)
    {
        var top64 = (ulong)(a >> 64);
        var top16 = (uint)(top64 >> 48);
        if (top64 == 0)
        {
            var low = (ulong)a;
            if (low == 0)
            {
                return AddressClass.Unspecified;
            }
            if (low == 1)
            {
                return AddressClass.Loopback;
            }
            return (low >> 32) == 0xFFFF ? StandardV4((uint)low) : AddressClass.Reserved; // ::/96 IPv4-compatible, deprecated
        }
        if ((top16 & 0xE000) == 0x2000)
        {
            // 2000::/3, global unicast, with its special blocks.
            if (top16 == 0x2001 && (uint)(top64 >> 32 & 0xFFFF) < 0x0200)
            {
                return IetfProtocolAssignment(top64);
            }
            if (top16 == 0x2002)
            {
                return AddressClass.SixToFour;
            }
            if (top16 == 0x2001 && (uint)(top64 >> 32 & 0xFFFF) == 0x0db8)
            {
                return AddressClass.Documentation; // 2001:db8::/32
            }
            if (top16 == 0x3fff && (uint)(top64 >> 44 & 0xF) == 0)
            {
                return AddressClass.Documentation; // 3fff::/20 (RFC 9637)
            }
            return AddressClass.Global;
        }
        if (top16 == 0x0064 && (top64 >> 32) == 0x0064_ff9b)
        {
            if ((top64 & 0xFFFF_FFFF) == 0 && (ulong)a >> 32 == 0)
            {
                return AddressClass.Nat64; // 64:ff9b::/96
            }
            if ((top64 >> 16) == 0x0064_ff9b_0001)
            {
                return AddressClass.Private; // 64:ff9b:1::/48 local-use translation
            }
            return AddressClass.Reserved;
        }
        if ((top16 & 0xFE00) == 0xFC00)
        {
            return AddressClass.Private; // fc00::/7
        }
        if ((top16 & 0xFFC0) == 0xFE80)
        {
            return AddressClass.LinkLocal; // fe80::/10
        }
        if ((top16 & 0xFF00) == 0xFF00)
        {
            return AddressClass.Multicast;
        }
        // fec0::/10 site-local (deprecated), 100::/64 discard-only, 5f00::/16 SRv6 SIDs, and unallocated space.
        return AddressClass.Reserved;
    }

    /// <summary>2001::/23: a few globally reachable services, two special classes, the rest reserved.</summary>
    private static AddressClass IetfProtocolAssignment(ulong top64)
    {
        var second = (uint)(top64 >> 32) & 0xFFFF;
        var third = (uint)(top64 >> 16) & 0xFFFF;
        return second switch
        {
            0x0000 => AddressClass.Teredo, // 2001::/32
            0x0001 => AddressClass.Global, // 2001:1::1/128 PCP, 2001:1::2/128 TURN anycast
            0x0002 when third == 0 => AddressClass.Benchmarking, // 2001:2::/48
            0x0003 => AddressClass.Global, // 2001:3::/32 AMT
            0x0004 when third == 0x0112 => AddressClass.Global, // 2001:4:112::/48 AS112-v6
            _ => AddressClass.Reserved, // incl. ORCHID 2001:10::/28 and ORCHIDv2 2001:20::/28
        };
    }

    private static bool IsIPv4Mapped(UInt128 address) => (address >> 32) == 0xFFFF;
}
