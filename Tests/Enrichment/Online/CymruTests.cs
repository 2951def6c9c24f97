using System.Net;
using System.Net.Sockets;
using CyberWatch.Enrichment.Online;
using CyberWatch.Tests.Infrastructure;
using Polly.CircuitBreaker;
using static CyberWatch.Tests.Enrichment.Online.OnlineTestSupport;

namespace CyberWatch.Tests.Enrichment.Online;

public sealed class CymruTests
{
    [Fact]
    public void Bulk_whois_answer_gives_origins_all_origins_of_a_multi_origin_prefix_and_as_names()
    {
        var (origins, names) = CymruAnswers.ParseWhois(Recorded.WhoisBulkVerbose);

        var cymru = origins["216.90.108.31"];
        Assert.Equal([23028L], cymru.Asns);
        Assert.Equal("216.90.108.0/24", cymru.Prefix);
        Assert.Equal("US", cymru.Country);
        Assert.Equal("arin", cymru.Registry);
        Assert.Equal("TEAMCYMRU - SAUNET, US", cymru.AsName);
        Assert.Equal([15169L], origins["2001:4860:4860::8888"].Asns);
        Assert.Equal([64496L, 64497L], origins["185.1.2.3"].Asns);
        Assert.False(origins.ContainsKey("203.0.114.1")); // NA: not routed
        Assert.Equal(4, origins.Count);
        Assert.Equal(new CymruAsName(23028, "US", "arin", "2002-01-04", "TEAMCYMRU - SAUNET, US"), Assert.Single(names).Value);
    }

    [Fact]
    public void Dns_query_names_reverse_octets_and_nibbles_and_txt_answers_parse()
    {
        Assert.Equal("31.108.90.216.origin.asn.cymru.com", CymruAnswers.OriginName(IPAddress.Parse("216.90.108.31"), "asn.cymru.com"));
        Assert.Equal("31.108.90.216.origin.asn.cymru.com", CymruAnswers.OriginName(IPAddress.Parse("::ffff:216.90.108.31"), "asn.cymru.com"));
        Assert.Equal("8.8.8.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.8.4.0.6.8.4.1.0.0.2.origin6.asn.cymru.com",
            CymruAnswers.OriginName(IPAddress.Parse("2001:4860:4860::8888"), "asn.cymru.com"));
        Assert.Equal("AS23028.asn.cymru.com", CymruAnswers.AsName(23028, "asn.cymru.com"));

        var origin = CymruAnswers.ParseOriginTxt("64496 64497 | 185.1.2.0/24 | NL | ripencc | 2012-01-01")!;
        Assert.Equal([64496L, 64497L], origin.Asns);
        Assert.Equal("185.1.2.0/24", origin.Prefix);
        Assert.Equal("NL", origin.Country);
        Assert.Null(CymruAnswers.ParseOriginTxt("garbage"));
        var name = CymruAnswers.ParseAsNameTxt("23028 | US | arin | 2002-01-04 | TEAMCYMRU - SAUNET, US")!;
        Assert.Equal("TEAMCYMRU - SAUNET, US", name.Name);
        Assert.Equal("arin", name.Registry);
        Assert.Equal("begin\nverbose\n8.8.8.8\nAS15169\nend\n", CymruAnswers.BulkRequest(["8.8.8.8", "AS15169"]));
    }

    [Fact]
    public async Task Whois_client_asks_every_global_address_in_one_connection_and_never_sends_special_or_own_addresses()
    {
        await using var server = new FakeCymruWhois();
        foreach (var (line, answer) in Recorded.WhoisLines)
        {
            server.Answers[line] = answer;
        }
        using var client = Cymru(WhoisOptions(server.Port));

        var answers = await client.LookupAsync(
            new[] { "216.90.108.31", "8.8.8.8", "10.1.2.3", "192.168.1.1", "100.64.0.1", "127.0.0.1", "169.254.1.1", "2001:db8::1", "fe80::1",
             "224.0.0.1", OwnAddress, "185.1.2.3", "2001:4860:4860::8888", "203.0.114.1", "8.8.8.8" }.Select(IPAddress.Parse),
            CancellationToken.None);

        Assert.Single(server.Connections);
        Assert.Equal(["216.90.108.31", "8.8.8.8", "185.1.2.3", "2001:4860:4860::8888", "203.0.114.1"], server.ReceivedLines.ToArray());
        Assert.Equal(23028, Assert.Single(answers["216.90.108.31"]!.Asns));
        Assert.Equal([64496L, 64497L], answers["185.1.2.3"]!.Asns);
        Assert.Null(answers["203.0.114.1"]);
        Assert.Equal(5, answers.Count);

        Assert.Equal("TEAMCYMRU - SAUNET, US", (await client.LookupAsnAsync(23028, CancellationToken.None))?.Name);
        Assert.Null(await client.LookupAsnAsync(64511, CancellationToken.None));
        Assert.Equal(["AS23028", "AS64511"], server.ReceivedLines.Skip(5).ToArray());
    }

    [Fact]
    public async Task Answers_are_cached_in_postgres_across_restarts_until_the_ttl_runs_out()
    {
        await using var db = await TestDatabase.CreateAsync();
        await using var server = new FakeCymruWhois();
        foreach (var (line, answer) in Recorded.WhoisLines)
        {
            server.Answers[line] = answer;
        }
        var clock = new ManualClock(new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero));
        var options = WhoisOptions(server.Port);
        options.TtlHours = 24;
        IPAddress[] addresses = [IPAddress.Parse("216.90.108.31"), IPAddress.Parse("203.0.114.1")];

        using (var first = Cymru(options, new EnrichmentCache(db.DataSource, clock)))
        {
            await first.LookupAsync(addresses, CancellationToken.None);
            await first.LookupAsnAsync(23028, CancellationToken.None);
        }
        Assert.Equal(2, server.Connections.Count);
        Assert.Equal(3L, await db.ScalarAsync<long>("SELECT count(*) FROM enrichment_cache WHERE source = 'cymru'"));

        // A new client (as after a restart) answers from the table, "not routed" included.
        using var second = Cymru(options, new EnrichmentCache(db.DataSource, clock));
        var cached = await second.LookupAsync(addresses, CancellationToken.None);
        Assert.Equal(23028, Assert.Single(cached["216.90.108.31"]!.Asns));
        Assert.Equal("216.90.108.0/24", cached["216.90.108.31"]!.Prefix);
        Assert.Null(cached["203.0.114.1"]);
        Assert.Equal("US", (await second.LookupAsnAsync(23028, CancellationToken.None))?.Country);
        Assert.Equal(2, server.Connections.Count);

        clock.Now += TimeSpan.FromHours(25);
        var cache = new EnrichmentCache(db.DataSource, clock);
        Assert.Equal(3, await cache.PurgeExpiredAsync(CancellationToken.None));
        await second.LookupAsync(addresses, CancellationToken.None);
        Assert.Equal(3, server.Connections.Count);
        Assert.Equal(["216.90.108.31", "203.0.114.1"], server.ReceivedLines.TakeLast(2).ToArray());
    }

    [Fact]
    public async Task Dns_interface_answers_origin_origin6_and_as_names_from_a_local_resolver()
    {
        await using var dns = new FakeDnsServer();
        foreach (var (query, txt) in Recorded.DnsTxt)
        {
            dns.Txt[query] = txt;
        }
        using var client = Cymru(new OnlineSourceOptions
        {
            CymruDnsEnabled = true, CymruDnsServer = dns.EndPoint.ToString(), Retries = 0, TimeoutSeconds = 3, CymruRatePerMinute = 6000,
        });

        var answers = await client.LookupAsync(
            new[] { "216.90.108.31", "2001:4860:4860::8888", "185.1.2.3", "203.0.114.1", "10.0.0.1", OwnAddress }.Select(IPAddress.Parse), CancellationToken.None);

        Assert.True(answers["216.90.108.31"] is not null, "queries seen: " + string.Join(", ", dns.Queries));
        Assert.Equal(23028, Assert.Single(answers["216.90.108.31"]!.Asns));
        Assert.Equal("2001:4860::/32", answers["2001:4860:4860::8888"]!.Prefix);
        // Two covering prefixes: the more specific one, with both its origins.
        Assert.Equal([64496L, 64497L], answers["185.1.2.3"]!.Asns);
        Assert.Null(answers["203.0.114.1"]); // NXDOMAIN
        Assert.Equal(4, answers.Count);
        Assert.DoesNotContain(dns.Queries, q => q.StartsWith("1.0.0.10.", StringComparison.Ordinal) || q.StartsWith("9.9.9.185.", StringComparison.Ordinal));
        Assert.Equal(4, dns.Queries.Count);

        var name = await client.LookupAsnAsync(23028, CancellationToken.None);
        Assert.Equal("TEAMCYMRU - SAUNET, US", name?.Name);
        Assert.Equal("arin", name?.Registry);
        Assert.Null(await client.LookupAsnAsync(64511, CancellationToken.None));
    }

    [Fact]
    public async Task Whois_connections_are_spaced_by_the_rate_limit()
    {
        await using var server = new FakeCymruWhois();
        using var client = Cymru(WhoisOptions(server.Port, ratePerMinute: 600)); // one every 100 ms
        for (var asn = 64500; asn < 64505; asn++)
        {
            await client.LookupAsnAsync(asn, CancellationToken.None);
        }
        // One token, refilled every 100 ms: the first connection may go just before a refill, the others wait.
        var at = server.Connections.ToArray();
        Assert.Equal(5, at.Length);
        // Over three refills, not gap by gap: the server's accept times carry the scheduler's jitter on a busy machine.
        Assert.True(at[^1] - at[1] >= TimeSpan.FromMilliseconds(250), $"connections 2 to 5 at 10/s spread over only {(at[^1] - at[1]).TotalMilliseconds} ms");
        Assert.True(at[^1] - at[0] >= TimeSpan.FromMilliseconds(280), $"5 connections at 10/s spread over only {(at[^1] - at[0]).TotalMilliseconds} ms");
    }

    [Fact]
    public async Task A_failing_whois_server_is_retried_then_left_alone_by_the_circuit_breaker()
    {
        // Accepts and hangs up at once: no "Bulk mode" banner, so every attempt fails.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accepted = 0;
        using var stop = new CancellationTokenSource();
        var loop = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var c = await listener.AcceptTcpClientAsync(stop.Token);
                Interlocked.Increment(ref accepted);
            }
        });
        using var client = Cymru(WhoisOptions(((IPEndPoint)listener.LocalEndpoint).Port, retries: 1));

        await Assert.ThrowsAsync<IOException>(() => client.LookupAsnAsync(64500, CancellationToken.None));
        Assert.Equal(2, accepted); // first attempt and one retry
        await Assert.ThrowsAsync<IOException>(() => client.LookupAsnAsync(64501, CancellationToken.None));
        Assert.Equal(4, accepted);
        await Assert.ThrowsAsync<BrokenCircuitException>(() => client.LookupAsnAsync(64502, CancellationToken.None));
        Assert.Equal(4, accepted);
        await stop.CancelAsync();
        listener.Stop();
        await loop.ContinueWith(_ => { });
    }
}
