using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Hosting;

/// <summary>
/// A fatal stop (here a background service that throws, made to by CYBERWATCH_TEST_FAIL_SERVICE) exits non-zero
/// with the reason in one line, so systemd's Restart=on-failure restarts the process; SIGTERM still exits 0.
/// </summary>
public sealed class FatalStopTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("cw-fatal-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public async Task Silo_whose_background_service_throws_exits_1_and_names_it()
    {
        await using var db = await TestDatabase.CreateAsync();
        var environment = new NodeEnvironment(db.ConnectionString, "cw-" + Guid.NewGuid().ToString("n")[..8]).Silo(out _, out _, out _);
        environment["CYBERWATCH_TEST_FAIL_SERVICE"] = "3";

        await using var silo = NodeProcess.Start(Repository.SiloDll, environment, "run");
        var (exitCode, output) = await silo.WaitForExitAsync(TimeSpan.FromSeconds(120));

        Assert.Equal(1, exitCode);
        AssertOneLine(output, "cyberwatch silo: stopped: TestFailureService failed: InvalidOperationException: failing on purpose");
    }

    [Fact]
    public async Task Api_whose_background_service_throws_exits_1_and_names_it()
    {
        await using var db = await TestDatabase.CreateAsync();
        var environment = new NodeEnvironment(db.ConnectionString, "cw-" + Guid.NewGuid().ToString("n")[..8]).Api(out _);
        environment["CYBERWATCH_TEST_FAIL_SERVICE"] = "2";

        await using var api = NodeProcess.Start(Repository.ApiDll, environment);
        var (exitCode, output) = await api.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(1, exitCode);
        AssertOneLine(output, "cyberwatch api: stopped: TestFailureService failed: InvalidOperationException: failing on purpose");
    }

    [Fact]
    public async Task Silo_stopped_by_sigterm_while_redis_is_away_exits_0()
    {
        await using var db = await TestDatabase.CreateAsync();
        var environment = new NodeEnvironment(db.ConnectionString, "cw-" + Guid.NewGuid().ToString("n")[..8]).Silo(out _, out _, out var siloHttp);
        // Nothing listens there: the DNS handoff consumer fails its rounds, which must not make the stop a failure.
        environment["CYBERWATCH_REDIS_URL"] = "127.0.0.1:1";

        await using var silo = NodeProcess.Start(Repository.SiloDll, environment, "run");
        await silo.WaitForHttpAsync($"{siloHttp}/healthz", TimeSpan.FromSeconds(90));
        await Task.Delay(TimeSpan.FromSeconds(6));
        await silo.StopAsync();

        Assert.Equal(0, silo.ExitCode);
        Assert.DoesNotContain("stopped:", silo.Output);
    }

    [Fact]
    public async Task Api_stopped_by_sigterm_exits_0()
    {
        await using var db = await TestDatabase.CreateAsync();
        var environment = new NodeEnvironment(db.ConnectionString, "cw-" + Guid.NewGuid().ToString("n")[..8]).Api(out var url);

        await using var api = NodeProcess.Start(Repository.ApiDll, environment);
        // /service-info answers without a silo (/health is 503 until one joins).
        await api.WaitForHttpAsync($"{url}/service-info", TimeSpan.FromSeconds(60));
        await api.StopAsync();

        Assert.Equal(0, api.ExitCode);
        Assert.DoesNotContain("stopped:", api.Output);
    }

    [Fact]
    public async Task Dns_collector_whose_background_service_throws_exits_1_and_names_it()
    {
        var log = Path.Combine(directory, "dnsmasq.log");
        await File.WriteAllTextAsync(log, "");
        var config = Path.Combine(directory, "dns.yaml");
        await File.WriteAllTextAsync(config, $"""
            source: logfile
            state_dir: {directory}/state
            logfile:
              path: {log}
            """);
        var environment = new Dictionary<string, string?>
        {
            ["CYBERWATCH_REDIS_URL"] = Environment.GetEnvironmentVariable("CYBERWATCH_TEST_REDIS_URL") ?? "127.0.0.1:1",
            ["CYBERWATCH_TEST_FAIL_SERVICE"] = "2",
        };

        await using var collector = NodeProcess.Start(Repository.SiloDll, environment, "dns-collect", "--config", config);
        var (exitCode, output) = await collector.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(1, exitCode);
        AssertOneLine(output, "cyberwatch dns-collect: stopped: TestFailureService failed: InvalidOperationException: failing on purpose");
    }

    private static void AssertOneLine(string output, string expected)
    {
        var lines = output.Split('\n').Where(l => l.StartsWith("stderr: ", StringComparison.Ordinal) && l.Contains("stopped:", StringComparison.Ordinal)).ToList();
        Assert.True(lines.Count == 1 && lines[0].Contains(expected, StringComparison.Ordinal), output);
    }
}
