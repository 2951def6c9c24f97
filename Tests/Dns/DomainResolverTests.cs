using CyberWatch.Dns;
using CyberWatch.Enrichment;

namespace CyberWatch.Tests.Dns;

public sealed class DomainResolverTests : IDisposable
{
    private readonly FakeDnsServer server = new();

    public void Dispose() => server.Dispose();

    private DomainResolver Resolver(int max = 4, params string[] allowed) => new(
        new DnsCollectorConfig.ResolutionSection { Servers = [server.EndPoint.ToString()], MaxIpsPerDomain = max, TimeoutMs = 1000 },
        allowed.Select(a => IpPrefix.TryParse(a, out var p) ? p : throw new ArgumentException(a)).ToList());

    [Fact]
    public async Task A_and_AAAA_answers_are_kept_and_special_ranges_dropped()
    {
        server.Add("www.example.com", "93.184.215.14", "10.1.2.3", "192.168.1.1", "127.0.0.1", "100.64.0.1", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "fe80::1", "fd00::1");
        var resolver = Resolver();
        var addresses = await resolver.ResolveAsync("www.example.com", CancellationToken.None);
        Assert.Equal(["2606:2800:21f:cb07:6820:80da:af6b:8b2c", "93.184.215.14"], addresses.Order(StringComparer.Ordinal));
        Assert.Equal(6, resolver.DroppedSpecial);
    }

    [Fact]
    public async Task At_most_the_configured_number_of_addresses_is_kept()
    {
        server.Add("many.example.com", Enumerable.Range(1, 10).Select(i => $"93.184.215.{i}").ToArray());
        Assert.Equal(3, (await Resolver(max: 3).ResolveAsync("many.example.com", CancellationToken.None)).Count);
    }

    [Fact]
    public async Task Allowed_prefixes_let_a_lab_range_through()
    {
        server.Add("web.lab.example", "10.77.1.10", "10.1.1.1");
        Assert.Equal(["10.77.1.10"], await Resolver(4, "10.77.0.0/16").ResolveAsync("web.lab.example", CancellationToken.None));
    }

    [Fact]
    public async Task Nxdomain_and_a_silent_resolver_give_no_addresses()
    {
        Assert.Empty(await Resolver().ResolveAsync("nope.example.com", CancellationToken.None));
        var silent = new DomainResolver(new DnsCollectorConfig.ResolutionSection { Servers = [$"127.0.0.1:{Infrastructure.Repository.FreeTcpPort()}"], TimeoutMs = 200 }, []);
        Assert.Empty(await silent.ResolveAsync("www.example.com", CancellationToken.None));
    }
}
