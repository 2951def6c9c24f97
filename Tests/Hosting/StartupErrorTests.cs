using System.Net;
using System.Net.Sockets;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Hosting;

/// <summary>Start-up mistakes an operator makes end in one clear line and a non-zero exit, never a stack trace.</summary>
public sealed class StartupErrorTests
{
    private static async Task<(int ExitCode, string Output)> RunSiloAsync(Dictionary<string, string?> environment, params string[] args)
    {
        await using var silo = NodeProcess.Start(Repository.SiloDll, environment, args);
        return await silo.WaitForExitAsync(TimeSpan.FromSeconds(60));
    }

    private static void AssertOneClearLine(string output, string expected)
    {
        var errorLines = output.Split('\n').Where(l => l.StartsWith("stderr: ", StringComparison.Ordinal)).ToList();
        Assert.Contains(errorLines, l => l.Contains(expected, StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", output);
    }

    [Fact]
    public async Task Missing_dsn_names_the_variable()
    {
        var (exitCode, output) = await RunSiloAsync([]);
        Assert.Equal(2, exitCode);
        AssertOneClearLine(output, "set CYBERWATCH_PG_DSN");
    }

    [Fact]
    public async Task Malformed_dsn_is_refused()
    {
        var (exitCode, output) = await RunSiloAsync(new() { ["CYBERWATCH_PG_DSN"] = "Host=x;Nonsense=1" });
        Assert.Equal(2, exitCode);
        AssertOneClearLine(output, "the PostgreSQL DSN is not valid");
    }

    [Fact]
    public async Task Unreachable_postgres_is_named_with_its_address()
    {
        var closedPort = Repository.FreeTcpPort();
        var environment = new NodeEnvironment($"Host=127.0.0.1;Port={closedPort};Username=cyberwatch;Database=cyberwatch;Timeout=3", "cw-test")
            .Silo(out _, out _, out _);
        var (exitCode, output) = await RunSiloAsync(environment);
        Assert.Equal(2, exitCode);
        AssertOneClearLine(output, $"cannot reach PostgreSQL at 127.0.0.1:{closedPort}");
    }

    [Fact]
    public async Task Wrong_database_name_is_reported_by_postgres()
    {
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(TestDatabase.AdminConnectionString()) { Database = "no_such_database" };
        var (exitCode, output) = await RunSiloAsync(new NodeEnvironment(builder.ConnectionString, "cw-test").Silo(out _, out _, out _));
        Assert.Equal(2, exitCode);
        AssertOneClearLine(output, "\"no_such_database\" does not exist");
    }

    [Fact]
    public async Task Port_in_use_is_refused_before_joining_the_cluster()
    {
        await using var db = await TestDatabase.CreateAsync();
        var node = new NodeEnvironment(db.ConnectionString, "cw-" + Guid.NewGuid().ToString("n")[..8]);
        var environment = node.Silo(out var siloPort, out _, out _);
        using var squatter = new TcpListener(IPAddress.Loopback, siloPort);
        squatter.Start();

        var (exitCode, output) = await RunSiloAsync(environment);

        Assert.Equal(2, exitCode);
        AssertOneClearLine(output, $"port 127.0.0.1:{siloPort} is already in use");
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT count(*) FROM orleans_membership"));
    }

    [Fact]
    public async Task Migrate_command_applies_the_schema_and_is_idempotent()
    {
        await using var db = await TestDatabase.CreateAsync(migrate: false);
        var environment = new Dictionary<string, string?> { ["CYBERWATCH_PG_DSN"] = db.ConnectionString };

        var first = await RunSiloAsync(environment, "migrate");
        var second = await RunSiloAsync(environment, "migrate");

        Assert.Equal(0, first.ExitCode);
        Assert.Contains($"applied {CyberWatch.Storage.SchemaMigrator.Embedded.Count} migration(s)", first.Output);
        Assert.Equal(0, second.ExitCode);
        Assert.Contains("schema up to date", second.Output);
    }

    [Fact]
    public async Task Api_port_in_use_is_one_line()
    {
        await using var db = await TestDatabase.CreateAsync();
        var node = new NodeEnvironment(db.ConnectionString, "cw-" + Guid.NewGuid().ToString("n")[..8]);
        var environment = node.Api(out var url);
        var port = new Uri(url).Port;
        using var squatter = new TcpListener(IPAddress.Loopback, port);
        squatter.Start();

        await using var api = NodeProcess.Start(Repository.ApiDll, environment);
        var (exitCode, output) = await api.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(2, exitCode);
        AssertOneClearLine(output, $"API port 127.0.0.1:{port} is already in use");
    }
}
