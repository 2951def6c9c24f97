using System.Text.Json;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Hosting;

/// <summary>
/// Real silo and API processes with mutual TLS: certificates of the cluster CA let a node in, anything
/// else is refused. Each silo advertises its own 127.0.0.x address, as machines of a cluster would.
/// </summary>
public sealed class ClusterTlsTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    /// <summary>
    /// How long a refused node is watched to see that it stays out: an API or silo with the right certificate joins
    /// within a few seconds of answering (the first test), so 12 s out is well past that; 25 s proved no more.
    /// </summary>
    private static readonly TimeSpan RefusalWindow = TimeSpan.FromSeconds(12);

    [Fact]
    public async Task Silos_with_certificates_of_the_cluster_ca_form_one_cluster_and_an_api_with_one_calls_a_grain()
    {
        await using var db = await TestDatabase.CreateAsync();
        using var certificates = await ClusterCertificates.CreateAsync();
        var node = new NodeEnvironment(db.ConnectionString, "cw-" + Guid.NewGuid().ToString("n")[..8]);

        await using var first = await StartSiloAsync(node, "127.0.0.2", await certificates.NodeAsync("silo-a", "127.0.0.2"));
        await using var second = await StartSiloAsync(node, "127.0.0.3", await certificates.NodeAsync("silo-b", "127.0.0.3"));
        await ClusterOnPostgresTests.WaitUntilAsync(async () => await ActiveSilosAsync(db, node) == 2, StartTimeout);

        await using var api = NodeProcess.Start(Repository.ApiDll, node.Api(out var apiUrl).With(await certificates.NodeAsync("api")));
        using var http = new HttpClient();
        // /service-info asks the management grain for the active silos, through a TLS gateway connection.
        await ClusterOnPostgresTests.WaitUntilAsync(async () =>
            (await ServiceInfoAsync(http, apiUrl))?.GetProperty("siloCount").GetInt32() == 2, StartTimeout);
        Assert.Contains("Cluster TLS on", first.Output);
        Assert.Contains("Cluster TLS on", api.Output);
        Assert.DoesNotContain("Refused the TLS certificate", first.Output + second.Output + api.Output);
    }

    [Fact]
    public async Task A_silo_with_a_certificate_of_another_ca_never_becomes_active_and_its_log_says_why()
    {
        await using var db = await TestDatabase.CreateAsync();
        using var certificates = await ClusterCertificates.CreateAsync();
        using var strangers = await ClusterCertificates.CreateAsync();
        var node = new NodeEnvironment(db.ConnectionString, "cw-" + Guid.NewGuid().ToString("n")[..8]);
        await using var member = await StartSiloAsync(node, "127.0.0.2", await certificates.NodeAsync("member", "127.0.0.2"));
        await ClusterOnPostgresTests.WaitUntilAsync(async () => await ActiveSilosAsync(db, node) == 1, StartTimeout);

        // The stranger's own CA file is consistent with its certificate, so it passes its start-up checks.
        await using var stranger = NodeProcess.Start(Repository.SiloDll, node.Silo(out var strangerPort, out _, out _)
            .With(await strangers.NodeAsync("stranger", "127.0.0.3"))
            .With(new Dictionary<string, string?> { ["CYBERWATCH_ADVERTISED_ADDRESS"] = "127.0.0.3" }));
        await ClusterOnPostgresTests.WaitUntilAsync(async () => await db.ScalarAsync<long>(
            $"SELECT count(*) FROM orleans_membership WHERE deploymentid = '{node.ClusterId}' AND port = {strangerPort}") == 1 || stranger.HasExited, StartTimeout);

        var until = DateTime.UtcNow + RefusalWindow;
        while (DateTime.UtcNow < until)
        {
            Assert.Equal(0, await db.ScalarAsync<long>(
                $"SELECT count(*) FROM orleans_membership WHERE deploymentid = '{node.ClusterId}' AND port = {strangerPort} AND status = 3"));
            Assert.Equal(1, await ActiveSilosAsync(db, node));
            await Task.Delay(500);
        }
        Assert.Contains("Refused the TLS certificate of a cluster peer CN=member", stranger.Output);
        Assert.Contains("not by the cluster CA", stranger.Output);
        Assert.False(member.HasExited, member.Output);
    }

    [Fact]
    public async Task An_api_without_a_certificate_or_with_one_of_another_ca_cannot_call_a_grain()
    {
        await using var db = await TestDatabase.CreateAsync();
        using var certificates = await ClusterCertificates.CreateAsync();
        using var strangers = await ClusterCertificates.CreateAsync();
        var node = new NodeEnvironment(db.ConnectionString, "cw-" + Guid.NewGuid().ToString("n")[..8]);
        await using var silo = await StartSiloAsync(node, "127.0.0.2", await certificates.NodeAsync("silo", "127.0.0.2"));
        await ClusterOnPostgresTests.WaitUntilAsync(async () => await ActiveSilosAsync(db, node) == 1, StartTimeout);

        await using (var plaintext = NodeProcess.Start(Repository.ApiDll, node.Api(out var plaintextUrl)))
        {
            await AssertClusterStaysUnreachableAsync(plaintext, plaintextUrl);
        }
        await using (var stranger = NodeProcess.Start(Repository.ApiDll, node.Api(out var strangerUrl).With(await strangers.NodeAsync("api"))))
        {
            await AssertClusterStaysUnreachableAsync(stranger, strangerUrl);
            Assert.Contains("Refused the TLS certificate of a cluster peer CN=silo", stranger.Output);
        }
    }

    private static async Task AssertClusterStaysUnreachableAsync(NodeProcess api, string apiUrl)
    {
        await api.WaitForHttpAsync($"{apiUrl}/service-info", StartTimeout);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var until = DateTime.UtcNow + RefusalWindow;
        while (DateTime.UtcNow < until)
        {
            using var response = await http.GetAsync($"{apiUrl}/health");
            var health = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            var cluster = health.GetProperty("checks").GetProperty("cluster");
            Assert.True(cluster.GetProperty("status").GetString() == "Unhealthy", cluster.ToString());
            await Task.Delay(1000);
        }
    }

    private static async Task<NodeProcess> StartSiloAsync(NodeEnvironment node, string address, Dictionary<string, string?> tls)
    {
        var environment = node.Silo(out _, out _, out var httpUrl).With(tls);
        environment["CYBERWATCH_ADVERTISED_ADDRESS"] = address;
        var silo = NodeProcess.Start(Repository.SiloDll, environment);
        await silo.WaitForHttpAsync($"{httpUrl}/healthz", StartTimeout);
        return silo;
    }

    private static Task<long> ActiveSilosAsync(TestDatabase db, NodeEnvironment node) => db.ScalarAsync<long>(
        $"SELECT count(*) FROM orleans_membership WHERE deploymentid = '{node.ClusterId}' AND status = 3");

    private static async Task<JsonElement?> ServiceInfoAsync(HttpClient http, string apiUrl)
    {
        try
        {
            return JsonDocument.Parse(await http.GetStringAsync($"{apiUrl}/service-info")).RootElement;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }
}
