using CyberWatch.Dns;

namespace CyberWatch.Tests.Dns;

public sealed class SuspicionScoreTests
{
    [Theory]
    [InlineData("www.google.com")]
    [InlineData("mail.example.org")]
    [InlineData("connectivity-check.ubuntu.com")]
    [InlineData("cdn-2.akamaized.net")]
    [InlineData("www.wikipedia.org")]
    public void Ordinary_names_score_low(string domain) => Assert.True(SuspicionScore.Of(domain, 0) < 0.4, $"{domain}: {SuspicionScore.Of(domain, 0)}");

    [Theory]
    [InlineData("xj4k9q2vz8m1w7p3.com")]
    [InlineData("a8f9x0q2z7k3m5n1b4v6.evil.example")]
    [InlineData("dGhpcyBpcyBleGZpbHRyYXRlZCBkYXRh0a9f.MzQ1Njc4OTAxMjM0NTY3.t.example.net")]
    public void Machine_made_names_score_high(string domain) => Assert.True(SuspicionScore.Of(domain.ToLowerInvariant(), 0) >= 0.7, $"{domain}: {SuspicionScore.Of(domain.ToLowerInvariant(), 0)}");

    [Fact]
    public void A_burst_of_nxdomain_under_the_parent_raises_the_score()
    {
        var quiet = SuspicionScore.Of("update.example.com", 0);
        var burst = SuspicionScore.Of("update.example.com", 20);
        Assert.True(burst >= quiet + 0.45);
        Assert.Equal("example.com", SuspicionScore.Parent("a.b.update.example.com"));
    }

    [Fact]
    public void Entropy_is_in_bits_per_character()
    {
        Assert.Equal(0, SuspicionScore.Entropy("aaaa"));
        Assert.Equal(2, SuspicionScore.Entropy("abcd"), 6);
    }

    [Fact]
    public void Suspicious_domains_keep_their_score_but_are_not_resolved_unless_configured()
    {
        var start = new DateTimeOffset(2026, 11, 30, 20, 0, 0, TimeSpan.Zero);
        foreach (var probe in new[] { false, true })
        {
            var config = DnsCollectorConfig.Parse($"suspicion:\n  probe_suspicious: {probe.ToString().ToLowerInvariant()}\n");
            var aggregator = new DomainAggregator(config, new DomainKeys(DomainPolicy.Plain, null), new ClientKeys());
            aggregator.Observe(new ObservedQuery(start, "xj4k9q2vz8m1w7p3.com", "A", "10.0.0.5", QueryOutcome.Answered));
            aggregator.Observe(new ObservedQuery(start, "xj4k9q2vz8m1w7p3.com", "A", "10.0.0.6", QueryOutcome.Answered));
            var output = aggregator.Drain(start.AddMinutes(1));
            Assert.True(Assert.Single(output.Aggregates).SuspicionScore >= 0.7);
            Assert.Equal(probe ? 1 : 0, output.ToResolve.Count);
        }
    }
}
