using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Api;

/// <summary>API keys and roles on a real silo and API: 401 without or with a bad key, 403 with too small a role.</summary>
public sealed class AccessTests(ApiNode node) : IClassFixture<ApiNode>
{
    [Fact]
    public async Task Without_a_key_reads_are_refused_with_401_and_a_problem_body_but_health_stays_open()
    {
        var anonymous = node.Client(null);
        var response = await anonymous.GetAsync("/targets");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(401, problem.GetProperty("status").GetInt32());
        Assert.Contains("Bearer", problem.GetProperty("detail").GetString());
        Assert.StartsWith("Bearer", response.Headers.WwwAuthenticate.ToString());

        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/service-info")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/openapi/v1.json")).StatusCode);
    }

    [Fact]
    public async Task An_unknown_or_malformed_key_is_401_with_the_reason()
    {
        var unknown = await node.Client("cw_abcdefgh_" + new string('x', 43)).GetAsync("/targets");
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        Assert.Contains("unknown or revoked", await unknown.Content.ReadAsStringAsync());

        // A real key's id with a wrong secret is as unknown as any other.
        var forged = await node.Client(node.ReadKey[..12] + new string('A', node.ReadKey.Length - 12)).GetAsync("/targets");
        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/targets");
        request.Headers.Authorization = new AuthenticationHeaderValue("Token", node.ReadKey);
        var wrongScheme = await node.Client(null).SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongScheme.StatusCode);
        Assert.Contains("Bearer KEY", await wrongScheme.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Roles_read_probe_admin_each_open_their_endpoints_and_get_403_above()
    {
        var read = node.Client(node.ReadKey);
        var probe = node.Client(node.ProbeKey);
        Assert.Equal(HttpStatusCode.OK, (await read.GetAsync("/targets")).StatusCode);

        var readProbes = await read.PostAsJsonAsync("/traceroute/run", new { target = "127.0.0.40" });
        Assert.Equal(HttpStatusCode.Forbidden, readProbes.StatusCode);
        var problem = await readProbes.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("this needs a key with role probe; the key sent has role read", problem.GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, (await read.PostAsJsonAsync("/targets/enqueue", new { target = "127.0.0.41" })).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await probe.PostAsJsonAsync("/targets/enqueue", new { target = "127.0.0.41" })).StatusCode);
        var probeDeletes = await probe.DeleteAsync("/targets/127.0.0.41");
        Assert.Equal(HttpStatusCode.Forbidden, probeDeletes.StatusCode);
        Assert.Contains("role admin", await probeDeletes.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NoContent, (await node.Http.DeleteAsync("/targets/127.0.0.41")).StatusCode);
    }

    [Fact]
    public async Task Dns_data_and_dns_only_targets_need_the_dns_role_and_stay_hidden_from_read()
    {
        var dnsKey = await ApiKeys.CreateAsync(node.Database.ConnectionString, "dns");
        Assert.Equal("dns", await node.Database.ScalarAsync<string>($"SELECT role FROM api_keys WHERE id = '{dnsKey[3..11]}'"));
        // 127.0.0.77 is known only from the resolver; 127.0.0.78 was also enqueued by the operator.
        Assert.Equal(HttpStatusCode.OK, (await node.Http.PutAsJsonAsync("/targets/127.0.0.77", new { source = "dns" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await node.Http.PutAsJsonAsync("/targets/127.0.0.78", new { source = "api" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await node.Http.PutAsJsonAsync("/targets/127.0.0.78", new { source = "dns" })).StatusCode);
        await node.Database.ScalarAsync<object>(
            "INSERT INTO dns_queries (domain_key, domain_policy, qtype, hour, query_count) VALUES ('visited.example', 'plain', 'A', date_trunc('hour', now()), 3)");

        var read = node.Client(node.ReadKey);
        var readDns = await read.GetAsync("/dns/top-domains");
        Assert.Equal(HttpStatusCode.Forbidden, readDns.StatusCode);
        Assert.Contains("role dns", await readDns.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Forbidden, (await read.GetAsync("/dns/top-asns")).StatusCode);
        // Probe is not above dns: what users looked up is not part of running probes.
        Assert.Equal(HttpStatusCode.Forbidden, (await node.Client(node.ProbeKey).GetAsync("/dns/top-domains")).StatusCode);
        var readBySource = await read.GetAsync("/targets?source=dns");
        Assert.Equal(HttpStatusCode.Forbidden, readBySource.StatusCode);
        Assert.Contains("role dns", await readBySource.Content.ReadAsStringAsync());
        var readList = await TargetsAsync(read, "/targets?limit=1000&count=true");
        Assert.DoesNotContain("127.0.0.77", readList.Keys);
        Assert.Equal(["api"], readList["127.0.0.78"]);
        Assert.Equal(HttpStatusCode.NotFound, (await read.GetAsync("/targets/127.0.0.77")).StatusCode);
        var shared = await read.GetFromJsonAsync<JsonElement>("/targets/127.0.0.78");
        Assert.DoesNotContain("dns", shared.GetProperty("sources").EnumerateArray().Select(s => s.GetString()));

        var dns = node.Client(dnsKey);
        var top = await dns.GetFromJsonAsync<JsonElement>("/dns/top-domains");
        Assert.Contains("visited.example", top.EnumerateArray().Select(d => d.GetProperty("domain").GetString()));
        var dnsList = await TargetsAsync(dns, "/targets?source=dns&limit=1000");
        Assert.Equal(["dns"], dnsList["127.0.0.77"]);
        Assert.Equal(["api", "dns"], dnsList["127.0.0.78"].Order().ToArray());
        Assert.Equal(HttpStatusCode.OK, (await dns.GetAsync("/targets/127.0.0.77")).StatusCode);
        // The dns role reads; it does not probe.
        Assert.Equal(HttpStatusCode.Forbidden, (await dns.PostAsJsonAsync("/targets/enqueue", new { target = "127.0.0.79" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await node.Http.GetAsync("/dns/top-domains")).StatusCode);
        Assert.Contains("127.0.0.77", (await TargetsAsync(node.Http, "/targets?limit=1000")).Keys);
    }

    private static async Task<Dictionary<string, string[]>> TargetsAsync(HttpClient client, string path)
    {
        var page = await client.GetFromJsonAsync<JsonElement>(path);
        return page.GetProperty("items").EnumerateArray().ToDictionary(t => t.GetProperty("ip").GetString()!,
            t => t.GetProperty("sources").EnumerateArray().Select(s => s.GetString()!).ToArray());
    }

    [Fact]
    public async Task The_dashboard_needs_an_admin_key_and_a_browser_may_send_it_as_basic_auth()
    {
        var anonymous = await node.Client(null).GetAsync("/dashboard");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.StartsWith("Basic", anonymous.Headers.WwwAuthenticate.ToString());
        Assert.Equal(HttpStatusCode.Forbidden, (await node.Client(node.ProbeKey).GetAsync("/dashboard")).StatusCode);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/dashboard/");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + node.AdminKey)));
        var admin = await node.Client(null).SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
    }

    [Fact]
    public async Task A_revoked_key_stops_working()
    {
        var key = await ApiKeys.CreateAsync(node.Database.ConnectionString, "read");
        var client = node.Client(key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/targets")).StatusCode);

        var environment = new Dictionary<string, string?> { ["CYBERWATCH_PG_DSN"] = node.Database.ConnectionString };
        await using (var revoke = NodeProcess.Start(Repository.ApiDll, environment, "apikey", "revoke", key[3..11]))
        {
            var (exitCode, output) = await revoke.WaitForExitAsync(TimeSpan.FromSeconds(60));
            Assert.True(exitCode == 0, output);
        }
        Assert.Equal(1, await node.Database.ScalarAsync<long>($"SELECT count(*) FROM api_keys WHERE id = '{key[3..11]}' AND revoked_at IS NOT NULL"));
        // Keys are cached for 10 s.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await client.GetAsync("/targets")).StatusCode != HttpStatusCode.Unauthorized)
        {
            Assert.True(DateTime.UtcNow < deadline, "the revoked key still works after 20 s");
            await Task.Delay(500);
        }
    }

    [Fact]
    public async Task Keys_are_stored_as_hashes_only()
    {
        var id = node.AdminKey[3..11];
        Assert.Equal(32, await node.Database.ScalarAsync<int>($"SELECT length(secret_hash) FROM api_keys WHERE id = '{id}'"));
        Assert.Equal(0, await node.Database.ScalarAsync<long>(
            $"SELECT count(*) FROM api_keys WHERE position('{node.AdminKey[12..]}' in secret_hash::text || name) > 0"));
    }
}

/// <summary>An API told to listen on a non-loopback address refuses to start while it would be exposed unsafely.</summary>
public sealed class ExposureTests
{
    [Fact]
    public async Task Bound_to_all_addresses_the_api_refuses_to_start_without_an_admin_key_or_with_weak_secrets()
    {
        await using var db = await TestDatabase.CreateAsync();
        var node = new NodeEnvironment(db.ConnectionString, "cw-" + Guid.NewGuid().ToString("n")[..8]);
        var environment = node.Api(out _, redisUrl: "redis://:a-long-unique-redis-secret@127.0.0.1:1");
        environment["CYBERWATCH_API_ANONYMOUS_ROLE"] = "none";
        var port = Repository.FreeTcpPort();
        environment["CYBERWATCH_API_URL"] = $"http://0.0.0.0:{port}";
        // Plain HTTP off loopback is for an API behind a TLS proxy (ApiTlsTests has the API's own HTTPS).
        environment["CYBERWATCH_API_TRUSTED_PROXIES"] = "127.0.0.1";

        var (exitCode, output) = await RunAsync(environment);
        Assert.Equal(2, exitCode);
        Assert.Contains("no admin API key", output);

        await ApiKeys.CreateAsync(db.ConnectionString, "admin");
        environment["CYBERWATCH_REDIS_URL"] = "127.0.0.1:1";
        (exitCode, output) = await RunAsync(environment);
        Assert.Equal(2, exitCode);
        Assert.Contains("Redis password", output);
        Assert.DoesNotContain("admin API key", output);

        environment["CYBERWATCH_REDIS_URL"] = "redis://:changeme@127.0.0.1:1";
        (exitCode, output) = await RunAsync(environment);
        Assert.Equal(2, exitCode);
        Assert.Contains("Redis password", output);

        environment["CYBERWATCH_REDIS_URL"] = "redis://:a-long-unique-redis-secret@127.0.0.1:1";
        environment["CYBERWATCH_API_ANONYMOUS_ROLE"] = "admin";
        (exitCode, output) = await RunAsync(environment);
        Assert.Equal(2, exitCode);
        Assert.Contains("only on a loopback address", output);

        // All well: it starts and answers on the address it was given.
        environment["CYBERWATCH_API_ANONYMOUS_ROLE"] = "none";
        await using var api = NodeProcess.Start(Repository.ApiDll, environment);
        await api.WaitForHttpAsync($"http://127.0.0.1:{port}/service-info", TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task A_default_postgres_password_is_refused_on_a_non_loopback_address()
    {
        var environment = new NodeEnvironment("Host=127.0.0.1;Port=1;Username=cyberwatch;Password=postgres;Database=x", "cw-x")
            .Api(out _, redisUrl: "redis://:a-long-unique-redis-secret@127.0.0.1:1");
        environment["CYBERWATCH_API_ANONYMOUS_ROLE"] = "none";
        environment["CYBERWATCH_API_URL"] = $"http://0.0.0.0:{Repository.FreeTcpPort()}";
        environment["CYBERWATCH_API_TRUSTED_PROXIES"] = "127.0.0.1";
        var (exitCode, output) = await RunAsync(environment);
        Assert.Equal(2, exitCode);
        Assert.Contains("PostgreSQL password", output);
    }

    private static async Task<(int, string)> RunAsync(Dictionary<string, string?> environment)
    {
        await using var api = NodeProcess.Start(Repository.ApiDll, environment);
        return await api.WaitForExitAsync(TimeSpan.FromSeconds(60));
    }
}
