using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Hosting;

/// <summary>
/// A node that would expose its silo or gateway port to a network without TLS, or whose certificate files
/// are unusable, stops in one line with exit code 2, before it binds a port or touches the database.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ClusterTlsStartupTests
{
    private const string NotLoopback = "CYBERWATCH_ADVERTISED_ADDRESS 11.11.1.10 is not loopback: set CYBERWATCH_TLS_CA, CYBERWATCH_TLS_CERT and CYBERWATCH_TLS_KEY (scripts/cyberwatch cert)";

    // Nothing listens on port 1: a node that got past its TLS checks fails at PostgreSQL instead.
    private static NodeEnvironment Unreachable(out int postgresPort)
    {
        postgresPort = Repository.FreeTcpPort();
        return new NodeEnvironment($"Host=127.0.0.1;Port={postgresPort};Username=cyberwatch;Database=cyberwatch;Timeout=3", "cw-tls");
    }

    [Fact]
    public async Task Silo_on_a_non_loopback_address_without_tls_refuses_to_start()
    {
        var environment = Unreachable(out _).Silo(out _, out _, out _);
        environment["CYBERWATCH_ADVERTISED_ADDRESS"] = "11.11.1.10";

        var (exitCode, output) = await RunAsync(Repository.SiloDll, environment);

        Assert.Equal(2, exitCode);
        AssertOneClearLine(output, $"cyberwatch silo: {NotLoopback}");
    }

    [Fact]
    public async Task Api_of_a_node_on_a_non_loopback_address_without_tls_refuses_to_start()
    {
        var environment = Unreachable(out _).Api(out _);
        environment["CYBERWATCH_ADVERTISED_ADDRESS"] = "11.11.1.10";

        var (exitCode, output) = await RunAsync(Repository.ApiDll, environment);

        Assert.Equal(2, exitCode);
        AssertOneClearLine(output, $"cyberwatch api: {NotLoopback}");
    }

    [Fact]
    public async Task Silo_on_a_non_loopback_address_with_tls_passes_the_tls_checks()
    {
        using var certificates = await ClusterCertificates.CreateAsync();
        var environment = Unreachable(out var postgresPort).Silo(out _, out _, out _).With(await certificates.NodeAsync("vm2", "11.11.1.10"));
        environment["CYBERWATCH_ADVERTISED_ADDRESS"] = "11.11.1.10";

        var (exitCode, output) = await RunAsync(Repository.SiloDll, environment);

        Assert.Equal(2, exitCode);
        AssertOneClearLine(output, $"cannot reach PostgreSQL at 127.0.0.1:{postgresPort}");
        Assert.DoesNotContain("CYBERWATCH_TLS", output);
    }

    [Theory]
    [InlineData("missing CA file", "CYBERWATCH_TLS_CA {dir}/nowhere.crt: no such file")]
    [InlineData("key of another certificate", "CYBERWATCH_TLS_KEY {dir}/other.key is not an unencrypted PEM private key of the certificate in {dir}/silo.crt")]
    [InlineData("garbage key", "CYBERWATCH_TLS_KEY {dir}/garbage.key is not an unencrypted PEM private key of the certificate in {dir}/silo.crt")]
    [InlineData("certificate of another CA", "CYBERWATCH_TLS_CERT {other}/silo.crt (CN=silo) is not signed by the cluster CA")]
    [InlineData("expired certificate", "CYBERWATCH_TLS_CERT {dir}/old.crt expired on")]
    [InlineData("key not set", "CYBERWATCH_TLS_KEY is not set: set CYBERWATCH_TLS_CA, CYBERWATCH_TLS_CERT and CYBERWATCH_TLS_KEY together")]
    public async Task Silo_with_an_unusable_certificate_file_refuses_to_start_in_one_line(string mistake, string expected)
    {
        using var certificates = await ClusterCertificates.CreateAsync();
        using var others = await ClusterCertificates.CreateAsync();
        var dir = certificates.Directory;
        var tls = await certificates.NodeAsync("silo");
        switch (mistake)
        {
            case "missing CA file":
                tls["CYBERWATCH_TLS_CA"] = Path.Combine(dir, "nowhere.crt");
                break;
            case "key of another certificate":
                tls["CYBERWATCH_TLS_KEY"] = (await certificates.NodeAsync("other"))["CYBERWATCH_TLS_KEY"];
                break;
            case "garbage key":
                await File.WriteAllTextAsync(Path.Combine(dir, "garbage.key"), "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n");
                tls["CYBERWATCH_TLS_KEY"] = Path.Combine(dir, "garbage.key");
                break;
            case "certificate of another CA":
                var foreign = await others.NodeAsync("silo");
                tls["CYBERWATCH_TLS_CERT"] = foreign["CYBERWATCH_TLS_CERT"];
                tls["CYBERWATCH_TLS_KEY"] = foreign["CYBERWATCH_TLS_KEY"];
                break;
            case "expired certificate":
                tls = certificates.Expired("old");
                break;
            case "key not set":
                tls.Remove("CYBERWATCH_TLS_KEY");
                break;
        }
        var environment = Unreachable(out _).Silo(out _, out _, out _).With(tls);

        var (exitCode, output) = await RunAsync(Repository.SiloDll, environment);

        Assert.Equal(2, exitCode);
        AssertOneClearLine(output, "cyberwatch silo: " + expected.Replace("{dir}", dir).Replace("{other}", others.Directory));
    }

    [Fact]
    public async Task Cert_init_refuses_to_overwrite_an_existing_ca()
    {
        using var certificates = await ClusterCertificates.CreateAsync();
        var before = await File.ReadAllTextAsync(Path.Combine(certificates.Directory, "ca.crt"));

        var (exitCode, output) = await ClusterCertificates.CertAsync("init", "--dir", certificates.Directory);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("refusing to overwrite", output);
        Assert.Equal(before, await File.ReadAllTextAsync(Path.Combine(certificates.Directory, "ca.crt")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(certificates.Directory, "ca.key")));
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string dll, Dictionary<string, string?> environment)
    {
        await using var process = NodeProcess.Start(dll, environment);
        return await process.WaitForExitAsync(TimeSpan.FromSeconds(60));
    }

    private static void AssertOneClearLine(string output, string expected)
    {
        var errorLines = output.Split('\n').Where(l => l.StartsWith("stderr: ", StringComparison.Ordinal)).ToList();
        Assert.True(errorLines.Any(l => l.Contains(expected, StringComparison.Ordinal)), $"expected '{expected}' in:\n{output}");
        Assert.DoesNotContain("   at ", output);
    }
}
