using System.Diagnostics;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Operations;

/// <summary>
/// scripts/install.sh, scripts/uninstall.sh and the systemd units, checked without installing onto
/// this machine: shellcheck, systemd-analyze verify on the rendered units, the units' sandboxing, and
/// dry runs that must plan every step and change nothing.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class InstallTests : IDisposable
{
    private static readonly string[] Units = ["cyberwatch-scamper", "cyberwatch-silo", "cyberwatch-api", "cyberwatch-dns-collector"];
    private readonly string directory = Directory.CreateTempSubdirectory("cw-install-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public async Task Install_and_uninstall_scripts_pass_shellcheck()
    {
        var shellcheck = Tool("shellcheck", "shellcheck");
        var (exitCode, output) = await RunAsync(shellcheck, "scripts/install.sh", "scripts/uninstall.sh");
        Assert.True(exitCode == 0, output);
    }

    [Fact]
    public async Task Rendered_units_pass_systemd_analyze_verify_without_a_warning()
    {
        var analyze = Tool("systemd-analyze", "systemd");
        var prefix = FakePrefix();
        var units = await RenderAsync(prefix);

        var (exitCode, output) = await RunAsync(analyze, ["verify", .. units.Values]);
        Assert.True(exitCode == 0 && output.Trim().Length == 0, $"systemd-analyze verify said:\n{output}");

        // And it does check: a unit whose binary is missing fails.
        File.Delete(Path.Combine(prefix, "api", "CyberWatch.WebApi"));
        var missing = await RunAsync(analyze, "verify", units["cyberwatch-api"]);
        Assert.NotEqual(0, missing.ExitCode);
    }

    [Fact]
    public async Task Only_the_silo_and_the_scamper_daemon_get_capabilities_and_every_unit_is_sandboxed()
    {
        var prefix = FakePrefix();
        var units = (await RenderAsync(prefix)).ToDictionary(u => u.Key, u => Settings(File.ReadAllText(u.Value)));

        var silo = units["cyberwatch-silo"];
        Assert.Equal("notify", silo["Type"].Single());
        Assert.Equal(["CAP_NET_RAW"], silo["AmbientCapabilities"]);
        Assert.Equal(["CAP_NET_RAW"], silo["CapabilityBoundingSet"]);
        Assert.Equal($"{prefix}/silo/CyberWatch.Silo run", silo["ExecStart"].Single());
        foreach (var name in new[] { "cyberwatch-api", "cyberwatch-dns-collector" })
        {
            Assert.Equal([""], units[name]["AmbientCapabilities"]);
            Assert.Equal([""], units[name]["CapabilityBoundingSet"]);
        }
        // scamper's daemon starts as root (its own privilege separation needs it) with only what that needs.
        var scamper = units["cyberwatch-scamper"];
        Assert.Equal("root", scamper["User"].Single());
        Assert.Equal("cyberwatch", scamper["Group"].Single());
        Assert.Equal(["CAP_NET_RAW CAP_SYS_CHROOT CAP_SETUID CAP_SETGID"], scamper["CapabilityBoundingSet"]);
        Assert.Equal("always", scamper["Restart"].Single());
        Assert.Contains("CYBERWATCH_SCAMPER_SOCKET=/run/cyberwatch-scamper/scamper.sock", silo["Environment"]);
        Assert.Contains("-U /run/cyberwatch-scamper/scamper.sock", scamper["ExecStart"].Single());
        foreach (var (name, unit) in units)
        {
            Assert.True(unit["NoNewPrivileges"].Single() == "yes", name);
            Assert.True(unit["ProtectSystem"].Single() == "strict", name);
            Assert.True(unit["PrivateTmp"].Single() == "yes", name);
            if (name == "cyberwatch-scamper")
            {
                continue;
            }
            Assert.True(unit["User"].Single() == "cyberwatch", name);
            Assert.True(unit["EnvironmentFile"].Single() == "/etc/cyberwatch/cyberwatch.env", name);
            Assert.DoesNotContain(unit.Values.SelectMany(v => v), v => v.Contains("@PREFIX@"));
        }
        var dns = units["cyberwatch-dns-collector"];
        Assert.Equal("/etc/cyberwatch/dns.yaml", dns["ConditionPathExists"].Single());
        Assert.Equal($"{prefix}/silo/CyberWatch.Silo dns-collect --config /etc/cyberwatch/dns.yaml", dns["ExecStart"].Single());
        Assert.Equal("notify", units["cyberwatch-api"]["Type"].Single());
    }

    [Fact]
    public async Task Install_dry_run_plans_every_step_and_changes_nothing()
    {
        var existedBefore = Directory.Exists("/etc/cyberwatch") || Directory.Exists("/opt/cyberwatch");
        var (exitCode, output) = await RunAsync(Path.Combine(Repository.Root, "scripts", "install.sh"), "--dry-run", "--yes", "--no-packages");

        Assert.True(exitCode == 0, output);
        Assert.Contains("publish", output);
        Assert.Contains("Release -o /opt/cyberwatch/silo.new", output);
        Assert.Contains("/etc/systemd/system/cyberwatch-silo.service", output);
        Assert.Contains("would run: systemctl enable cyberwatch-scamper.service cyberwatch-silo.service cyberwatch-api.service", output);
        Assert.Contains("migrate", output);
        Assert.DoesNotContain("would run: systemctl enable cyberwatch-dns-collector", output.Replace("--now cyberwatch-dns-collector", ""));
        if (!existedBefore)
        {
            Assert.False(Directory.Exists("/etc/cyberwatch"), "a dry run created /etc/cyberwatch");
            Assert.False(Directory.Exists("/opt/cyberwatch"), "a dry run created /opt/cyberwatch");
        }
    }

    [Fact]
    public async Task Uninstall_dry_run_without_a_manifest_plans_nothing()
    {
        // Nothing is installed on this machine: no manifest, so even a dry run plans nothing.
        var (exitCode, output) = await RunAsync(Path.Combine(Repository.Root, "scripts", "uninstall.sh"), "--dry-run", "--purge");
        Assert.NotEqual(0, exitCode);
        Assert.Contains("/usr/share/cyberwatch/installed.json", output);
        Assert.Contains("removing nothing", output);
        Assert.DoesNotContain("would run: rm", output);
        Assert.DoesNotContain("would run: apt-get", output);
        var bad = await RunAsync(Path.Combine(Repository.Root, "scripts", "uninstall.sh"), "--dry-run", "--prefix", "/");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("--prefix must be", bad.Output);
    }

    /// <summary>A prefix with executables where the units expect the published binaries.</summary>
    private string FakePrefix()
    {
        var prefix = Path.Combine(directory, "opt", "cyberwatch");
        foreach (var binary in new[] { Path.Combine("silo", "CyberWatch.Silo"), Path.Combine("api", "CyberWatch.WebApi") })
        {
            var path = Path.Combine(prefix, binary);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, "#!/bin/sh\n");
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        return prefix;
    }

    private async Task<Dictionary<string, string>> RenderAsync(string prefix)
    {
        var into = Path.Combine(directory, "units");
        var (exitCode, output) = await RunAsync(Path.Combine(Repository.Root, "scripts", "install.sh"), "--render-units", into, "--prefix", prefix);
        Assert.True(exitCode == 0, output);
        return Units.ToDictionary(u => u, u => Path.Combine(into, $"{u}.service"));
    }

    /// <summary>Key → values (a key may repeat) of a unit file, comments and sections ignored.</summary>
    private static Dictionary<string, List<string>> Settings(string unit)
    {
        var settings = new Dictionary<string, List<string>>();
        foreach (var line in unit.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && l[0] is not ('#' or '[')))
        {
            var equals = line.IndexOf('=');
            var key = line[..equals];
            if (!settings.TryGetValue(key, out var values))
            {
                settings[key] = values = [];
            }
            values.Add(line[(equals + 1)..]);
        }
        return settings;
    }

    private static string Tool(string name, string package)
    {
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':'))
        {
            if (File.Exists(Path.Combine(folder, name)))
            {
                return Path.Combine(folder, name);
            }
        }
        Assert.Skip($"{name} is not installed (Debian package {package}; scripts/test installs it)");
        return name;
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string tool, params string[] args)
    {
        var start = new ProcessStartInfo(tool)
        {
            WorkingDirectory = Repository.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await error);
    }
}
