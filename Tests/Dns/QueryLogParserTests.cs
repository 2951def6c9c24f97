using CyberWatch.Dns;

namespace CyberWatch.Tests.Dns;

public sealed class QueryLogParserTests
{
    // As dnsmasq 2.90 with log-queries writes them (syslog format), and Pi-hole FTL's pihole.log.
    private const string Log = """
        Nov 30 20:14:01 dnsmasq[812]: query[A] www.example.com from 10.0.0.5
        Nov 30 20:14:01 dnsmasq[812]: forwarded www.example.com to 10.9.0.1
        Nov 30 20:14:01 dnsmasq[812]: reply www.example.com is 93.184.215.14
        Nov 30 20:14:02 dnsmasq[812]: query[AAAA] www.example.com from 10.0.0.6
        Nov 30 20:14:02 dnsmasq[812]: cached www.example.com is 2606:2800:21f:cb07:6820:80da:af6b:8b2c
        Nov 30 20:14:03 dnsmasq[812]: query[A] ads.tracker.example from 10.0.0.5
        Nov 30 20:14:03 dnsmasq[812]: gravity blocked ads.tracker.example is 0.0.0.0
        Nov 30 20:14:04 dnsmasq[812]: query[A] nope.example.net from 10.0.0.7
        Nov 30 20:14:04 dnsmasq[812]: forwarded nope.example.net to 10.9.0.1
        Nov 30 20:14:04 dnsmasq[812]: reply nope.example.net is NXDOMAIN
        Nov 30 20:14:05 dnsmasq[812]: query[A] blocked.by.config from 10.0.0.5
        Nov 30 20:14:05 dnsmasq[812]: config blocked.by.config is 0.0.0.0
        Nov 30 20:14:06 dnsmasq[812]: query[A] re.example.org from 10.0.0.8
        Nov 30 20:14:06 dnsmasq[812]: regex blacklisted re.example.org is 0.0.0.0
        Nov 30 20:14:07 dnsmasq[812]: 17 10.0.0.9/53127 query[HTTPS] svc.example.org from 10.0.0.9
        Nov 30 20:14:07 dnsmasq[812]: 17 10.0.0.9/53127 reply svc.example.org is <HTTPS>
        Nov 30 20:14:08 dnsmasq[812]: query[PTR] 5.0.0.10.in-addr.arpa from 10.0.0.5
        Nov 30 20:14:08 dnsmasq[812]: /etc/pihole/local.list 5.0.0.10.in-addr.arpa is laptop.lan
        garbage that is not a log line
        """;

    [Fact]
    public void Queries_come_with_their_outcome_type_client_and_time()
    {
        var clock = new ManualClock(new DateTimeOffset(2026, 11, 30, 21, 0, 0, TimeSpan.Zero));
        var parser = new QueryLogParser(clock);
        foreach (var line in Log.Split('\n'))
        {
            parser.Feed(line);
        }
        var queries = parser.Flush();
        Assert.Equal(8, queries.Count);
        Assert.Equal(("www.example.com", "A", "10.0.0.5", QueryOutcome.Answered), Shape(queries[0]));
        Assert.Equal(("www.example.com", "AAAA", "10.0.0.6", QueryOutcome.Answered), Shape(queries[1]));
        Assert.Equal(("ads.tracker.example", "A", "10.0.0.5", QueryOutcome.Blocked), Shape(queries[2]));
        Assert.Equal(("nope.example.net", "A", "10.0.0.7", QueryOutcome.NxDomain), Shape(queries[3]));
        Assert.Equal(QueryOutcome.Blocked, queries[4].Outcome);
        Assert.Equal(QueryOutcome.Blocked, queries[5].Outcome);
        Assert.Equal(("svc.example.org", "HTTPS", "10.0.0.9", QueryOutcome.Answered), Shape(queries[6]));
        Assert.Equal("PTR", queries[7].QType);
        var local = new DateTimeOffset(new DateTime(2026, 11, 30, 20, 14, 1, DateTimeKind.Local)).ToUniversalTime();
        Assert.Equal(local, queries[0].Time);
        Assert.Empty(parser.Flush());
    }

    [Fact]
    public void A_syslog_stamp_ahead_of_now_belongs_to_last_year()
    {
        var clock = new ManualClock(new DateTimeOffset(2027, 1, 1, 0, 5, 0, TimeSpan.Zero));
        var parser = new QueryLogParser(clock);
        parser.Feed("Dec 31 23:59:59 dnsmasq[812]: query[A] late.example.com from 10.0.0.5");
        Assert.Equal(2026, parser.Flush()[0].Time.LocalDateTime.Year);
    }

    private static (string, string, string, QueryOutcome) Shape(ObservedQuery q) => (q.Domain, q.QType, q.Client, q.Outcome);
}
