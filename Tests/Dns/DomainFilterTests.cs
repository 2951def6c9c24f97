using CyberWatch.Dns;

namespace CyberWatch.Tests.Dns;

public sealed class DomainFilterTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 30, 20, 15, 0, TimeSpan.Zero);
    private readonly DomainFilter filter = new(new DnsCollectorConfig.FilterSection { IgnoreClients = ["10.0.0.99"] });

    private DropReason Check(string domain, string qtype = "A", string client = "10.0.0.5", QueryOutcome outcome = QueryOutcome.Answered) =>
        filter.Check(new ObservedQuery(At, domain, qtype, client, outcome), out _);

    [Theory]
    [InlineData("Example.COM.", "example.com")]
    [InlineData("www.example.co.uk", "www.example.co.uk")]
    [InlineData("_dmarc.example.org", "_dmarc.example.org")]
    public void Names_are_normalised(string input, string expected)
    {
        Assert.Equal(DropReason.None, filter.Check(new ObservedQuery(At, input, "A", "10.0.0.5", QueryOutcome.Answered), out var domain));
        Assert.Equal(expected, domain);
    }

    [Theory]
    [InlineData("192.0.2.1", DropReason.IpLiteral)]
    [InlineData("2001:db8::1", DropReason.IpLiteral)]
    [InlineData("[2001:db8::1]", DropReason.IpLiteral)]
    [InlineData("10.1.2", DropReason.Malformed)]
    [InlineData("localhost", DropReason.Malformed)]
    [InlineData("exa mple.com", DropReason.Malformed)]
    [InlineData("-bad.example.com", DropReason.Malformed)]
    [InlineData("a..b.com", DropReason.Malformed)]
    [InlineData("bücher.de", DropReason.Malformed)]
    [InlineData("1.2.0.192.in-addr.arpa", DropReason.ReverseZone)]
    [InlineData("b.a.9.8.ip6.arpa", DropReason.ReverseZone)]
    [InlineData("printer.local", DropReason.IgnoredSuffix)]
    [InlineData("nas.lan", DropReason.IgnoredSuffix)]
    [InlineData("router.home.arpa", DropReason.IgnoredSuffix)]
    [InlineData("15169.asn.cymru.com", DropReason.OwnLookup)]
    [InlineData("1.0.0.10.origin.asn.cymru.com", DropReason.OwnLookup)]
    public void Names_that_cannot_be_targets_are_dropped(string domain, DropReason expected) =>
        Assert.Equal(expected, Check(domain));

    [Fact]
    public void Too_long_names_are_dropped()
    {
        var longName = string.Join('.', Enumerable.Repeat(new string('a', 60), 5)) + ".com";
        Assert.Equal(DropReason.TooLong, Check(longName));
        var short40 = new DomainFilter(new DnsCollectorConfig.FilterSection { MaxDomainLength = 20 });
        Assert.Equal(DropReason.TooLong, short40.Check(new ObservedQuery(At, "a-rather-long-name.example.com", "A", "10.0.0.5", QueryOutcome.Answered), out _));
    }

    [Fact]
    public void Blocked_queries_ignored_qtypes_clients_and_own_lookups_are_dropped()
    {
        Assert.Equal(DropReason.Blocked, Check("ads.example.com", outcome: QueryOutcome.Blocked));
        Assert.Equal(DropReason.IgnoredQtype, Check("example.com", qtype: "PTR"));
        Assert.Equal(DropReason.IgnoredQtype, Check("example.com", qtype: "ptr"));
        Assert.Equal(DropReason.IgnoredClient, Check("example.com", client: "10.0.0.99"));
        Assert.Equal(DropReason.OwnLookup, Check("example.com", client: "127.0.0.1"));
        Assert.Equal(DropReason.OwnLookup, Check("example.com", client: "::ffff:127.0.0.1"));
        Assert.Equal(DropReason.None, Check("example.com", qtype: "AAAA"));
        Assert.Equal(DropReason.None, Check("example.com", qtype: "HTTPS"));
    }
}
