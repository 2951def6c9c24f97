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
/// Keyed hashes of client identifiers, for counting distinct clients. The key is random, drawn when the
/// process starts and never written anywhere, so the hashes cannot be linked to clients outside this process.
/// </summary>
public sealed class ClientKeys
{
    private readonly byte[] key = RandomNumberGenerator.GetBytes(32);

    public UInt128 KeyOf(string client)
    {
        Span<byte> hash = stackalloc byte[32];
        HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(client.Trim().ToLowerInvariant()), hash);
        return new UInt128(BitConverter.ToUInt64(hash[..8]), BitConverter.ToUInt64(hash[8..16]));
    }
}
