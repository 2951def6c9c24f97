using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Lab;

/// <summary>
/// One cyberWatch cluster across the lab's vantages, as <c>scripts/lab node-up</c> runs it: a silo in each given
/// vantage's namespace advertising its lab address, all on one test database and one cluster id, and an API in the
/// default vantage's namespace. The silos reach each other over the lab's BGP routing.
/// </summary>
public sealed class LabCluster : IAsyncDisposable
{
    private readonly Dictionary<string, (NodeProcess Process, int Port)?> silos = [];
    private readonly Dictionary<string, string?> environment;
    private readonly string? tlsDirectory;

    private LabCluster(TestDatabase database, string clusterId, IReadOnlyList<LabVantage> vantages,
        Dictionary<string, string?> environment, string? tlsDirectory)
    {
        Database = database;
        ClusterId = clusterId;
        Vantages = vantages;
        this.environment = environment;
        this.tlsDirectory = tlsDirectory;
    }

    public TestDatabase Database { get; }
    public string ClusterId { get; }
    public IReadOnlyList<LabVantage> Vantages { get; }
    public NodeProcess? Api { get; private set; }

    /// <summary>The API's URL inside the default vantage's namespace (reach it with <see cref="LabFixture.CurlAsync"/>).</summary>
    public string ApiUrl { get; private set; } = "";

    /// <summary>The running silo of a vantage.</summary>
    public NodeProcess Silo(string vantage) => Running(vantage).Process;

    /// <summary>The endpoint a vantage's running silo advertises: its lab IPv4 address and silo port.</summary>
    public string SiloEndpoint(string vantage) => $"{Vantage(vantage).Address}:{Running(vantage).Port}";

    /// <summary>
    /// Starts a silo per vantage (every vantage of the lab when <paramref name="vantages"/> is null) and the API, on a
    /// database first adjusted by <paramref name="settingsSql"/>; <paramref name="overrides"/> wins over the environment.
    /// Returns once every silo is active in <c>orleans_membership</c> and the API is ready.
    /// </summary>
    /// <remarks>
    /// <paramref name="apiOnLabAddress"/>: the API listens with TLS (the default vantage's cluster certificate) on that
    /// vantage's lab address instead of its loopback, so that agents elsewhere in the lab can dial it.
    /// </remarks>
    public static async Task<LabCluster> StartAsync(LabFixture lab, IEnumerable<LabVantage>? vantages = null, string? settingsSql = null,
        IReadOnlyDictionary<string, string?>? overrides = null, bool apiOnLabAddress = false)
    {
        var chosen = (vantages ?? LabFixture.Vantages).ToList();
        var database = await TestDatabase.CreateAsync();
        if (settingsSql is not null)
        {
            await database.ScalarAsync<object>(settingsSql);
        }
        var clusterId = "lab-" + Guid.NewGuid().ToString("n")[..8];
        // What LabNode gives its node, shared by every process of the cluster.
        var environment = new Dictionary<string, string?>
        {
            ["CYBERWATCH_PG_DSN"] = database.ConnectionString,
            ["CYBERWATCH_CLUSTER_ID"] = clusterId,
            ["CYBERWATCH_SERVICE_ID"] = clusterId,
            ["CYBERWATCH_PREFIX_DATA"] = lab.PrefixFile,
            ["CYBERWATCH_IXP_PREFIXES"] = lab.IxpPrefixes(),
            ["CYBERWATCH_IXP_MEMBERS"] = lab.IxpMembers(),
            // Its own stream: a collector feeding the shared Redis must not lose entries to a test silo.
            ["CYBERWATCH_DNS_STREAM"] = $"cyberwatch:dns:{clusterId}",
            ["CYBERWATCH_REDIS_URL"] = Environment.GetEnvironmentVariable("CYBERWATCH_TEST_REDIS_URL") ?? "127.0.0.1:1",
            ["CYBERWATCH_API_ANONYMOUS_ROLE"] = "admin",
            // A vantage whose silos stop reporting in is down after 10 s, not a minute: tests wait for it.
            ["CYBERWATCH_VANTAGE_DOWN_AFTER_SECONDS"] = "10",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            environment[key] = value;
        }
        var tls = await ClusterTls.CreateAsync(chosen.Append(LabFixture.DefaultVantage).Distinct()
            .Select(v => (v.Name, v.Addresses.Select(a => a.ToString()))));
        var cluster = new LabCluster(database, clusterId, chosen, environment, tls);
        try
        {
            foreach (var vantage in chosen)
            {
                cluster.silos[vantage.Name] = cluster.StartSilo(vantage);
            }
            await LabNode.WaitUntilAsync(async () => await cluster.ActiveSilosAsync() == chosen.Count, TimeSpan.FromSeconds(120),
                () => string.Join("\n\n", cluster.silos.Select(s => $"silo of {s.Key}:\n{s.Value?.Process.Output}")));
            await cluster.StartApiAsync(apiOnLabAddress);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops a vantage's silo the way an operator does (SIGTERM: it leaves the cluster).</summary>
    public async Task StopAsync(string vantage)
    {
        var silo = Running(vantage).Process;
        silos[vantage] = null;
        await silo.DisposeAsync();
    }

    /// <summary>Kills a vantage's silo (SIGKILL): it says no goodbye, the others have to notice.</summary>
    public async Task KillAsync(string vantage)
    {
        var silo = Running(vantage).Process;
        silos[vantage] = null;
        silo.Kill();
        await silo.DisposeAsync();
    }

    /// <summary>Starts a stopped or killed vantage's silo again, on new ports, and waits until it is active.</summary>
    public async Task StartAsync(string vantage)
    {
        if (silos.GetValueOrDefault(vantage) is not null)
        {
            throw new InvalidOperationException($"the silo of vantage {vantage} is running");
        }
        var silo = StartSilo(Vantage(vantage));
        silos[vantage] = silo;
        var endpoint = SiloEndpoint(vantage);
        await LabNode.WaitUntilAsync(async () => (await ActiveEndpointsAsync()).Contains(endpoint), TimeSpan.FromSeconds(90),
            () => silo.Process.Output);
    }

    /// <summary>How many silos of this cluster <c>orleans_membership</c> lists as active.</summary>
    public Task<long> ActiveSilosAsync() =>
        Database.ScalarAsync<long>($"SELECT count(*) FROM orleans_membership WHERE deploymentid = '{ClusterId}' AND status = 3");

    /// <summary>"address:port" of each active silo, as the silos advertise themselves to each other.</summary>
    public async Task<List<string>> ActiveEndpointsAsync()
    {
        await using var command = Database.DataSource.CreateCommand(
            "SELECT address || ':' || port FROM orleans_membership WHERE deploymentid = @id AND status = 3 ORDER BY 1");
        command.Parameters.AddWithValue("id", ClusterId);
        await using var reader = await command.ExecuteReaderAsync();
        var endpoints = new List<string>();
        while (await reader.ReadAsync())
        {
            endpoints.Add(reader.GetString(0));
        }
        return endpoints;
    }

    public Task<(int Status, string Body)> PostAsync(string path, string json) => LabFixture.CurlAsync("POST", ApiUrl + path, json, ApiCa, AdminKey);

    public Task<(int Status, string Body)> GetAsync(string path) => LabFixture.CurlAsync("GET", ApiUrl + path, caFile: ApiCa, key: AdminKey);

    /// <summary>An admin key, when the API is off loopback (where it lets no one in anonymously); null otherwise.</summary>
    public string? AdminKey { get; private set; }

    /// <summary>The CA the API's certificate chains to when it serves TLS on the lab address; null otherwise.</summary>
    public string? ApiCa { get; private set; }

    private LabVantage Vantage(string name) =>
        Vantages.FirstOrDefault(v => v.Name == name) ?? throw new ArgumentException($"vantage {name} is not in this cluster", nameof(name));

    private (NodeProcess Process, int Port) Running(string vantage) =>
        silos.GetValueOrDefault(vantage) ?? throw new InvalidOperationException($"the silo of vantage {vantage} is not running");

    /// <summary>
    /// Starts a silo that is no member: this cluster's id and database, in <paramref name="vantage"/>'s namespace and
    /// under its name, but with the certificate of node <paramref name="vantage"/> from the CA in
    /// <paramref name="foreignTls"/> (its own files agree with each other, so it passes its start-up checks).
    /// Not tracked by the cluster: the caller disposes of it.
    /// </summary>
    public (NodeProcess Process, int Port) StartOutsider(string vantage, string foreignTls) =>
        StartSilo(Vantage(vantage), foreignTls);

    private (NodeProcess Process, int Port) StartSilo(LabVantage vantage, string? tls = null)
    {
        // Each namespace has its own ports; random ones keep runs (and a `scripts/lab up` node on 11111) apart.
        var siloPort = Random.Shared.Next(20000, 29000);
        var silo = new Dictionary<string, string?>(environment)
        {
            ["CYBERWATCH_VANTAGE"] = vantage.Name,
            ["CYBERWATCH_ADVERTISED_ADDRESS"] = vantage.Address.ToString(),
            ["CYBERWATCH_SILO_PORT"] = siloPort.ToString(),
            ["CYBERWATCH_GATEWAY_PORT"] = (siloPort + 1).ToString(),
            ["CYBERWATCH_SILO_HTTP"] = $"http://127.0.0.1:{siloPort + 2}",
        };
        ClusterTls.AddTo(silo, tls ?? tlsDirectory, vantage.Name);
        return (NodeProcess.StartIn(vantage.Namespace, Repository.SiloDll, silo, "run"), siloPort);
    }

    private async Task StartApiAsync(bool onLabAddress)
    {
        // LabFixture.CurlAsync reaches the default vantage's namespace, so the API runs there.
        var home = LabFixture.DefaultVantage;
        var port = Random.Shared.Next(29000, 30000);
        if (onLabAddress && tlsDirectory is null)
        {
            throw new InvalidOperationException("an API on the lab address needs TLS (scripts/cyberwatch cert)");
        }
        ApiUrl = onLabAddress ? $"https://{home.Address}:{port}" : $"http://127.0.0.1:{port}";
        ApiCa = onLabAddress ? Path.Combine(tlsDirectory!, "ca.crt") : null;
        var api = new Dictionary<string, string?>(environment)
        {
            ["CYBERWATCH_VANTAGE"] = home.Name,
            ["CYBERWATCH_API_URL"] = ApiUrl,
        };
        ClusterTls.AddTo(api, tlsDirectory, home.Name);
        if (onLabAddress)
        {
            // Anonymous admin is for loopback only: the test speaks with a key, as a remote operator would.
            api.Remove("CYBERWATCH_API_ANONYMOUS_ROLE");
            await using var create = NodeProcess.Start(Repository.ApiDll, new Dictionary<string, string?> { ["CYBERWATCH_PG_DSN"] = Database.ConnectionString },
                "apikey", "create", "--role", "admin", "--name", "lab test");
            var (exitCode, output) = await create.WaitForExitAsync(TimeSpan.FromSeconds(60));
            if (exitCode != 0)
            {
                throw new InvalidOperationException($"apikey create failed ({exitCode}): {output}");
            }
            AdminKey = output.Trim().Split('\n')[^1].Trim();
        }
        Api = NodeProcess.StartIn(home.Namespace, Repository.ApiDll, api);
        await LabNode.WaitUntilAsync(async () => (await GetAsync("/ready")).Status == 200, TimeSpan.FromSeconds(90), () => Api.Output);
    }

    public async ValueTask DisposeAsync()
    {
        if (Api is not null)
        {
            await Api.DisposeAsync();
        }
        // In parallel: each silo may take seconds to leave the cluster.
        await Task.WhenAll(silos.Values.Where(s => s is not null).Select(s => s!.Value.Process.DisposeAsync().AsTask()));
        silos.Clear();
        await Database.DisposeAsync();
        if (tlsDirectory is not null)
        {
            Directory.Delete(tlsDirectory, recursive: true);
        }
    }
}
