using System.Diagnostics;
using System.Net;
using System.Text.Json;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Lab;

/// <summary>
/// The lab internet of scripts/lab, built once for the lab tests and torn down after them. Needs root
/// (network namespaces); the tests that use it are skipped, with the reason, where it cannot be built.
/// </summary>
public sealed class LabFixture : IAsyncLifetime
{
    /// <summary>
    /// The vantage namespace, from the topology scripts/lab builds (<c>CYBERWATCH_LAB_TOPOLOGY</c> names another one,
    /// with its own <c>namespace_prefix</c>, so that two checkouts can each run a lab on one machine).
    /// </summary>
    public static string Vantage => DefaultVantage.Namespace;

    /// <summary>Every vantage of the topology, the default one (<see cref="DefaultVantage"/>) first.</summary>
    public static IReadOnlyList<LabVantage> Vantages { get; } = ReadVantages();

    /// <summary>The vantage of the topology's <c>vantage</c> key: the lab node's, and the one the top level of the truth describes.</summary>
    public static LabVantage DefaultVantage => Vantages[0];

    public static LabVantage VantageNamed(string name) =>
        Vantages.FirstOrDefault(v => v.Name == name) ?? throw new ArgumentException($"no vantage '{name}' in the lab topology", nameof(name));

    /// <summary>The vantages behind NAT (<c>agent_vantages</c> of the topology): an agent runs there, never a silo.</summary>
    public static IReadOnlyList<LabVantage> AgentVantages { get; } = ReadVantages("agent_vantages");

    private static IReadOnlyList<LabVantage> ReadVantages(string key = "vantages")
    {
        var file = Environment.GetEnvironmentVariable("CYBERWATCH_LAB_TOPOLOGY") is { Length: > 0 } custom
            ? custom
            : Path.Combine(Repository.Root, "scripts", "lab.d", "topology.json");
        using var document = JsonDocument.Parse(File.ReadAllText(file));
        var topology = document.RootElement;
        var prefix = topology.GetProperty("namespace_prefix").GetString();
        var defaultName = topology.GetProperty("vantage").GetString()!;
        List<string> names = topology.TryGetProperty(key, out var list)
            ? list.EnumerateArray().Select(v => v.GetString()!).ToList()
            : [];
        if (key == "vantages")
        {
            names.Remove(defaultName);
            names.Insert(0, defaultName);
        }
        return [.. names.Select(name =>
        {
            var asn = topology.GetProperty("nodes").EnumerateArray().First(n => n.GetProperty("name").GetString() == name).GetProperty("asn").GetInt64();
            // A vantage is a host: one link, and its end of it lists the addresses (CIDR).
            var end = topology.GetProperty("links").EnumerateArray()
                .SelectMany(l => l.GetProperty("ends").EnumerateArray())
                .First(e => e[0].GetString() == name);
            var addresses = end.EnumerateArray().Skip(1).Select(a => IPAddress.Parse(a.GetString()!.Split('/')[0])).ToList();
            return new LabVantage(name, prefix + name, asn, addresses, name == defaultName);
        })];
    }

    private string? skipReason;

    public JsonElement Truth { get; private set; }

    public string PrefixFile { get; } = Path.Combine(Path.GetTempPath(), $"cyberwatch-lab-prefixes-{Environment.ProcessId}.txt");

    public void SkipIfUnavailable()
    {
        if (skipReason is not null)
        {
            Assert.Skip(skipReason);
        }
    }

    public async ValueTask InitializeAsync()
    {
        if (Environment.UserName != "root")
        {
            skipReason = "the lab needs root for network namespaces (scripts/test runs as root in CI)";
            return;
        }
        var (up, output) = await RunAsync((Script, ["up", "--no-node"]), TimeSpan.FromMinutes(4));
        if (up != 0)
        {
            throw new InvalidOperationException($"scripts/lab up failed ({up}):\n{output}");
        }
        var (_, truth) = await RunAsync(Lab("truth"), TimeSpan.FromSeconds(30));
        Truth = JsonDocument.Parse(truth).RootElement.Clone();
        var (_, prefixes) = await RunAsync(Lab("prefixes"), TimeSpan.FromSeconds(30));
        await File.WriteAllTextAsync(PrefixFile, prefixes);
    }

    public async ValueTask DisposeAsync()
    {
        File.Delete(PrefixFile);
        if (skipReason is null && Environment.GetEnvironmentVariable("CYBERWATCH_KEEP_LAB") is null)
        {
            await RunAsync(Lab("down"), TimeSpan.FromMinutes(2));
        }
    }

    /// <summary>Destination addresses of the truth with their expected hops.</summary>
    public IEnumerable<(string Address, JsonElement Trace)> Traces() =>
        from destination in Truth.GetProperty("destinations").EnumerateArray()
        from trace in destination.GetProperty("traces").EnumerateArray()
        where trace.GetProperty("reachable").GetBoolean()
        select (trace.GetProperty("address").GetString()!, trace);

    /// <summary>Destination addresses with their expected hops, as traced from one vantage (<c>vantages.NAME</c> of the truth).</summary>
    public IEnumerable<(string Address, JsonElement Trace)> Traces(LabVantage vantage) =>
        from destination in Truth.GetProperty("vantages").GetProperty(vantage.Name).GetProperty("destinations").EnumerateArray()
        from trace in destination.GetProperty("traces").EnumerateArray()
        where trace.GetProperty("reachable").GetBoolean()
        select (trace.GetProperty("address").GetString()!, trace);

    /// <summary>Runs curl inside the default vantage's namespace (the lab node's API listens on that namespace's loopback).</summary>
    public static async Task<(int Status, string Body)> CurlAsync(string method, string url, string? json = null, string? caFile = null, string? key = null)
    {
        var args = new List<string> { "netns", "exec", Vantage, "curl", "-sS", "-m", "120", "-o", "-", "-w", "\n%{http_code}", "-X", method, url };
        if (caFile is not null)
        {
            args.AddRange(["--cacert", caFile]);
        }
        if (key is not null)
        {
            args.AddRange(["-H", "Authorization: Bearer " + key]);
        }
        if (json is not null)
        {
            args.AddRange(["-H", "content-type: application/json", "--data-binary", json]);
        }
        var (exit, output) = await RunAsync(("ip", args), TimeSpan.FromMinutes(3));
        if (exit != 0)
        {
            return (0, output);
        }
        var newline = output.LastIndexOf('\n');
        return (int.Parse(output[(newline + 1)..].Trim()), output[..newline]);
    }

    public static string Script { get; } = Path.Combine(Repository.Root, "scripts", "lab");

    /// <summary>The route collector's RIB dump that <c>scripts/lab mrt</c> writes (TABLE_DUMP_V2).</summary>
    public static string MrtFile =>
        Path.Combine(Environment.GetEnvironmentVariable("CYBERWATCH_LAB_DIR") is { Length: > 0 } dir ? dir : Path.Combine(Repository.Root, ".data", "lab"),
            "collector.mrt");

    /// <summary>The lab's IXP peering LANs as CYBERWATCH_IXP_PREFIXES reads them (NAME=PREFIX,...).</summary>
    public string IxpPrefixes() => string.Join(',',
        from ixp in Truth.GetProperty("ixps").EnumerateArray()
        from prefix in ixp.GetProperty("prefixes").EnumerateArray()
        select $"{ixp.GetProperty("name").GetString()}={prefix.GetString()}");

    /// <summary>The lab's IXP member ports as CYBERWATCH_IXP_MEMBERS reads them (ADDRESS=ASN,...), as PeeringDB's netixlan would give them.</summary>
    public string IxpMembers() => string.Join(',',
        from ixp in Truth.GetProperty("ixps").EnumerateArray()
        from member in ixp.GetProperty("members").EnumerateArray()
        from address in member.GetProperty("addresses").EnumerateArray()
        select $"{address.GetString()}={member.GetProperty("asn").GetInt64()}");

    private static (string, IReadOnlyList<string>) Lab(string command) => (Script, [command]);

    public static async Task<(int ExitCode, string Output)> RunAsync((string Program, IReadOnlyList<string> Args) command, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(command.Program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Repository.Root,
        };
        foreach (var arg in command.Args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cts.Token);
        var output = await stdout;
        var errors = await stderr;
        return (process.ExitCode, process.ExitCode == 0 ? output : output + errors);
    }
}

/// <summary>A vantage of the lab: a host namespace in its own AS, with no default route and no way out of the lab.</summary>
/// <param name="Name">The vantage name a silo there runs with (<c>CYBERWATCH_VANTAGE</c>); the namespace is the lab's prefix and this name.</param>
/// <param name="Addresses">Its lab addresses, IPv4 first; a silo there advertises the IPv4 one.</param>
public sealed record LabVantage(string Name, string Namespace, long Asn, IReadOnlyList<IPAddress> Addresses, bool IsDefault)
{
    public IPAddress Address => Addresses.First(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);
}

[CollectionDefinition(Name)]
public sealed class LabCollection : ICollectionFixture<LabFixture>
{
    public const string Name = "Lab";
}
