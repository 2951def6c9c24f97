using CyberWatch.Configuration;
using CyberWatch.Dns;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Dns;

public sealed class DnsCollectorConfigTests
{
    [Fact]
    public void The_example_in_the_repository_is_valid()
    {
        var config = DnsCollectorConfig.Load(Path.Combine(Repository.Root, "dns.example.yaml"));
        Assert.True(config.Enabled);
        Assert.Contains(".local", config.Filters.IgnoreSuffixes);
        Assert.Contains("PTR", config.Filters.IgnoreQtypes);
        Assert.Equal(2, config.Privacy.KAnonymity);
    }

    [Fact]
    public void Fields_are_snake_case_and_defaults_fill_the_rest()
    {
        var config = DnsCollectorConfig.Parse("""
            source: pihole
            poll_interval_seconds: 5
            pihole:
              url: http://127.0.0.1:8080
              api_version: 5
              api_token: abc
            filters:
              max_domain_length: 100
              ignore_clients: [10.0.0.9]
            dns_resolution:
              enabled: false
              max_ips_per_domain: 2
            """);
        Assert.Equal("pihole", config.Source);
        Assert.Equal(5, config.PollIntervalSeconds);
        Assert.Equal(5, config.Pihole.ApiVersion);
        Assert.Equal(100, config.Filters.MaxDomainLength);
        Assert.Equal(["10.0.0.9"], config.Filters.IgnoreClients);
        Assert.False(config.DnsResolution.Enabled);
        Assert.Equal(2000, config.DnsResolution.TimeoutMs);
        Assert.Equal(DomainPolicy.Plain, config.ParsedDomainPolicy);
    }

    [Theory]
    [InlineData("source: bind", "source 'bind'")]
    [InlineData("poll_interval_seconds: 0", "poll_interval_seconds")]
    [InlineData("privacy:\n  domain_policy: hashed", "hmac_key")]
    [InlineData("privacy:\n  domain_policy: rot13", "domain_policy 'rot13'")]
    [InlineData("privacy:\n  k_anonymity: 0", "k_anonymity")]
    [InlineData("privacy:\n  k_anonymity: 1", "k_anonymity must be at least 2")]
    [InlineData("privacy:\n  ipv6_device_prefix: 16", "ipv6_device_prefix")]
    [InlineData("dns_resolution:\n  allowed_prefixes: [10.0.0.0/33]", "allowed_prefixes")]
    [InlineData("no_such_field: 1", "line 1")]
    [InlineData("filters: [", "line")]
    public void Bad_configuration_is_one_clear_error(string yaml, string expected)
    {
        var error = Assert.Throws<ConfigurationException>(() => DnsCollectorConfig.Parse(yaml, "dns.yaml"));
        Assert.Contains(expected, error.Message);
        Assert.StartsWith("dns.yaml", error.Message);
    }

    [Fact]
    public void A_missing_file_names_the_variable_to_set()
    {
        var error = Assert.Throws<ConfigurationException>(() => DnsCollectorConfig.Load("/nonexistent/dns.yaml"));
        Assert.Contains(DnsCollectorConfig.PathVariable, error.Message);
    }
}
