using System.Security.Cryptography;
using System.Text;

namespace CyberWatch.Dns;

/// <summary>How a domain is written outside the collector: as is, as an HMAC-SHA256, or not at all.</summary>
public sealed class DomainKeys
{
    private readonly byte[]? key;

    public DomainKeys(DomainPolicy policy, string? hmacKey)
    {
        Policy = policy;
        if (policy == DomainPolicy.Hashed)
        {
            key = Encoding.UTF8.GetBytes(hmacKey ?? throw new ArgumentException("hashed domains need an HMAC key", nameof(hmacKey)));
        }
    }

    public DomainPolicy Policy { get; }

    public string PolicyName => Policy.ToString().ToLowerInvariant();

    public string KeyOf(string domain) => Policy switch
    {
        DomainPolicy.Plain => domain,
        DomainPolicy.Hashed => Convert.ToHexStringLower(HMACSHA256.HashData(key!, Encoding.UTF8.GetBytes(domain))),
        _ => "",
    };
}

/// <summary>
/// Keyed hashes of devices (canonical client addresses, see <see cref="ClientKeys.Device"/>), for counting distinct clients. The key is random, drawn when the
/// process starts and never written anywhere, so the hashes cannot be linked to clients outside this process.
/// </summary>
public sealed class ClientKeys(int ipv6DevicePrefix = 64)
{
    private readonly byte[] key = RandomNumberGenerator.GetBytes(32);

    /// <summary>The keyed hash of the device behind a client address: one device is one client, however it writes its address.</summary>
    public UInt128 KeyOf(string client)
    {
        Span<byte> hash = stackalloc byte[32];
        HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(Device(client, ipv6DevicePrefix)), hash);
        return new UInt128(BitConverter.ToUInt64(hash[..8]), BitConverter.ToUInt64(hash[8..16]));
    }

    /// <summary>
    /// The canonical device of a client address: an IPv4-mapped IPv6 address is its IPv4 address, a zone
    /// (<c>fe80::1%eth0</c>) is dropped, and an IPv6 address stands for its /<paramref name="ipv6Prefix"/> (64 by
    /// default: privacy extensions give one device many addresses in its /64). What is not an address (a host
    /// name some resolvers log) is itself, lower-cased.
    /// </summary>
    public static string Device(string client, int ipv6Prefix = 64)
    {
        var text = client.Trim();
        var zone = text.IndexOf('%');
        if (zone >= 0)
        {
            text = text[..zone];
        }
        if (!System.Net.IPAddress.TryParse(text.Trim('[', ']'), out var address))
        {
            return client.Trim().ToLowerInvariant();
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }
        address.ScopeId = 0;
        var bytes = address.GetAddressBytes();
        for (var bit = ipv6Prefix; bit < 128; bit++)
        {
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }
        return $"{new System.Net.IPAddress(bytes)}/{ipv6Prefix}";
    }
}
