using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;

namespace CyberWatch.Measurement.Parsing;

/// <summary>
/// Strict IP address parsing for tool output. <see cref="IPAddress.TryParse(string, out IPAddress)"/> also takes
/// "1", "1.2" or hex forms, so an RTT such as "0.834" would pass for an address; tools print only dotted quads
/// and RFC 5952 IPv6, so only those are accepted.
/// </summary>
internal static class AddressText
{
    // Longest IPv6 text form, IPv4-mapped: ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255
    private const int MaxLength = 45;

    public static bool TryParse(ReadOnlySpan<char> text, [NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        if (text.IsEmpty || text.Length > MaxLength)
            return false;
        if (text.Contains(':'))
        {
            // A zone index ("%eth0") names an interface of the vantage point, not a hop anyone else can map.
            if (text.Contains('%'))
                return false;
            return IPAddress.TryParse(text, out address) && address.AddressFamily == AddressFamily.InterNetworkV6;
        }

        int dots = 0, digits = 0;
        foreach (var c in text)
        {
            if (c == '.')
            {
                if (digits == 0)
                    return false;
                dots++;
                digits = 0;
            }
            else if (char.IsAsciiDigit(c) && ++digits <= 3)
            {
                continue;
            }
            else
            {
                return false;
            }
        }
        if (dots != 3 || digits == 0)
            return false;
        return IPAddress.TryParse(text, out address) && address.AddressFamily == AddressFamily.InterNetwork;
    }

    public static bool TryParse(ReadOnlySpan<byte> utf8, [NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        if (utf8.Length > MaxLength)
            return false;
        Span<char> text = stackalloc char[MaxLength];
        for (int i = 0; i < utf8.Length; i++)
        {
            if (utf8[i] > 0x7F)
                return false;
            text[i] = (char)utf8[i];
        }
        return TryParse(text[..utf8.Length], out address);
    }
}
