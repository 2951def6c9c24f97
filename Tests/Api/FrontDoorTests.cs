using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Api;

/// <summary>
/// Host checks and forwarded headers on a real API process (no silo: the reads used here go to PostgreSQL only),
/// with a read bucket of 5 so whose bucket a request drew from shows.
/// </summary>
public sealed class FrontDoorTests : IAsyncLifetime
{
    private TestDatabase db = null!;

    public async ValueTask InitializeAsync() => db = await TestDatabase.CreateAsync();

    public async ValueTask DisposeAsync() => await db.DisposeAsync();

    [Fact]
    public async Task A_host_header_of_another_name_is_refused_with_400_and_the_loopback_names_pass()
    {
        await using var api = await StartAsync(anonymousRole: "read");
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(api, "/targets?limit=1", host: "evil.example")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(api, "/service-info", host: "evil.example:" + api.Url.Port)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(api, "/targets?limit=1", host: "localhost:" + api.Url.Port)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(api, "/targets?limit=1")).StatusCode);
    }

    [Fact]
    public async Task Configured_allowed_hosts_replace_the_defaults()
    {
        await using var api = await StartAsync(anonymousRole: "read", extra: new() { ["CYBERWATCH_API_ALLOWED_HOSTS"] = "lg.example.net" }, host: "lg.example.net");
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(api, "/targets?limit=1", host: "lg.example.net")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(api, "/targets?limit=1", host: "evil.example")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(api, "/targets?limit=1")).StatusCode);
    }

    [Fact]
    public async Task A_forged_x_forwarded_for_from_an_untrusted_address_is_ignored_and_takes_no_admin_role()
    {
        await using var api = await StartAsync(anonymousRole: "admin");
        // Ten "different clients" by header, one by socket: the one bucket of 5 runs dry.
        var statuses = new List<HttpStatusCode>();
        for (var i = 1; i <= 10; i++)
        {
            statuses.Add((await SendAsync(api, "/targets?limit=1", forwardedFor: $"203.0.113.{i}")).StatusCode);
        }
        Assert.Equal(5, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(5, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
    }

    [Fact]
    public async Task Anonymous_admin_is_only_for_requests_without_a_proxys_headers()
    {
        await using var api = await StartAsync(anonymousRole: "admin");
        // Loopback with a proxy's header is a proxy we were not told about: the caller may read at most.
        using var forwarded = await SendAsync(api, "/settings", forwardedFor: "203.0.113.9");
        Assert.Equal(HttpStatusCode.Unauthorized, forwarded.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(api, "/targets?limit=1", forwardedFor: "203.0.113.9")).StatusCode);
        using var local = await SendAsync(api, "/settings");
        Assert.Equal(HttpStatusCode.OK, local.StatusCode);
    }

    [Fact]
    public async Task Behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket()
    {
        await using var api = await StartAsync(anonymousRole: "read", extra: new() { ["CYBERWATCH_API_TRUSTED_PROXIES"] = "127.0.0.0/8, ::1" });
        for (var i = 1; i <= 10; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(api, "/targets?limit=1", forwardedFor: $"203.0.113.{i}")).StatusCode);
        }
        var one = new List<HttpStatusCode>();
        for (var i = 0; i < 7; i++)
        {
            one.Add((await SendAsync(api, "/targets?limit=1", forwardedFor: "198.51.100.7")).StatusCode);
        }
        Assert.Equal(5, one.Count(s => s == HttpStatusCode.OK));
        using var limited = await SendAsync(api, "/targets?limit=1", forwardedFor: "198.51.100.7");
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Contains("reads a minute per client", (await limited.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Anonymous_probe_behind_a_proxy_or_a_malformed_proxy_list_stops_the_api_with_one_line()
    {
        var environment = Environment("probe", new() { ["CYBERWATCH_API_TRUSTED_PROXIES"] = "127.0.0.1" }, out _);
        var (exitCode, output) = await RunToExitAsync(environment);
        Assert.Equal(2, exitCode);
        Assert.Contains("not allowed behind a proxy", output);

        environment = Environment("read", new() { ["CYBERWATCH_API_TRUSTED_PROXIES"] = "proxy.example" }, out _);
        (exitCode, output) = await RunToExitAsync(environment);
        Assert.Equal(2, exitCode);
        Assert.Contains("'proxy.example' is neither an address nor a prefix", output);
    }

    private sealed class Api(NodeProcess process, Uri url) : IAsyncDisposable
    {
        public NodeProcess Process { get; } = process;
        public Uri Url { get; } = url;
        public HttpClient Http { get; } = new() { BaseAddress = url, Timeout = TimeSpan.FromSeconds(30) };

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await Process.DisposeAsync();
        }
    }

    private Dictionary<string, string?> Environment(string anonymousRole, Dictionary<string, string?>? extra, out string url)
    {
        var environment = new NodeEnvironment(db.ConnectionString, "cw-" + Guid.NewGuid().ToString("n")[..8]).Api(out url);
        environment["CYBERWATCH_API_ANONYMOUS_ROLE"] = anonymousRole;
        environment["CYBERWATCH_API_READ_RATE_PER_MINUTE"] = "1";
        environment["CYBERWATCH_API_READ_BURST"] = "5";
        foreach (var (name, value) in extra ?? [])
        {
            environment[name] = value;
        }
        return environment;
    }

    private async Task<Api> StartAsync(string anonymousRole, Dictionary<string, string?>? extra = null, string? host = null)
    {
        var environment = Environment(anonymousRole, extra, out var url);
        var api = new Api(NodeProcess.Start(Repository.ApiDll, environment), new Uri(url));
        // Up once /health answers at all (503 without a silo is an answer; /health is outside the read limit).
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            try
            {
                using var response = await SendAsync(api, "/health", host: host);
                Assert.NotEqual(HttpStatusCode.BadRequest, response.StatusCode);
                return api;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(250);
            }
        }
    }

    private static async Task<HttpResponseMessage> SendAsync(Api api, string path, HttpMethod? method = null, string? host = null, string? forwardedFor = null)
    {
        using var request = new HttpRequestMessage(method ?? HttpMethod.Get, path);
        if (host is not null)
        {
            request.Headers.Host = host;
        }
        if (forwardedFor is not null)
        {
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        }
        return await api.Http.SendAsync(request);
    }

    private static async Task<(int, string)> RunToExitAsync(Dictionary<string, string?> environment)
    {
        await using var api = NodeProcess.Start(Repository.ApiDll, environment);
        return await api.WaitForExitAsync(TimeSpan.FromSeconds(60));
    }
}
