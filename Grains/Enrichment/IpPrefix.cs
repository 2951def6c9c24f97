using System.Runtime.CompilerServices;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace CyberWatch.Enrichment;

/// <summary>
/// An IPv4 or IPv6 prefix held as integers (IPv4 in the low 32 bits of <see cref="Network"/>), so that
/// tables of hundreds of thousands of prefixes need no <see cref="IPAddress"/> objects.
/// Host bits are always zero.
/// </summary>
public readonly record struct IpPrefix
{
    public IpPrefix(UInt128 network, int length, bool isIPv6)
    {
        var width = isIPv6 ? 128 : 32;
        if ((uint)length > (uint)width)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"prefix length must be 0..{width}");
        }
        if (!isIPv6 && network > uint.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(network), "an IPv4 network must fit in 32 bits");
        }
        Network = network & Mask(length, isIPv6);
        Length = (byte)length;
        IsIPv6 = isIPv6;
    }

    public UInt128 Network { get; }
    public byte Length { get; }
    public bool IsIPv6 { get; }

    /// <summary>Last address covered by the prefix.</summary>
    public UInt128 LastAddress => Network | (~Mask(Length, IsIPv6) & (IsIPv6 ? UInt128.MaxValue : uint.MaxValue));

    public static IpPrefix V4(uint network, int length) => new(network, length, false);

    public static IpPrefix V6(UInt128 network, int length) => new(network, length, true);

    public bool Contains(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        var isV6 = address.AddressFamily == AddressFamily.InterNetworkV6;
        return isV6 == IsIPv6 && (AddressBits.ToUInt128(address) & Mask(Length, IsIPv6)) == Network;
    }

    /// <summary>Parses <c>address/length</c>; host bits set below the length are cleared, as pyasn and routers do.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out IpPrefix prefix)
    {
        prefix = default;
        var slash = text.IndexOf('/');
        if (slash <= 0 || !AddressBits.TryParse(text[..slash], out var value, out var isV6))
        {
            return false;
        }
        var lengthText = text[(slash + 1)..];
        if (lengthText.IsEmpty || lengthText.Length > 3 || !int.TryParse(lengthText, System.Globalization.NumberStyles.None, null, out var length)
            || length > (isV6 ? 128 : 32))
        {
            return false;
        }
        prefix = new IpPrefix(value, length, isV6);
        return true;
    }

    public static IpPrefix Parse(string text) =>
        TryParse(text, out var prefix) ? prefix : throw new FormatException($"not a prefix: '{text}'");

    public IPAddress NetworkAddress => IsIPv6 ? AddressBits.FromUInt128(Network) : AddressBits.FromUInt32((uint)Network);

    public IPNetwork ToIPNetwork() => new(NetworkAddress, Length);

    public override string ToString() => $"{NetworkAddress}/{Length}";

    internal static UInt128 Mask(int length, bool isIPv6)
    {
        if (isIPv6)
        {
            return length == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - length);
        }
        return length == 0 ? UInt128.Zero : (UInt128)(uint.MaxValue << (32 - length));
    }
}

/// <summary>Conversions between <see cref="IPAddress"/> and the integers the prefix table works on, and a strict address parser.</summary>
public static class AddressBits
{
    public static uint ToUInt32(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException($"not an IPv4 address: {address}", nameof(address));
        }
        // Address is obsolete only because it cannot hold IPv6; for IPv4 it is the stored value
        // (network order in memory), read without copying bytes out, on the path of every lookup.
#pragma warning disable CS0618
        var stored = (uint)address.Address;
#pragma warning restore CS0618
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(stored) : stored;
    }

    /// <summary>The address as an integer: IPv6 in 128 bits, IPv4 in the low 32.</summary>
    public static UInt128 ToUInt128(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        return written == 4 ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }

    public static IPAddress FromUInt32(uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return new IPAddress(bytes);
    }

    public static IPAddress FromUInt128(UInt128 value)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, value);
        return new IPAddress(bytes);
    }

    /// <summary>
    /// Parses an address strictly: IPv4 only as four decimal octets without leading zeros (unlike
    /// <see cref="IPAddress.TryParse(string, out IPAddress)"/>, which reads "1.2.3" as 1.2.0.3), IPv6 in any RFC 4291 form.
    /// An IPv4-mapped IPv6 address stays IPv6 here; callers decide whether to unwrap it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryParse(ReadOnlySpan<char> text, out UInt128 value, out bool isIPv6)
    {
        // IPv4 first: it fails within the first few characters of an IPv6 address, and spares IPv4,
        // the common case, a scan for ':'.
        if (TryParseIPv4(text, out var v4))
        {
            isIPv6 = false;
            value = v4;
            return true;
        }
        isIPv6 = text.IndexOf(':') >= 0;
        value = default;
        if (!isIPv6)
        {
            return false;
        }
        if (text.IndexOf('%') < 0)
        {
            return TryParseIPv6(text, out value);
        }
        // A zone (fe80::1%eth0) is rare in data; let the framework read it and drop the zone.
        if (!IPAddress.TryParse(text, out var address) || address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return false;
        }
        value = ToUInt128(address);
        return true;
    }

    private static ReadOnlySpan<byte> HexDigitValues =>
    [
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 255, 255, 255, 255, 255, 255,
        255, 10, 11, 12, 13, 14, 15, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 10, 11, 12, 13, 14, 15, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    ];

    /// <summary>
    /// RFC 4291 text form of an IPv6 address without a zone: eight groups of 1-4 hex digits, at most
    /// one <c>::</c> standing for one or more zero groups, optionally ending in a dotted IPv4 address.
    /// Several times faster than <see cref="IPAddress.TryParse(ReadOnlySpan{char}, out IPAddress)"/>, and allocates nothing.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryParseIPv6(ReadOnlySpan<char> text, out UInt128 value)
    {
        value = default;
        if (text.Length < 2 || text.Length > 45)
        {
            return false;
        }
        Span<ushort> groups = stackalloc ushort[8];
        int count = 0, gap = -1, i = 0;
        if (text[0] == ':')
        {
            if (text[1] != ':')
            {
                return false;
            }
            gap = 0;
            i = 2;
        }
        while (i < text.Length)
        {
            var start = i;
            uint group = 0;
            // A table, not comparisons: hex digits mixing letters and numbers would mispredict a branch per character.
            var hex = HexDigitValues;
            while (i < text.Length && i - start < 5)
            {
                var c = text[i];
                uint digit;
                if (c >= 128 || (digit = hex[c]) > 15)
                {
                    break;
                }
                group = group << 4 | digit;
                i++;
            }
            if (i < text.Length && text[i] == '.')
            {
                // A dotted IPv4 tail fills the last two groups.
                if ((gap < 0 ? count != 6 : count > 5) || !TryParseIPv4(text[start..], out var v4))
                {
                    return false;
                }
                groups[count++] = (ushort)(v4 >> 16);
                groups[count++] = (ushort)v4;
                break;
            }
            var digits = i - start;
            if (digits is 0 or > 4 || count == 8)
            {
                return false;
            }
            groups[count++] = (ushort)group;
            if (i == text.Length)
            {
                break;
            }
            if (text[i] != ':')
            {
                return false;
            }
            i++;
            if (i == text.Length)
            {
                return false; // a trailing single ':'
            }
            if (text[i] == ':')
            {
                if (gap >= 0)
                {
                    return false;
                }
                gap = count;
                i++;
            }
        }
        if (gap < 0 ? count != 8 : count > 7)
        {
            return false;
        }
        if (gap >= 0 && count < 8)
        {
            // Move the groups after '::' to the end; the ones between become zero.
            var after = count - gap;
            groups.Slice(gap, after).CopyTo(groups[(8 - after)..]);
            groups.Slice(gap, 8 - count).Clear();
        }
        var high = (ulong)groups[0] << 48 | (ulong)groups[1] << 32 | (ulong)groups[2] << 16 | groups[3];
        var low = (ulong)groups[4] << 48 | (ulong)groups[5] << 32 | (ulong)groups[6] << 16 | groups[7];
        var result = new UInt128(high, low);
        value = result;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryParseIPv4(ReadOnlySpan<char> text, out uint value)
    {
        // One pass, one branch per character: this sits on the lookup path of every address read as text.
        uint result = 0, octet = 0;
        int digits = 0, dots = 0;
        foreach (var c in text)
        {
            var digit = (uint)(c - '0');
            if (digit <= 9)
            {
                if (digits == 3 || (digits == 1 && octet == 0))
                {
                    value = 0;
                    return false; // a fourth digit, or a leading zero
                }
                octet = octet * 10 + digit;
                digits++;
            }
            else if (c == '.' && digits > 0 && octet <= 255 && dots < 3)
            {
                result = result << 8 | octet;
                octet = 0;
                digits = 0;
                dots++;
            }
            else
            {
                value = 0;
                return false;
            }
        }
        if (dots != 3 || digits == 0 || octet > 255)
        {
            value = 0;
            return false;
        }
        value = result << 8 | octet;
        return true;
    }

    /// <summary>Byte (ASCII) form of <see cref="TryParse(ReadOnlySpan{char}, out UInt128, out bool)"/>, for loaders that never decode lines to strings.</summary>
    public static bool TryParse(ReadOnlySpan<byte> text, out UInt128 value, out bool isIPv6)
    {
        isIPv6 = text.IndexOf((byte)':') >= 0;
        if (!isIPv6)
        {
            var ok = TryParseIPv4(text, out var v4);
            value = v4;
            return ok;
        }
        value = default;
        if (text.Length > 64)
        {
            return false;
        }
        Span<char> chars = stackalloc char[text.Length];
        for (var i = 0; i < text.Length; i++)
        {
            chars[i] = (char)text[i];
        }
        return TryParse(chars, out value, out _);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryParseIPv4(ReadOnlySpan<byte> text, out uint value)
    {
        uint result = 0, octet = 0;
        int digits = 0, dots = 0;
        foreach (var c in text)
        {
            var digit = (uint)(c - '0');
            if (digit <= 9)
            {
                if (digits == 3 || (digits == 1 && octet == 0))
                {
                    value = 0;
                    return false;
                }
                octet = octet * 10 + digit;
                digits++;
            }
            else if (c == '.' && digits > 0 && octet <= 255 && dots < 3)
            {
                result = result << 8 | octet;
                octet = 0;
                digits = 0;
                dots++;
            }
            else
            {
                value = 0;
                return false;
            }
        }
        if (dots != 3 || digits == 0 || octet > 255)
        {
            value = 0;
            return false;
        }
        value = result << 8 | octet;
        return true;
    }
}

internal static class PrefixText
{
    /// <summary>ASCII <c>address/length</c> with host bits cleared; the length must fit the family.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryParse(ReadOnlySpan<byte> text, out IpPrefix prefix)
    {
        prefix = default;
        var slash = text.IndexOf((byte)'/');
        if (slash <= 0 || !AddressBits.TryParse(text[..slash], out var value, out var isV6)
            || !TryParseLength(text[(slash + 1)..], isV6, out var length))
        {
            return false;
        }
        prefix = new IpPrefix(value, length, isV6);
        return true;
    }

    public static bool TryParseLength(ReadOnlySpan<byte> text, bool isV6, out int length)
    {
        length = 0;
        if (text.IsEmpty || text.Length > 3)
        {
            return false;
        }
        foreach (var b in text)
        {
            if ((uint)(b - '0') > 9)
            {
                return false;
            }
            length = length * 10 + (b - '0');
        }
        return length <= (isV6 ? 128 : 32);
    }
}
