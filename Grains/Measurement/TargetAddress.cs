using System.Net;
using System.Net.Sockets;

namespace CyberWatch.Measurement;

/// <summary>Strict parsing of target addresses: only what <see cref="IPAddress"/> prints back the same way.</summary>
public static class TargetAddress
{
    /// <summary>
    /// Parses an IPv4 dotted quad or an IPv6 address (no zone, no shorthand like <c>127.1</c> or a bare
    /// number) and returns its canonical text form, which is also the target grain's key.
    /// </summary>
    public static bool TryCanonical(string? text, out string canonical)
    {
        canonical = "";
        if (string.IsNullOrEmpty(text) || text.Length > 45 || text.Contains('%'))
        {
            return false;
        }
        if (!IPAddress.TryParse(text, out var address))
        {
            return false;
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily == AddressFamily.InterNetwork && address.ToString() != text)
        {
            // "127.1", "2130706433" and "0x7f.0.0.1" parse as IPv4 but are not what a user means.
            return false;
        }
        canonical = address.ToString();
        return true;
    }

    /// <summary>True for addresses we may probe on our own initiative (globally routed unicast).</summary>
    public static bool IsProbeable(string text) =>
        TryCanonical(text, out var canonical) && IsProbeable(IPAddress.Parse(canonical));

    public static bool IsProbeable(IPAddress address) =>
        CyberWatch.Enrichment.SpecialAddresses.Standard.Classify(address) == CyberWatch.Enrichment.AddressClass.Global;
}
