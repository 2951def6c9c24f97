using System.Diagnostics;

namespace CyberWatch.Tests.Enrichment;

/// <summary>
/// Finds the real data of /work/shared/data: <c>CYBERWATCH_SHARED_DATA</c>, else <c>shared/data</c>
/// beside the repository root or beside one of its parents (a git worktree sits one level deeper).
/// Tests that need it skip, saying why, when it is absent.
/// </summary>
internal static class SharedData
{
    public const string IpasnFile = "ipasn_20140513.dat.gz";
    public const string RibFile = "rib.20140523.0600_firstMB.bz2";

    /// <summary>Sample data shipped by the Debian package python3-pyasn (IPv6 and TABLE_DUMP v1 cases the shared data lacks).</summary>
    public const string PyasnPackageData = "/usr/lib/python3/dist-packages/data";

    public const string SystemPython = "/usr/bin/python3";

    public static string? Directory { get; } = Locate();

    public static string Require(string file)
    {
        if (Directory is null)
        {
            Assert.Skip("real data not found: set CYBERWATCH_SHARED_DATA or place shared/data beside the repository (../shared/data)");
        }
        var path = Path.Combine(Directory, file);
        if (!File.Exists(path))
        {
            Assert.Skip($"real data file {path} is missing");
        }
        return path;
    }

    public static string RequirePackageData(string file)
    {
        var path = Path.Combine(PyasnPackageData, file);
        if (!File.Exists(path))
        {
            Assert.Skip($"{path} is missing (it ships with the Debian package python3-pyasn)");
        }
        return path;
    }

    public static async Task RequirePyasnAsync()
    {
        if (!File.Exists(SystemPython))
        {
            Assert.Skip($"{SystemPython} is missing; the pyasn comparison needs Debian's python3 with python3-pyasn");
        }
        var (exit, _, error) = await ExternalTool.RunAsync(SystemPython, ["-c", "import pyasn"], TimeSpan.FromSeconds(30));
        if (exit != 0)
        {
            Assert.Skip($"python3-pyasn is not importable by {SystemPython}: {error.Trim()}");
        }
    }

    public static string RequireTool(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin"))
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path))
            {
                return path;
            }
        }
        Assert.Skip($"{name} is not installed (Debian package {name})");
        return name;
    }

    private static string? Locate()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("CYBERWATCH_SHARED_DATA");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return System.IO.Directory.Exists(fromEnvironment) ? fromEnvironment : null;
        }
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "CyberWatch.sln")))
        {
            dir = dir.Parent;
        }
        for (var parent = dir?.Parent; parent is not null; parent = parent.Parent)
        {
            var candidate = Path.Combine(parent.FullName, "shared", "data");
            if (System.IO.Directory.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}

/// <summary>Runs a reference tool (pyasn, bgpdump) to completion with a time limit.</summary>
internal static class ExternalTool
{
    public static async Task<(int Exit, string Output, string Error)> RunAsync(string file, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
        using var deadline = new CancellationTokenSource(timeout);
        var output = process.StandardOutput.ReadToEndAsync(deadline.Token);
        var error = process.StandardError.ReadToEndAsync(deadline.Token);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish within {timeout}");
        }
        return (process.ExitCode, await output, await error);
    }
}
