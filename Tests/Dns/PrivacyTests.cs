using System.Text.Json;
using CyberWatch.Dns;

namespace CyberWatch.Tests.Dns;

public sealed class PrivacyTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 30, 20, 10, 0, TimeSpan.Zero);

    private static DnsCollectorConfig Config(int k = 2, string policy = "plain") => DnsCollectorConfig.Parse($"""
        privacy:
          domain_policy: {policy}
          hmac_key: 0123456789abcdef-test-key
          k_anonymity: {k}
          window_minutes: 60
        """);

    private static DomainAggregator Aggregator(DnsCollectorConfig config) =>
        new(config, new DomainKeys(config.ParsedDomainPolicy, config.Privacy.HmacKey), new ClientKeys());

    private static ObservedQuery Query(string domain, string client, DateTimeOffset at, string qtype = "A") =>
        new(at, domain, qtype, client, QueryOutcome.Answered);

    [Fact]
    public void One_client_alone_never_makes_a_domain_count_however_often_it_asks()
    {
        var aggregator = Aggregator(Config());
        for (var i = 0; i < 500; i++)
        {
            aggregator.Observe(Query("rare.example.com", "10.0.0.5", Start.AddSeconds(i)));
        }
        var output = aggregator.Drain(Start.AddMinutes(10));
        Assert.Empty(output.Aggregates);
        Assert.Empty(output.ToResolve);
    }

    [Fact]
    public void The_kth_distinct_client_releases_the_domain_with_the_counts_held_so_far()
    {
        var aggregator = Aggregator(Config(k: 3));
        aggregator.Observe(Query("shared.example.com", "10.0.0.5", Start));
        aggregator.Observe(Query("shared.example.com", "10.0.0.5", Start.AddMinutes(1)));
        aggregator.Observe(Query("shared.example.com", "10.0.0.6", Start.AddMinutes(2)));
        Assert.Empty(aggregator.Drain(Start.AddMinutes(3)).Aggregates);
        aggregator.Observe(Query("shared.example.com", "10.0.0.7", Start.AddMinutes(4), "AAAA"));
        var output = aggregator.Drain(Start.AddMinutes(5));
        Assert.Equal(4, output.Aggregates.Sum(a => a.Count));
        Assert.Equal(3, output.Aggregates.Single(a => a.QType == "A").Count);
        Assert.Equal(new DateTimeOffset(2026, 11, 30, 20, 0, 0, TimeSpan.Zero), output.Aggregates[0].Hour);
        Assert.Equal("shared.example.com", Assert.Single(output.ToResolve).Domain);
        // Counts are handed on once: the next drain carries only what came since.
        aggregator.Observe(Query("shared.example.com", "10.0.0.5", Start.AddMinutes(6)));
        var next = aggregator.Drain(Start.AddMinutes(7));
        Assert.Equal(1, Assert.Single(next.Aggregates).Count);
        Assert.Empty(next.ToResolve); // resolved less than refresh_seconds ago
    }

    [Fact]
    public void Clients_outside_the_window_do_not_count_towards_k()
    {
        var aggregator = Aggregator(Config(k: 2));
        aggregator.Observe(Query("slow.example.com", "10.0.0.5", Start));
        aggregator.Observe(Query("slow.example.com", "10.0.0.6", Start.AddMinutes(61)));
        Assert.Empty(aggregator.Drain(Start.AddMinutes(62)).ToResolve);
        aggregator.Observe(Query("slow.example.com", "10.0.0.5", Start.AddMinutes(70)));
        Assert.Single(aggregator.Drain(Start.AddMinutes(71)).ToResolve);
    }

    [Fact]
    public void A_backlog_older_than_the_window_is_judged_by_its_own_time()
    {
        var aggregator = Aggregator(Config(k: 2));
        aggregator.Observe(Query("old.example.com", "10.0.0.5", Start));
        aggregator.Observe(Query("old.example.com", "10.0.0.6", Start.AddMinutes(1)));
        var output = aggregator.Drain(Start.AddHours(5)); // read five hours late, after an outage
        Assert.Equal(2, Assert.Single(output.Aggregates).Count);
        Assert.Single(output.ToResolve);
    }

    [Fact]
    public void The_same_client_under_another_spelling_of_its_address_is_one_client()
    {
        var aggregator = Aggregator(Config(k: 2));
        aggregator.Observe(Query("one.example.com", "10.0.0.5", Start));
        aggregator.Observe(Query("one.example.com", " 10.0.0.5 ", Start.AddSeconds(1)));
        Assert.Empty(aggregator.Drain(Start.AddMinutes(1)).ToResolve);
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("hashed")]
    [InlineData("none")]
    public void What_leaves_the_aggregator_never_holds_a_client_address_and_follows_the_domain_policy(string policy)
    {
        var config = Config(policy: policy);
        var aggregator = Aggregator(config);
        string[] clients = ["10.77.0.5", "10.77.0.6", "fd00:77::9"];
        foreach (var client in clients)
        {
            aggregator.Observe(Query("news.example.com", client, Start));
            aggregator.Observe(Query("mail.example.org", client, Start));
        }
        var output = aggregator.Drain(Start.AddMinutes(1));
        var json = JsonSerializer.Serialize(new DnsHandoffEntry(Guid.NewGuid(), Start, output.Aggregates, []));
        foreach (var client in clients)
        {
            Assert.DoesNotContain(client, json);
        }
        var keys = output.Aggregates.Select(a => a.DomainKey).ToList();
        switch (policy)
        {
            case "plain":
                Assert.Equal(["mail.example.org", "news.example.com"], keys.Order());
                break;
            case "hashed":
                Assert.DoesNotContain("example", json);
                Assert.All(keys, k => Assert.Matches("^[0-9a-f]{64}$", k));
                var expected = Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(
                    "0123456789abcdef-test-key"u8.ToArray(), "news.example.com"u8.ToArray()));
                Assert.Contains(expected, keys);
                break;
            case "none":
                Assert.DoesNotContain("example", json);
                Assert.Equal(6, Assert.Single(output.Aggregates).Count); // both domains merged under the empty key
                break;
        }
        Assert.All(output.Aggregates, a => Assert.Equal(policy, a.Policy));
    }

    [Fact]
    public void One_device_over_ipv4_ipv4_mapped_ipv6_and_its_ipv6_privacy_addresses_does_not_meet_k_2_alone()
    {
        var aggregator = Aggregator(Config(k: 2));
        // How resolvers log one dual-stack laptop: its IPv4 plain and as IPv4-mapped IPv6 (two spellings, one socket
        // family each), and its rotating IPv6 privacy addresses in one /64, zoned or not.
        string[] overIpv4 = ["192.168.1.23", "::ffff:192.168.1.23", " ::FFFF:C0A8:117 "];
        string[] overIpv6 = ["2001:db8:7:1::23", "2001:db8:7:1:a1b2:c3d4:e5f6:1", "2001:db8:7:1::23%eth0"];
        for (var i = 0; i < overIpv4.Length; i++)
        {
            aggregator.Observe(Query("v4-laptop.example.com", overIpv4[i], Start.AddSeconds(i)));
            aggregator.Observe(Query("v6-laptop.example.com", overIpv6[i], Start.AddSeconds(i)));
        }
        Assert.Empty(aggregator.Drain(Start.AddMinutes(1)).Aggregates);

        // A second device does release it.
        aggregator.Observe(Query("v4-laptop.example.com", "192.168.1.24", Start.AddMinutes(2)));
        Assert.Equal("v4-laptop.example.com", Assert.Single(aggregator.Drain(Start.AddMinutes(3)).ToResolve).Domain);
    }

    [Theory]
    [InlineData("10.0.0.5", 64, "10.0.0.5")]
    [InlineData("::ffff:10.0.0.5", 64, "10.0.0.5")]
    [InlineData("fe80::1%eth0", 64, "fe80::/64")]
    [InlineData("2001:db8:7:1:ffff::9", 64, "2001:db8:7:1::/64")]
    [InlineData("2001:db8:7:1:ffff::9", 128, "2001:db8:7:1:ffff::9/128")]
    [InlineData("2001:db8:7:1:ffff::9", 56, "2001:db8:7::/56")]
    [InlineData(" Laptop.LAN ", 64, "laptop.lan")]
    public void A_client_address_is_reduced_to_its_device(string client, int prefix, string device) =>
        Assert.Equal(device, ClientKeys.Device(client, prefix));

    [Fact]
    public void Client_hashes_differ_between_processes()
    {
        Assert.NotEqual(new ClientKeys().KeyOf("10.0.0.5"), new ClientKeys().KeyOf("10.0.0.5"));
        var keys = new ClientKeys();
        Assert.Equal(keys.KeyOf("10.0.0.5"), keys.KeyOf("10.0.0.5"));
    }

    [Fact]
    public void Dropped_queries_are_counted_by_reason_and_do_not_count_towards_k()
    {
        var aggregator = Aggregator(Config(k: 2));
        aggregator.Observe(new ObservedQuery(Start, "ads.example.com", "A", "10.0.0.5", QueryOutcome.Blocked));
        aggregator.Observe(new ObservedQuery(Start, "ads.example.com", "A", "10.0.0.6", QueryOutcome.Blocked));
        aggregator.Observe(Query("1.0.0.10.in-addr.arpa", "10.0.0.6", Start, "PTR"));
        Assert.Empty(aggregator.Drain(Start.AddMinutes(1)).Aggregates);
        Assert.Equal(2, aggregator.Dropped[DropReason.Blocked]);
        Assert.Equal(1, aggregator.Dropped[DropReason.IgnoredQtype]);
    }
}

public sealed class NxDomainBurstTests
{
    [Fact]
    public void Nxdomain_answers_under_a_parent_raise_the_score_of_its_names()
    {
        var start = new DateTimeOffset(2026, 11, 30, 20, 0, 0, TimeSpan.Zero);
        var config = DnsCollectorConfig.Parse("privacy:\n  k_anonymity: 2\n");
        var aggregator = new DomainAggregator(config, new DomainKeys(DomainPolicy.Plain, null), new ClientKeys());
        aggregator.Observe(new ObservedQuery(start, "update.example.com", "A", "10.0.0.5", QueryOutcome.Answered));
        aggregator.Observe(new ObservedQuery(start, "update.example.com", "A", "10.0.0.6", QueryOutcome.Answered));
        var quiet = Assert.Single(aggregator.Drain(start.AddMinutes(1)).Aggregates).SuspicionScore;
        for (var i = 0; i < 12; i++)
        {
            aggregator.Observe(new ObservedQuery(start.AddMinutes(2), $"q{i}.example.com", "A", "10.0.0.7", QueryOutcome.NxDomain));
        }
        aggregator.Observe(new ObservedQuery(start.AddMinutes(2), "update.example.com", "A", "10.0.0.5", QueryOutcome.Answered));
        var burst = aggregator.Drain(start.AddMinutes(3)).Aggregates.Single(a => a.DomainKey == "update.example.com").SuspicionScore;
        Assert.True(burst >= quiet + 0.45, $"{quiet} -> {burst}");
        // The burst is over once the window has passed.
        aggregator.Observe(new ObservedQuery(start.AddMinutes(70), "update.example.com", "A", "10.0.0.5", QueryOutcome.Answered));
        aggregator.Observe(new ObservedQuery(start.AddMinutes(70), "update.example.com", "A", "10.0.0.6", QueryOutcome.Answered));
        Assert.Equal(quiet, aggregator.Drain(start.AddMinutes(71)).Aggregates.Single().SuspicionScore);
    }
}
