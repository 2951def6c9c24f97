using System.Net;
using CyberWatch.Enrichment;
using DnsClient;
using DnsClient.Protocol;

namespace CyberWatch.Dns;

/// <summary>
/// Resolves released domains to A and AAAA addresses with DnsClient (bounded by a timeout and a number
/// of addresses). Answers in private, loopback or any other special range are dropped, unless an
/// operator's prefix allows them (a lab).
/// </summary>
public sealed class DomainResolver
{
    private readonly ILookupClient lookup;
    private readonly int maxAddresses;
    private readonly IReadOnlyList<IpPrefix> allowed;

    public DomainResolver(DnsCollectorConfig.ResolutionSection resolution, IReadOnlyList<IpPrefix> allowed)
    {
        var servers = resolution.Servers.Select(ParseServer).ToArray();
        var options = servers.Length > 0 ? new LookupClientOptions(servers) : new LookupClientOptions();
        options.Timeout = TimeSpan.FromMilliseconds(resolution.TimeoutMs);
        options.Retries = 1;
        options.UseCache = true;
        options.ThrowDnsErrors = false;
        options.ContinueOnDnsError = false;
        lookup = new LookupClient(options);
        maxAddresses = resolution.MaxIpsPerDomain;
        this.allowed = allowed;
    }

    public long DroppedSpecial { get; private set; }

    public async Task<IReadOnlyList<string>> ResolveAsync(string domain, CancellationToken cancellationToken)
    {
        var v4 = lookup.QueryAsync(domain, QueryType.A, cancellationToken: cancellationToken);
        var v6 = lookup.QueryAsync(domain, QueryType.AAAA, cancellationToken: cancellationToken);
        var addresses = new List<IPAddress>();
        foreach (var task in new[] { v4, v6 })
        {
            try
            {
                var response = await task;
                addresses.AddRange(response.Answers.OfType<ARecord>().Select(a => a.Address));
                addresses.AddRange(response.Answers.OfType<AaaaRecord>().Select(a => a.Address));
            }
            catch (DnsResponseException)
            {
                // timeout or unreachable resolver for this family: the other may still answer
            }
        }
        var kept = new List<string>();
        foreach (var address in addresses.Distinct())
        {
            if (!IsTarget(address))
            {
                DroppedSpecial++;
                continue;
            }
            if (kept.Count < maxAddresses)
            {
                kept.Add(address.ToString());
            }
        }
        return kept;
    }

    public bool IsTarget(IPAddress address)
    {
        var plain = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        return SpecialAddresses.Standard.Classify(plain) == AddressClass.Global || allowed.Any(p => p.Contains(plain));
    }

    private static NameServer ParseServer(string text)
    {
        if (IPEndPoint.TryParse(text.Trim(), out var endPoint))
        {
            return new NameServer(endPoint.Port == 0 ? new IPEndPoint(endPoint.Address, 53) : endPoint);
        }
        throw new Configuration.ConfigurationException($"dns_resolution.servers: '{text}' is not an address or address:port");
    }
}
