using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace CyberWatch.Tests.Infrastructure;

/// <summary>
/// A cluster CA and node certificates made by the real <c>scripts/cyberwatch cert</c> in a temporary
/// directory, and the CYBERWATCH_TLS_* variables of a node.
/// </summary>
public sealed class ClusterCertificates : IDisposable
{
    private ClusterCertificates(string directory) => Directory = directory;

    public string Directory { get; }

    public static async Task<ClusterCertificates> CreateAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "cw-certs-" + Guid.NewGuid().ToString("n")[..8]);
        var certificates = new ClusterCertificates(directory);
        var (exitCode, output) = await CertAsync("init", "--dir", directory);
        Assert.True(exitCode == 0, output);
        return certificates;
    }

    /// <summary>Runs <c>scripts/cyberwatch cert ARGS</c>: exit code, stdout and stderr.</summary>
    public static async Task<(int ExitCode, string Output)> CertAsync(params string[] args)
    {
        var start = new ProcessStartInfo(Path.Combine(Repository.Root, "scripts", "cyberwatch"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("cert");
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>Issues NAME's certificate with the script and returns the variables it printed.</summary>
    public async Task<Dictionary<string, string?>> NodeAsync(string name, string ips = "127.0.0.1")
    {
        var (exitCode, output) = await CertAsync("node", name, "--dir", Directory, "--ip", ips);
        Assert.True(exitCode == 0, output);
        var variables = output.Split('\n')
            .Where(l => l.StartsWith("CYBERWATCH_TLS_", StringComparison.Ordinal))
            .Select(l => l.Split('=', 2))
            .ToDictionary(p => p[0], p => (string?)p[1]);
        Assert.Equal(["CYBERWATCH_TLS_CA", "CYBERWATCH_TLS_CERT", "CYBERWATCH_TLS_KEY"], variables.Keys.Order());
        return variables;
    }

    /// <summary>
    /// A node certificate that expired a year ago, with a CA of its own made here: the script only issues
    /// valid certificates, and a certificate cannot be older than the CA that signs it.
    /// </summary>
    public Dictionary<string, string?> Expired(string name)
    {
        var now = DateTimeOffset.UtcNow;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=old cluster CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, critical: true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, critical: true));
        using var ca = caRequest.CreateSelfSigned(now.AddYears(-5), now.AddYears(5));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        using var certificate = request.Create(ca, now.AddYears(-3), now.AddYears(-1), RandomNumberGenerator.GetBytes(16));
        var caPath = Path.Combine(Directory, $"{name}-ca.crt");
        var certificatePath = Path.Combine(Directory, $"{name}.crt");
        var keyPath = Path.Combine(Directory, $"{name}.key");
        File.WriteAllText(caPath, ca.ExportCertificatePem());
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return new()
        {
            ["CYBERWATCH_TLS_CA"] = caPath,
            ["CYBERWATCH_TLS_CERT"] = certificatePath,
            ["CYBERWATCH_TLS_KEY"] = keyPath,
        };
    }

    public void Dispose()
    {
        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}

public static class EnvironmentExtensions
{
    /// <summary>The node's environment with more variables (TLS, addresses) laid over it.</summary>
    public static Dictionary<string, string?> With(this Dictionary<string, string?> environment, IReadOnlyDictionary<string, string?> more)
    {
        foreach (var (key, value) in more)
        {
            environment[key] = value;
        }
        return environment;
    }
}
