namespace CyberWatch.Tests.Infrastructure;

/// <summary>
/// Certificates for a test cluster whose silos advertise non-loopback addresses, from a private CA made with
/// <c>scripts/cyberwatch cert</c>, once that command exists (such a silo then refuses to start without TLS).
/// </summary>
public static class ClusterTls
{
    private static readonly string Script = Path.Combine(Repository.Root, "scripts", "cyberwatch");

    /// <summary>True when <c>scripts/cyberwatch</c> has the <c>cert</c> command.</summary>
    public static bool Available { get; } = File.ReadAllLines(Script).Any(l => l.TrimStart().StartsWith("cert)", StringComparison.Ordinal));

    /// <summary>A directory with ca.crt and NAME.crt/NAME.key for each node, or null without cluster TLS.</summary>
    public static async Task<string?> CreateAsync(IEnumerable<(string Name, IEnumerable<string> Addresses)> nodes)
    {
        if (!Available)
        {
            return null;
        }
        var directory = Directory.CreateTempSubdirectory("cyberwatch-tls-").FullName;
        await RunAsync(["cert", "init", "--dir", directory]);
        foreach (var (name, addresses) in nodes)
        {
            await RunAsync(["cert", "node", name, "--dir", directory, "--ip", string.Join(',', addresses)]);
        }
        return directory;
    }

    /// <summary>Adds CYBERWATCH_TLS_CA/CERT/KEY for node <paramref name="name"/> when <paramref name="directory"/> is not null.</summary>
    public static void AddTo(IDictionary<string, string?> environment, string? directory, string name)
    {
        if (directory is null)
        {
            return;
        }
        environment["CYBERWATCH_TLS_CA"] = Path.Combine(directory, "ca.crt");
        environment["CYBERWATCH_TLS_CERT"] = Path.Combine(directory, $"{name}.crt");
        environment["CYBERWATCH_TLS_KEY"] = Path.Combine(directory, $"{name}.key");
    }

    private static async Task RunAsync(string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo(Script)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Repository.Root,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"scripts/cyberwatch {string.Join(' ', args)} failed ({process.ExitCode}):\n{await output}{await errors}");
        }
    }
}
