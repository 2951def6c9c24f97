using System.Diagnostics;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Operations;

/// <summary>
/// The installed node without systemd (this machine's PID 1 is not systemd): each unit's credentials — User,
/// Group, UMask, capability bounding and ambient sets, NoNewPrivileges — are read from the rendered unit file
/// and the real binaries are run under exactly those with setpriv: the cyberwatch-scamper daemon, then the
/// silo's <c>scamper-check</c>, which must get a reply from 127.0.0.1 through the daemon's socket.
/// And install.sh then uninstall.sh into a throw-away root.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class InstalledUnitsTests : IAsyncDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("cw-units-").FullName;
    private Process? daemon;

    public async ValueTask DisposeAsync()
    {
        if (daemon is { HasExited: false })
        {
            daemon.Kill(entireProcessTree: true);
            await daemon.WaitForExitAsync();
        }
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task Silo_under_its_units_credentials_probes_through_the_scamper_unit()
    {
        var units = await RenderAsync();
        var scamperUnit = units["cyberwatch-scamper"];
        var siloUnit = units["cyberwatch-silo"];
        EnsureUser(siloUnit.One("User"), siloUnit.One("Group"));

        // The unit's RuntimeDirectory (/run/cyberwatch-scamper), made here as systemd would: owned by User:Group, its mode.
        var runtime = Path.Combine(directory, "run", scamperUnit.One("RuntimeDirectory"));
        Directory.CreateDirectory(runtime);
        File.SetUnixFileMode(directory, (UnixFileMode)Convert.ToInt32("755", 8));
        File.SetUnixFileMode(Path.GetDirectoryName(runtime)!, (UnixFileMode)Convert.ToInt32("755", 8));
        await RunAsync("chown", $"{scamperUnit.One("User")}:{scamperUnit.One("Group")}", runtime);
        File.SetUnixFileMode(runtime, (UnixFileMode)Convert.ToInt32(scamperUnit.One("RuntimeDirectoryMode"), 8));
        string Here(string text) => text.Replace("/run/", Path.Combine(directory, "run") + "/", StringComparison.Ordinal);

        var execStart = Here(scamperUnit.One("ExecStart")).Split(' ');
        var socket = execStart[Array.IndexOf(execStart, "-U") + 1];
        daemon = Process.Start(Setpriv(scamperUnit, ["/bin/sh", "-c", $"umask {scamperUnit.One("UMask")}; exec \"$@\"", "sh", .. execStart]))!;
        for (var i = 0; i < 100 && !File.Exists(socket); i++)
        {
            if (daemon.HasExited)
            {
                Assert.Fail($"scamper exited under its unit's credentials: {await daemon.StandardError.ReadToEndAsync()}");
            }
            await Task.Delay(50);
        }
        Assert.True(File.Exists(socket), "scamper did not open its control socket");

        var environment = siloUnit["Environment"].Select(e => e.Split('=', 2)).ToDictionary(kv => kv[0], kv => Here(kv[1]));
        Assert.Equal(socket, environment["CYBERWATCH_SCAMPER_SOCKET"]);
        var (exitCode, output) = await RunAsync(Setpriv(siloUnit, [Dotnet(), Repository.SiloDll, "scamper-check", "127.0.0.1"], environment));

        Assert.True(exitCode == 0, output);
        Assert.Contains("ping 127.0.0.1 through the scamper daemon at", output);
        Assert.Contains(": 1 reply", output);
    }

    [Fact]
    public async Task Real_systemd_boots_the_scamper_unit_and_the_silo_unit_probes_through_it()
    {
        var units = await RenderAsync();
        EnsureUser(units["cyberwatch-silo"].One("User"), units["cyberwatch-silo"].One("Group"));
        if (!File.Exists("/usr/bin/systemd-nspawn"))
        {
            Assert.Skip("systemd-nspawn is not installed (Debian package systemd-container)");
        }

        // systemd 252 as PID 1 of a container: the units' own sandboxing (ProtectSystem, RuntimeDirectory, ...) applies.
        var (exitCode, output) = await RunAsync(Script("systemd/boot-check.sh"), Path.GetDirectoryName(Repository.SiloDll)!);

        Assert.True(exitCode == 0, output);
        Assert.Contains("through the scamper daemon at /run/cyberwatch-scamper/scamper.sock: 1 reply", output);
    }

    [Fact]
    public async Task Debian_scamper_cannot_start_under_the_silos_credentials_which_is_why_it_has_a_unit()
    {
        var units = await RenderAsync();
        var siloUnit = units["cyberwatch-silo"];
        EnsureUser(siloUnit.One("User"), siloUnit.One("Group"));

        var (exitCode, output) = await RunAsync(Setpriv(siloUnit, ["/usr/bin/scamper", "-O", "json", "-c", "ping -c 1", "-i", "127.0.0.1"]));

        Assert.Equal(255, exitCode);
        Assert.Contains("could not chroot", output);
    }

    [Fact]
    public async Task Install_into_a_root_then_uninstall_removes_exactly_what_it_placed()
    {
        var root = Path.Combine(directory, "root");
        // Someone else's files beside ours: uninstall must leave them.
        var others = new[] { "etc/systemd/system/other.service", "opt/other/file", "usr/share/other/file", "var/lib/other/file" };
        foreach (var other in others)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(root, other))!);
            await File.WriteAllTextAsync(Path.Combine(root, other), "not cyberWatch's");
        }
        var before = Tree(root);

        var install = await RunAsync(Script("install.sh"), "--root", root, "--no-build", "--yes");

        Assert.True(install.ExitCode == 0, install.Output);
        var placed = Tree(root).Except(before).ToHashSet();
        foreach (var unit in new[] { "cyberwatch-scamper", "cyberwatch-silo", "cyberwatch-api", "cyberwatch-dns-collector" })
        {
            var text = await File.ReadAllTextAsync(Path.Combine(root, "etc/systemd/system", $"{unit}.service"));
            Assert.DoesNotContain("@PREFIX@", text);
        }
        Assert.Contains("ExecStart=/opt/cyberwatch/silo/CyberWatch.Silo run", await File.ReadAllTextAsync(Path.Combine(root, "etc/systemd/system/cyberwatch-silo.service")));
        Assert.Contains("opt/cyberwatch/.cyberwatch-install", placed);
        Assert.Contains("etc/cyberwatch/cyberwatch.env", placed);
        Assert.Contains("usr/share/cyberwatch/prometheus/alerts.yml", placed);
        Assert.Contains("var/lib/cyberwatch", placed);
        Assert.Equal("640", Convert.ToString((int)File.GetUnixFileMode(Path.Combine(root, "etc/cyberwatch/cyberwatch.env")), 8));
        Assert.DoesNotContain("would run: systemctl", install.Output);
        // The manifest names what install put there, and nothing that was there before.
        var manifest = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(root, "usr/share/cyberwatch/installed.json"))).RootElement;
        string[] List(string name) => [.. manifest.GetProperty(name).EnumerateArray().Select(e => e.GetString()!.TrimStart('/'))];
        Assert.Equal("/opt/cyberwatch", manifest.GetProperty("prefix").GetString());
        Assert.Equal(["cyberwatch-api", "cyberwatch-dns-collector", "cyberwatch-scamper", "cyberwatch-silo"], List("services"));
        Assert.Empty(List("packages")); // --root installs no package
        Assert.Equal(placed.Where(p => File.Exists(Path.Combine(root, p))).Order(), List("files").Order());
        Assert.Equal(placed.Where(p => Directory.Exists(Path.Combine(root, p))).Order(), List("directories").Order());
        Assert.Empty(List("files").Concat(List("directories")).Intersect(before));

        // Running install again (an upgrade) records the same files: what the first run made is still its own.
        Assert.Equal(0, (await RunAsync(Script("install.sh"), "--root", root, "--no-build", "--yes")).ExitCode);
        var rerun = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(root, "usr/share/cyberwatch/installed.json")))
            .RootElement.GetProperty("files").EnumerateArray().Select(e => e.GetString()!.TrimStart('/'));
        Assert.Equal(string.Join('\n', List("files")), string.Join('\n', rerun));

        var keep = await RunAsync(Script("uninstall.sh"), "--root", root, "--yes");
        Assert.True(keep.ExitCode == 0, keep.Output);
        Assert.True(File.Exists(Path.Combine(root, "etc/cyberwatch/cyberwatch.env")), "without --purge the secrets are kept");
        Assert.False(File.Exists(Path.Combine(root, "etc/systemd/system/cyberwatch-silo.service")));

        var purge = await RunAsync(Script("uninstall.sh"), "--root", root, "--yes", "--purge");
        Assert.True(purge.ExitCode == 0, purge.Output);
        // Exactly what was there before, bar the empty parents install made (etc/cyberwatch's parent etc existed).
        var after = Tree(root);
        var left = after.Except(before).Where(p => !IsEmptyDirectory(Path.Combine(root, p))).ToList();
        Assert.True(left.Count == 0, "left behind: " + string.Join(", ", left));
        Assert.Empty(before.Except(after));
    }

    [Fact]
    public async Task A_redis_that_was_there_before_keeps_its_configuration_and_data_through_install_and_uninstall()
    {
        var redisServer = Tool("redis-server");
        Tool("redis-cli");
        // Someone's Redis with a configuration of its own: a password, a memory limit and policy, the AOF, a key.
        const string password = "owners-own-redis-secret";
        var port = Repository.FreeTcpPort();
        var data = Directory.CreateDirectory(Path.Combine(directory, "redis")).FullName;
        var config = Path.Combine(data, "redis.conf");
        await File.WriteAllTextAsync(config, $"""
            port {port}
            bind 127.0.0.1
            requirepass {password}
            maxmemory 12mb
            maxmemory-policy allkeys-lru
            appendonly yes
            save ""
            dir {data}
            """);
        var redis = Process.Start(new ProcessStartInfo(redisServer, config) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while ((await RedisAsync(port, password, "PING")).Trim() != "PONG")
            {
                Assert.True(DateTime.UtcNow < deadline && !redis.HasExited, "the test's Redis did not start");
                await Task.Delay(100);
            }
            Assert.Equal("OK", (await RedisAsync(port, password, "SET", "owner:key", "owner's value")).Trim());
            var before = await RedisStateAsync(port, password, config);
            Assert.Contains("owner's value", before);
            Assert.Contains("12582912", before);

            var root = Path.Combine(directory, "root");
            // The way an operator points install at a Redis of their own.
            var install = await RunAsync(Script("install.sh"), "--root", root, "--no-build", "--yes", "--redis-url", $"redis://:{password}@127.0.0.1:{port}/0");
            Assert.True(install.ExitCode == 0, install.Output);
            // Install did reach that Redis (PING), and left it.
            Assert.Contains($"the Redis at 127.0.0.1:{port} takes the password of CYBERWATCH_REDIS_URL; left as it is", install.Output);
            Assert.DoesNotContain(password, install.Output);
            Assert.Contains($"CYBERWATCH_REDIS_URL='redis://:{password}@127.0.0.1:{port}/0'", await File.ReadAllTextAsync(Path.Combine(root, "etc/cyberwatch/cyberwatch.env")));
            Assert.Equal(before, await RedisStateAsync(port, password, config));

            // A second install (an upgrade) keeps cyberwatch.env and refuses a different --redis-url rather than ignore it.
            var other = await RunAsync(Script("install.sh"), "--root", root, "--no-build", "--yes", "--redis-url", "redis://:x@127.0.0.1:1/0");
            Assert.NotEqual(0, other.ExitCode);
            Assert.Contains("--redis-url differs from the CYBERWATCH_REDIS_URL", other.Output);

            var uninstall = await RunAsync(Script("uninstall.sh"), "--root", root, "--yes");
            Assert.True(uninstall.ExitCode == 0, uninstall.Output);
            Assert.Equal(before, await RedisStateAsync(port, password, config));
            var purge = await RunAsync(Script("uninstall.sh"), "--root", root, "--yes", "--purge");
            Assert.True(purge.ExitCode == 0, purge.Output);
            Assert.False(redis.HasExited, "the Redis stopped");
            Assert.Equal(before, await RedisStateAsync(port, password, config));
        }
        finally
        {
            redis.Kill(entireProcessTree: true);
            await redis.WaitForExitAsync();
        }
    }

    /// <summary>What an owner would miss: the settings install could have changed, the data, and the configuration file.</summary>
    private static async Task<string> RedisStateAsync(int port, string password, string config)
    {
        var state = new System.Text.StringBuilder();
        foreach (var setting in new[] { "requirepass", "maxmemory", "maxmemory-policy", "appendonly", "port", "bind", "dir", "save", "protected-mode" })
        {
            state.Append(await RedisAsync(port, password, "CONFIG", "GET", setting));
        }
        state.Append(await RedisAsync(port, password, "DBSIZE"));
        state.Append(await RedisAsync(port, password, "GET", "owner:key"));
        state.Append(await File.ReadAllTextAsync(config));
        return state.ToString();
    }

    /// <summary>redis-cli with the password in its environment, as install.sh does.</summary>
    private static async Task<string> RedisAsync(int port, string password, params string[] command)
    {
        var start = new ProcessStartInfo("redis-cli") { WorkingDirectory = Repository.Root, Environment = { ["REDISCLI_AUTH"] = password } };
        string[] args = ["-h", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--no-auth-warning", .. command];
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        return (await RunAsync(start)).Output;
    }

    private static string Tool(string name)
    {
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':'))
        {
            if (File.Exists(Path.Combine(folder, name)))
            {
                return Path.Combine(folder, name);
            }
        }
        Assert.Skip($"{name} is not installed (Debian package redis-server; scripts/test installs it)");
        return name;
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/usr")]
    [InlineData("/opt")]
    [InlineData("/opt/../usr")]
    [InlineData("relative")]
    public async Task Uninstall_refuses_dangerous_prefixes(string prefix)
    {
        var (exitCode, output) = await RunAsync(Script("uninstall.sh"), "--dry-run", "--prefix", prefix);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("--prefix must be", output);
    }

    [Fact]
    public async Task Uninstall_refuses_a_prefix_install_did_not_make()
    {
        var root = Path.Combine(directory, "root");
        var precious = Path.Combine(root, "srv", "data", "precious");
        Directory.CreateDirectory(Path.GetDirectoryName(precious)!);
        await File.WriteAllTextAsync(precious, "keep");

        var (exitCode, output) = await RunAsync(Script("uninstall.sh"), "--root", root, "--prefix", "/srv/data", "--yes", "--purge");

        Assert.NotEqual(0, exitCode);
        Assert.Contains("not a directory scripts/install.sh made", output);
        Assert.True(File.Exists(precious));
    }

    [Fact]
    public async Task Uninstall_without_a_manifest_refuses_and_removes_nothing()
    {
        // What an install from before manifests (or something else entirely) left: uninstall cannot know what is ours.
        var root = Path.Combine(directory, "root");
        foreach (var file in new[] { "opt/cyberwatch/.cyberwatch-install", "opt/cyberwatch/silo/CyberWatch.Silo", "etc/systemd/system/cyberwatch-silo.service", "opt/other/file" })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(root, file))!);
            await File.WriteAllTextAsync(Path.Combine(root, file), "x");
        }
        var before = Tree(root);

        var (exitCode, output) = await RunAsync(Script("uninstall.sh"), "--root", root, "--yes", "--purge");

        Assert.NotEqual(0, exitCode);
        Assert.Contains("installed.json", output);
        Assert.Contains("removing nothing", output);
        Assert.Equal(before, Tree(root));
    }

    [Fact]
    public async Task Uninstall_refuses_a_prefix_other_than_the_one_the_manifest_records()
    {
        var root = Path.Combine(directory, "root");
        Assert.Equal(0, (await RunAsync(Script("install.sh"), "--root", root, "--no-build", "--yes")).ExitCode);
        var before = Tree(root);
        var (exitCode, output) = await RunAsync(Script("uninstall.sh"), "--root", root, "--prefix", "/srv/cyberwatch", "--yes", "--purge");
        Assert.NotEqual(0, exitCode);
        Assert.Contains("records the prefix /opt/cyberwatch", output);
        Assert.Equal(before, Tree(root));
    }

    [Fact]
    public void No_script_puts_a_secret_on_a_command_line()
    {
        // Any local user reads another process's arguments (ps, /proc/PID/cmdline); secrets go by file, stdin or environment.
        var scripts = new[] { "scripts/install.sh", "scripts/uninstall.sh", "scripts/cyberwatch" }
            .Concat(Directory.GetFiles(Path.Combine(Repository.Root, "scripts", "lib"), "*.sh").Select(f => Path.GetRelativePath(Repository.Root, f)));
        var onArgv = new System.Text.RegularExpressions.Regex(@"redis-cli[^|]*\s-a\s|\bPGPASSWORD=\S+\s+\w|--password[= ]|-c\s+""[^""]*PASSWORD\s+'\$");
        var found = scripts.SelectMany(script => File.ReadAllLines(Path.Combine(Repository.Root, script))
            .Select((line, i) => (script, line, number: i + 1))
            .Where(l => !l.line.TrimStart().StartsWith('#') && onArgv.IsMatch(l.line)))
            .Select(l => $"{l.script}:{l.number}: {l.line.Trim()}").ToList();
        Assert.True(found.Count == 0, string.Join("\n", found));
        // And the check does find one.
        Assert.Matches(onArgv, "redis-cli -h 127.0.0.1 -a \"$redis_password\" ping");
        Assert.Matches(onArgv, "run psql_local -c \"CREATE ROLE cyberwatch LOGIN PASSWORD '$pg_password'\"");
    }

    private static string Script(string name) => Path.Combine(Repository.Root, "scripts", name);

    private static bool IsEmptyDirectory(string path) => Directory.Exists(path) && !Directory.EnumerateFileSystemEntries(path).Any();

    private static HashSet<string> Tree(string root) =>
        Directory.Exists(root)
            ? Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(root, p)).ToHashSet()
            : [];

    /// <summary>setpriv with the unit's user, group, capabilities and NoNewPrivileges, in a clean environment.</summary>
    private static ProcessStartInfo Setpriv(Unit unit, string[] command, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment.Clear();
        start.Environment["PATH"] = "/usr/local/bin:/usr/bin:/bin";
        start.Environment["HOME"] = "/nonexistent";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        var user = unit.One("User");
        start.ArgumentList.Add($"--reuid={user}");
        start.ArgumentList.Add($"--regid={unit.One("Group")}");
        start.ArgumentList.Add(user == "root" ? "--clear-groups" : "--init-groups");
        var ambient = Capabilities(unit, "AmbientCapabilities");
        if (ambient.Length > 0)
        {
            start.ArgumentList.Add($"--inh-caps={string.Join(',', ambient.Select(c => "+" + c))}");
            start.ArgumentList.Add($"--ambient-caps={string.Join(',', ambient.Select(c => "+" + c))}");
        }
        start.ArgumentList.Add($"--bounding-set={string.Join(',', ["-all", .. Capabilities(unit, "CapabilityBoundingSet").Select(c => "+" + c)])}");
        if (unit.One("NoNewPrivileges") == "yes")
        {
            start.ArgumentList.Add("--no-new-privs");
        }
        foreach (var argument in command)
        {
            start.ArgumentList.Add(argument);
        }
        return start;
    }

    /// <summary>CAP_NET_RAW CAP_SETUID → net_raw, setuid (setpriv's names).</summary>
    private static string[] Capabilities(Unit unit, string key) =>
        [.. unit[key].SelectMany(v => v.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Select(c => c.ToLowerInvariant().Replace("cap_", ""))];

    private static void EnsureUser(string user, string group)
    {
        if (Environment.UserName != "root")
        {
            Assert.Skip("needs root: runs processes as the units' users");
        }
        if (!File.ReadLines("/etc/passwd").Any(l => l.StartsWith(user + ":", StringComparison.Ordinal)))
        {
            // What install.sh does on a real node.
            using var useradd = Process.Start("useradd", ["--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", user])!;
            useradd.WaitForExit();
        }
        Assert.Contains(File.ReadLines("/etc/group"), l => l.StartsWith(group + ":", StringComparison.Ordinal));
        if (!File.Exists("/usr/bin/scamper") || !File.Exists("/usr/bin/setpriv"))
        {
            Assert.Skip("scamper and setpriv are needed (Debian packages scamper, util-linux)");
        }
    }

    private static string Dotnet()
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? Process.GetCurrentProcess().MainModule!.FileName;
        return Path.GetFileName(dotnet) == "dotnet" ? dotnet : "/usr/share/dotnet/dotnet";
    }

    private async Task<Dictionary<string, Unit>> RenderAsync()
    {
        var into = Path.Combine(directory, "units");
        var (exitCode, output) = await RunAsync(Script("install.sh"), "--render-units", into);
        Assert.True(exitCode == 0, output);
        return Directory.GetFiles(into, "*.service").ToDictionary(f => Path.GetFileNameWithoutExtension(f)!, f => new Unit(File.ReadAllText(f)));
    }

    private static Task<(int ExitCode, string Output)> RunAsync(string tool, params string[] args)
    {
        var start = new ProcessStartInfo(tool) { WorkingDirectory = Repository.Root, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        return RunAsync(start);
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(ProcessStartInfo start)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(240));
        return (process.ExitCode, await output + await error);
    }

    /// <summary>Key → values of a unit file (a key may repeat), comments and sections ignored.</summary>
    private sealed class Unit
    {
        private readonly Dictionary<string, List<string>> settings = [];

        public Unit(string text)
        {
            foreach (var line in text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && l[0] is not ('#' or '[')))
            {
                var equals = line.IndexOf('=');
                var key = line[..equals];
                if (!settings.TryGetValue(key, out var values))
                {
                    settings[key] = values = [];
                }
                values.Add(line[(equals + 1)..]);
            }
        }

        public IReadOnlyList<string> this[string key] => settings.TryGetValue(key, out var values) ? values.Where(v => v.Length > 0).ToList() : [];

        public string One(string key) => Assert.Single(this[key]);
    }
}
