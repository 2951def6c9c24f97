using CyberWatch.Configuration;
using CyberWatch.Dns;
using Microsoft.Extensions.Logging.Abstractions;

namespace CyberWatch.Tests.Dns;

/// <summary>The Pi-hole v6 and v5 clients against a local server with Pi-hole's session rules.</summary>
public sealed class PiholeSourceTests : IAsyncLifetime
{
    private readonly FakePihole pihole = new();
    private readonly string directory = Directory.CreateTempSubdirectory("cw-dns-pihole-").FullName;
    private readonly HttpClient http = new();
    private readonly ManualClock clock = new(DateTimeOffset.UtcNow);

    public async ValueTask InitializeAsync() => await pihole.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await pihole.DisposeAsync();
        http.Dispose();
        Directory.Delete(directory, recursive: true);
    }

    private string State => Path.Combine(directory, "position.json");

    private PiholeV6Source V6(string? password = FakePihole.Password, int pageSize = 10, int lookback = 600) => new(http,
        new DnsCollectorConfig.PiholeSection { Url = pihole.Url, Password = password, PageSize = pageSize, InitialLookbackSeconds = lookback },
        State, clock, NullLogger.Instance);

    private PiholeV5Source V5(string token = FakePihole.ApiToken, int lookback = 600) => new(http,
        new DnsCollectorConfig.PiholeSection { Url = pihole.Url, ApiVersion = 5, ApiToken = token, InitialLookbackSeconds = lookback }, State, clock);

    [Theory]
    [InlineData(6)]
    [InlineData(5)]
    public async Task A_long_backlog_is_read_an_hour_at_a_time_oldest_first_without_gaps(int version)
    {
        var now = clock.GetUtcNow();
        pihole.Add(now.AddMinutes(-170), "old.example.com", "10.0.0.1");
        pihole.Add(now.AddMinutes(-100), "middle.example.com", "10.0.0.1");
        pihole.Add(now.AddSeconds(-10), "new.example.com", "10.0.0.1");
        await using IQuerySource source = version == 6 ? V6(lookback: 3 * 3600) : V5(lookback: 3 * 3600);
        var polls = new List<List<string>>();
        for (var i = 0; i < 5; i++)
        {
            polls.Add((await ReadAsync(source)).Select(q => q.Domain).ToList());
        }
        Assert.Equal(["old.example.com"], polls[0]);
        Assert.Equal(["old.example.com", "middle.example.com", "new.example.com"], polls.SelectMany(p => p));
        Assert.Equal(["new.example.com"], polls.First(p => p.Contains("new.example.com")));
    }

    private static async Task<IReadOnlyList<ObservedQuery>> ReadAsync(IQuerySource source)
    {
        var queries = await source.ReadAsync(CancellationToken.None);
        await source.CommitAsync(CancellationToken.None);
        return queries;
    }

    [Fact]
    public async Task V6_pages_through_every_query_oldest_first_with_its_outcome()
    {
        var at = clock.GetUtcNow().AddSeconds(-60);
        for (var i = 0; i < 23; i++)
        {
            pihole.Add(at.AddSeconds(i), $"host{i}.example.com", $"10.0.0.{i % 4 + 1}");
        }
        pihole.Add(at.AddSeconds(30), "ads.example.net", "10.0.0.1", status: "GRAVITY");
        pihole.Add(at.AddSeconds(31), "nope.example.net", "10.0.0.1", reply: "NXDOMAIN");
        pihole.Add(at.AddSeconds(32), "cname.example.net", "10.0.0.1", status: "REGEX_CNAME");
        await using var source = V6();
        var queries = await ReadAsync(source);
        Assert.Equal(26, queries.Count);
        Assert.Equal(Enumerable.Range(0, 23).Select(i => $"host{i}.example.com"), queries.Take(23).Select(q => q.Domain));
        Assert.Equal(QueryOutcome.Blocked, queries[23].Outcome);
        Assert.Equal(QueryOutcome.NxDomain, queries[24].Outcome);
        Assert.Equal(QueryOutcome.Blocked, queries[25].Outcome);
        Assert.Equal("10.0.0.1", queries[0].Client);
        Assert.True(pihole.QueryRequests >= 3, $"{pihole.QueryRequests} requests for 26 queries in pages of 10");
        Assert.Equal(1, source.Logins);
    }

    [Fact]
    public async Task V6_logs_in_again_when_the_session_expired_and_neither_repeats_nor_skips()
    {
        var at = clock.GetUtcNow().AddSeconds(-30);
        pihole.Add(at, "one.example.com", "10.0.0.1");
        await using var source = V6();
        Assert.Equal(["one.example.com"], (await ReadAsync(source)).Select(q => q.Domain));
        pihole.ExpireSessions();
        pihole.Add(at, "two.example.com", "10.0.0.2"); // same second as the first: only the id tells them apart
        pihole.Add(at.AddSeconds(1), "three.example.com", "10.0.0.2");
        Assert.Equal(["two.example.com", "three.example.com"], (await ReadAsync(source)).Select(q => q.Domain));
        Assert.Equal(2, source.Logins);
        Assert.True(pihole.Unauthorized >= 1);
    }

    [Fact]
    public async Task V6_after_a_restart_reads_what_was_not_committed_and_nothing_else()
    {
        var at = clock.GetUtcNow().AddSeconds(-30);
        pihole.Add(at, "one.example.com", "10.0.0.1");
        await using (var source = V6())
        {
            await ReadAsync(source);
            pihole.Add(at.AddSeconds(2), "two.example.com", "10.0.0.1");
            Assert.Single(await source.ReadAsync(CancellationToken.None)); // read, then the collector died before committing
        }
        pihole.Add(at.AddSeconds(3), "three.example.com", "10.0.0.1");
        await using var restarted = V6();
        Assert.Equal(["two.example.com", "three.example.com"], (await ReadAsync(restarted)).Select(q => q.Domain));
    }

    [Fact]
    public async Task V6_logs_out_on_exit()
    {
        pihole.Add(clock.GetUtcNow().AddSeconds(-5), "one.example.com", "10.0.0.1");
        var source = V6();
        await ReadAsync(source);
        Assert.Equal(1, pihole.ActiveSessions);
        await source.DisposeAsync();
        Assert.Equal(0, pihole.ActiveSessions);
        Assert.Equal(1, pihole.Logouts);
    }

    [Fact]
    public async Task V6_wrong_password_is_a_configuration_error()
    {
        await using var source = V6(password: "wrong");
        var error = await Assert.ThrowsAsync<ConfigurationException>(() => source.ReadAsync(CancellationToken.None));
        Assert.Contains("password was refused", error.Message);
    }

    [Fact]
    public async Task V6_without_free_seats_is_retried_later_not_fatal()
    {
        pihole.Seats = 0;
        await using var source = V6();
        await Assert.ThrowsAsync<HttpRequestException>(() => source.ReadAsync(CancellationToken.None));
    }

    [Fact]
    public async Task V5_reads_rows_with_the_token_and_resumes_within_a_second()
    {
        var at = DateTimeOffset.FromUnixTimeSeconds(clock.GetUtcNow().ToUnixTimeSeconds() - 20);
        pihole.Add(at, "one.example.com", "10.0.0.1");
        pihole.Add(at, "two.example.com", "10.0.0.2", status: "GRAVITY");
        await using (var source = V5())
        {
            var first = await ReadAsync(source);
            Assert.Equal(["one.example.com", "two.example.com"], first.Select(q => q.Domain));
            Assert.Equal(QueryOutcome.Blocked, first[1].Outcome);
            pihole.Add(at, "three.example.com", "10.0.0.1", reply: "NXDOMAIN"); // same second, after our read
            var second = await ReadAsync(source);
            Assert.Equal(["three.example.com"], second.Select(q => q.Domain));
            Assert.Equal(QueryOutcome.NxDomain, second[0].Outcome);
        }
        pihole.Add(at.AddSeconds(1), "four.example.com", "10.0.0.1");
        await using var restarted = V5();
        Assert.Equal(["four.example.com"], (await ReadAsync(restarted)).Select(q => q.Domain));
        Assert.Empty(await ReadAsync(restarted));
    }

    [Fact]
    public async Task V5_wrong_token_is_a_configuration_error()
    {
        await using var source = V5(token: "nope");
        var error = await Assert.ThrowsAsync<ConfigurationException>(() => source.ReadAsync(CancellationToken.None));
        Assert.Contains("api_token", error.Message);
    }
}
