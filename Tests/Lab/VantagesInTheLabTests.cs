using System.Text.Json;

namespace CyberWatch.Tests.Lab;

/// <summary>
/// The lab's vantages: each has its own ground truth, which real traces from its namespace follow, and silos in the
/// vantages' namespaces form one cluster over the lab's routing.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class VantagesInTheLabTests(LabFixture lab)
{
    [Fact]
    public void The_lab_has_three_vantages_in_different_ASes()
    {
        Assert.True(LabFixture.Vantages.Count >= 3, $"vantages: {string.Join(", ", LabFixture.Vantages.Select(v => v.Name))}");
        Assert.Equal(LabFixture.Vantages.Count, LabFixture.Vantages.Select(v => v.Asn).Distinct().Count());
        Assert.Single(LabFixture.Vantages, v => v.IsDefault);
        Assert.Equal(LabFixture.Vantage, LabFixture.DefaultVantage.Namespace);
    }

    [Fact]
    public async Task Paris_traces_from_each_vantage_follow_its_ground_truth()
    {
        lab.SkipIfUnavailable();
        var mismatches = new List<string>();
        var traced = 0;
        foreach (var vantage in LabFixture.Vantages)
        {
            var truth = lab.Truth.GetProperty("vantages").GetProperty(vantage.Name);
            Assert.Equal(vantage.Namespace, truth.GetProperty("vantage").GetProperty("namespace").GetString());
            Assert.Equal(vantage.Asn, truth.GetProperty("vantage").GetProperty("asn").GetInt64());
            foreach (var (address, trace) in lab.Traces(vantage))
            {
                var asPath = trace.GetProperty("as_path").EnumerateArray().Select(a => a.GetInt64()).ToList();
                Assert.Equal(vantage.Asn, asPath[0]);
                var branches = trace.GetProperty("branches").EnumerateArray()
                    .Select(b => b.EnumerateArray().Select(a => a.ValueKind == JsonValueKind.Null ? null : a.GetString()).ToList())
                    .ToList();
                var hops = await ParisTraceAsync(vantage.Namespace, address);
                traced++;
                // One flow id, one ECMP branch: the trace equals one branch of the truth, hop for hop, gaps included.
                if (!branches.Any(b => b.SequenceEqual(hops)))
                {
                    mismatches.Add($"{vantage.Name} -> {address}: traced {Show(hops)}, truth allows {string.Join(" or ", branches.Select(Show))}");
                }
            }
        }
        Assert.True(traced >= 3 * LabFixture.Vantages.Count, $"only {traced} traces");
        Assert.True(mismatches.Count == 0, string.Join('\n', mismatches));
    }

    [Fact]
    public async Task Silos_of_every_vantage_form_one_cluster_each_advertising_its_lab_address()
    {
        lab.SkipIfUnavailable();
        await using var cluster = await LabCluster.StartAsync(lab);

        Assert.Equal(LabFixture.Vantages.Count, await cluster.ActiveSilosAsync());
        var expected = LabFixture.Vantages.Select(v => cluster.SiloEndpoint(v.Name)).Order().ToList();
        Assert.Equal(expected, await cluster.ActiveEndpointsAsync());

        // The API in the default vantage's namespace reaches the cluster through the gateways, and the cluster knows every silo.
        var (status, body) = await cluster.GetAsync("/service-info");
        Assert.True(status == 200, body);
        var silos = JsonDocument.Parse(body).RootElement.GetProperty("silos").EnumerateArray()
            .Select(s => s.GetProperty("address").GetString()!).Order().ToList();
        Assert.Equal(expected, silos);

        // The silos probe each other across the lab: had one been unreachable, it would be suspected and voted dead.
        await Task.Delay(TimeSpan.FromSeconds(20));
        Assert.Equal(expected, await cluster.ActiveEndpointsAsync());
        Assert.Equal(0, await cluster.Database.ScalarAsync<long>(
            $"SELECT count(*) FROM orleans_membership WHERE deploymentid = '{cluster.ClusterId}' AND suspecttimes IS NOT NULL AND suspecttimes <> ''"));
    }

    [Fact]
    public async Task A_vantage_silo_stopped_or_killed_comes_back_on_its_lab_address()
    {
        lab.SkipIfUnavailable();
        var vantage = LabFixture.Vantages.First(v => !v.IsDefault).Name;
        await using var cluster = await LabCluster.StartAsync(lab, [LabFixture.DefaultVantage, LabFixture.VantageNamed(vantage)]);

        await cluster.StopAsync(vantage);
        await LabNode.WaitUntilAsync(async () => await cluster.ActiveSilosAsync() == 1, TimeSpan.FromSeconds(60));
        await cluster.StartAsync(vantage);
        Assert.Contains(cluster.SiloEndpoint(vantage), await cluster.ActiveEndpointsAsync());

        // Killed, it leaves its row active until the others vote it dead; started again, it joins with a new one.
        var killed = cluster.SiloEndpoint(vantage);
        await cluster.KillAsync(vantage);
        await cluster.StartAsync(vantage);
        Assert.Contains(cluster.SiloEndpoint(vantage), await cluster.ActiveEndpointsAsync());
        await LabNode.WaitUntilAsync(async () => !(await cluster.ActiveEndpointsAsync()).Contains(killed), TimeSpan.FromSeconds(120));
        Assert.Equal(2, await cluster.ActiveSilosAsync());
    }

    private static async Task<List<string?>> ParisTraceAsync(string netns, string address)
    {
        var (exit, output) = await LabFixture.RunAsync(("ip", ["netns", "exec", netns, "scamper", "-O", "json", "-c", "trace -P icmp-paris -q 1 -w 1", "-i", address]),
            TimeSpan.FromMinutes(1));
        Assert.True(exit == 0, output);
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var document = JsonDocument.Parse(line);
            var trace = document.RootElement;
            if (trace.GetProperty("type").GetString() != "trace")
            {
                continue;
            }
            var byTtl = new Dictionary<int, string>();
            if (trace.TryGetProperty("hops", out var hops))
            {
                foreach (var hop in hops.EnumerateArray())
                {
                    byTtl.TryAdd(hop.GetProperty("probe_ttl").GetInt32(), hop.GetProperty("addr").GetString()!);
                }
            }
            var last = byTtl.Count == 0 ? 0 : byTtl.Keys.Max();
            return [.. Enumerable.Range(1, last).Select(ttl => byTtl.GetValueOrDefault(ttl))];
        }
        throw new InvalidOperationException($"scamper printed no trace:\n{output}");
    }

    private static string Show(IEnumerable<string?> path) => "[" + string.Join(", ", path.Select(a => a ?? "*")) + "]";
}
