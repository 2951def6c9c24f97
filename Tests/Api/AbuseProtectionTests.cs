using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace CyberWatch.Tests.Api;

/// <summary>A node with tight limits: 20 probe requests a minute per client, one probe in flight, results cached 30 s.</summary>
public sealed class LimitedApiNode : ApiNode
{
    protected override void Configure(Dictionary<string, string?> apiEnvironment)
    {
        // 127.0.0.1 itself stays refused, like any loopback address; the upper half of 127.0.0.0/24 may be probed.
        apiEnvironment["CYBERWATCH_ALLOWED_TARGETS"] = "127.0.0.128/25";
        apiEnvironment["CYBERWATCH_API_PROBE_RATE_PER_MINUTE"] = "20";
        apiEnvironment["CYBERWATCH_API_MAX_CONCURRENT_PROBES"] = "1";
    }
}

public sealed class AbuseProtectionTests(LimitedApiNode node) : IClassFixture<LimitedApiNode>
{
    [Theory]
    [InlineData("-oX", "neither an IP address nor a host name")]
    [InlineData("1.1.1.1; rm -rf /", "neither an IP address nor a host name")]
    [InlineData("127.0.0.1", "127.0.0.1 is a loopback address")]
    [InlineData("10.0.0.1", "10.0.0.1 is a private address")]
    [InlineData("::1", "::1 is a loopback address")]
    [InlineData("localhost", "localhost resolves to")]
    [InlineData("no-such-host.invalid", "no-such-host.invalid does not resolve")]
    [InlineData("$(reboot)", "neither an IP address nor a host name")]
    [InlineData("", "a target is required")]
    public async Task Hostile_targets_get_400_with_the_reason(string target, string reason)
    {
        var response = await node.Http.PostAsJsonAsync("/traceroute/run", new { target });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains(reason, problem.GetProperty("detail").GetString());
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_long_target_and_an_unknown_member_are_refused_with_what_was_wrong()
    {
        var tooLong = await node.Http.PostAsJsonAsync("/traceroute/run", new { target = new string('a', 300) + ".example" });
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        Assert.Contains("longer than 253 characters", await tooLong.Content.ReadAsStringAsync());

        var unknown = await node.Http.PostAsync("/traceroute/run",
            new StringContent("""{"target": "127.0.0.200", "command": "rm -rf /"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Contains("'command'", (await unknown.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());

        var notJson = await node.Http.PostAsync("/targets/enqueue", new StringContent("{target: ", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        Assert.Contains("JSON", await notJson.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_10_MB_body_is_refused_with_413_and_a_clear_message_whether_its_length_is_announced_or_not()
    {
        var body = Encoding.UTF8.GetBytes("{\"target\": \"" + new string('1', 10 * 1024 * 1024) + "\"}");
        var (status, answer) = await RawPostAsync("/targets/enqueue", $"Content-Length: {body.Length}", body, chunked: false);
        Assert.Equal(413, status);
        Assert.Contains("takes at most 1048576 bytes", answer);

        (status, answer) = await RawPostAsync("/targets/enqueue", "Transfer-Encoding: chunked", body, chunked: true);
        Assert.Equal(413, status);
        Assert.Contains("larger than the 1048576 bytes this API takes", answer);
    }

    /// <summary>
    /// Sends a body over a plain socket and reads the answer even when the server stops reading early, which
    /// HttpClient reports as a failed send instead of the answer.
    /// </summary>
    private async Task<(int Status, string Body)> RawPostAsync(string path, string lengthHeader, byte[] body, bool chunked)
    {
        var url = new Uri(node.Url);
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(url.Host, url.Port);
        var stream = tcp.GetStream();
        var head = $"POST {path} HTTP/1.1\r\nHost: {url.Authority}\r\nAuthorization: Bearer {node.AdminKey}\r\n" +
                   $"Content-Type: application/json\r\n{lengthHeader}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        try
        {
            for (var offset = 0; offset < body.Length; offset += 64 * 1024)
            {
                var count = Math.Min(64 * 1024, body.Length - offset);
                if (chunked)
                {
                    await stream.WriteAsync(Encoding.ASCII.GetBytes($"{count:x}\r\n"));
                }
                await stream.WriteAsync(body.AsMemory(offset, count));
                if (chunked)
                {
                    await stream.WriteAsync("\r\n"u8.ToArray());
                }
            }
            if (chunked)
            {
                await stream.WriteAsync("0\r\n\r\n"u8.ToArray());
            }
        }
        catch (IOException)
        {
            // The server answered and closed while the body was still being sent: read what it said.
        }
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var response = await reader.ReadToEndAsync();
        var status = int.Parse(response.Split(' ', 3)[1]);
        return (status, response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]);
    }

    [Fact]
    public async Task Each_client_gets_its_own_probe_rate_limit_with_retry_after()
    {
        var client = node.Client(await ApiKeys.CreateAsync(node.Database.ConnectionString, "probe"));
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsJsonAsync("/ping/run", new { target = "10.0.0.1" })).StatusCode);
        }
        var limited = await client.PostAsJsonAsync("/ping/run", new { target = "10.0.0.1" });
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.NotNull(limited.Headers.RetryAfter);
        Assert.Contains("20 on-demand probes a minute", await limited.Content.ReadAsStringAsync());

        // Another key is not held back by the first one's use.
        var other = node.Client(await ApiKeys.CreateAsync(node.Database.ConnectionString, "probe"));
        Assert.Equal(HttpStatusCode.BadRequest, (await other.PostAsJsonAsync("/ping/run", new { target = "10.0.0.1" })).StatusCode);
    }

    [Fact]
    public async Task A_probe_from_several_vantage_points_counts_one_probe_per_vantage_against_the_limit()
    {
        await node.Database.ScalarAsync<object>("INSERT INTO vantages (name) VALUES ('far-1'), ('far-2') ON CONFLICT DO NOTHING");
        var client = node.Client(await ApiKeys.CreateAsync(node.Database.ConnectionString, "probe"));
        // 20 a minute: ten requests from two vantages each take them all (the refused target answers 400 after counting).
        for (var i = 0; i < 10; i++)
        {
            var answer = await client.PostAsJsonAsync("/ping/run", new { target = "10.0.0.1", vantages = new[] { "far-1", "far-2" } });
            Assert.True(answer.StatusCode == HttpStatusCode.BadRequest, $"request {i + 1}: {(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync()}");
        }
        var limited = await client.PostAsJsonAsync("/ping/run", new { target = "10.0.0.1", vantages = new[] { "far-1" } });
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.NotNull(limited.Headers.RetryAfter);

        // More vantages than a minute's probes: refused outright, saying why.
        var other = node.Client(await ApiKeys.CreateAsync(node.Database.ConnectionString, "probe"));
        var names = Enumerable.Range(1, 21).Select(i => $"many-{i}").ToArray();
        await node.Database.ScalarAsync<object>(
            $"INSERT INTO vantages (name) SELECT unnest(ARRAY['{string.Join("','", names)}']) ON CONFLICT DO NOTHING");
        var tooMany = await other.PostAsJsonAsync("/ping/run", new { target = "10.0.0.1", vantages = names });
        Assert.Equal(HttpStatusCode.TooManyRequests, tooMany.StatusCode);
        Assert.Contains("asks for 21 (one per vantage point)", await tooMany.Content.ReadAsStringAsync());
        await node.Database.ScalarAsync<object>("DELETE FROM vantages WHERE name LIKE 'far-%' OR name LIKE 'many-%'");
    }

    [Fact]
    public async Task One_probe_in_flight_at_most_and_an_identical_probe_is_answered_from_the_cache()
    {
        var client = node.Client(await ApiKeys.CreateAsync(node.Database.ConnectionString, "probe"));
        // The slot may still be held by a probe of an earlier test on this shared node: start the mtr once it is free.
        var slow = client.PostAsJsonAsync("/mtr/run", new { target = "127.0.0.201" });
        for (var wait = 0; wait < 20 && await Task.WhenAny(slow, Task.Delay(300)) == slow
             && (await slow).StatusCode == HttpStatusCode.ServiceUnavailable; wait++)
        {
            await Task.Delay(500);
            slow = client.PostAsJsonAsync("/mtr/run", new { target = "127.0.0.201" });
        }
        HttpResponseMessage? refused = null;
        var deadline = DateTime.UtcNow.AddSeconds(5);
        // A new target each time: an attempt that got in before the mtr must not be answered from the cache after it.
        for (var i = 0; !slow.IsCompleted && DateTime.UtcNow < deadline && i < 40; i++)
        {
            var attempt = await client.PostAsJsonAsync("/traceroute/run", new { target = $"127.0.0.{210 + i}" });
            if (attempt.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                refused = attempt;
                break;
            }
            await Task.Delay(100);
        }
        if (refused is null)
        {
            var early = slow.IsCompleted ? await slow : null;
            Assert.Fail($"no 503 while the mtr ran; the mtr answered {early?.StatusCode} {(early is null ? "" : await early.Content.ReadAsStringAsync())}");
        }
        Assert.Contains("1 on-demand probes are running", await refused.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await slow).StatusCode);

        var first = await client.PostAsJsonAsync("/traceroute/run", new { target = "127.0.0.203" });
        var second = await client.PostAsJsonAsync("/traceroute/run", new { target = "127.0.0.203" });
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("miss", first.Headers.GetValues("X-Cache").Single());
        Assert.Equal("hit", second.Headers.GetValues("X-Cache").Single());
        var firstId = (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("measurement").GetProperty("id").GetInt64();
        var secondId = (await second.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("measurement").GetProperty("id").GetInt64();
        Assert.Equal(firstId, secondId);
        Assert.Equal(1, await node.Database.ScalarAsync<long>("SELECT count(*) FROM measurements WHERE target = '127.0.0.203'"));
    }

    [Fact]
    public async Task Cors_is_off_and_security_headers_are_set()
    {
        using var preflight = new HttpRequestMessage(HttpMethod.Options, "/traceroute/run");
        preflight.Headers.Add("Origin", "http://evil.example");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        var answer = await node.Http.SendAsync(preflight);
        Assert.False(answer.Headers.Contains("Access-Control-Allow-Origin"));

        using var get = new HttpRequestMessage(HttpMethod.Get, "/service-info");
        get.Headers.Add("Origin", "http://evil.example");
        var response = await node.Http.SendAsync(get);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Contains("default-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single());
    }
}
