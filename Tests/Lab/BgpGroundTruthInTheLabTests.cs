using System.Net;
using System.Text.Json;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Lab;

/// <summary>
/// The AS map cyberWatch infers from its traceroutes, checked against what BGP chose: the node maps hops with the
/// route collector's MRT dump (as a user would load a RouteViews RIB), and the AS paths it infers must equal the
/// AS_PATHs the vantage's AS announced to the collector, read back with bgpdump (not with our own MRT reader).
/// </summary>
[Collection(LabCollection.Name)]
public sealed class BgpGroundTruthInTheLabTests(LabFixture lab) : IAsyncLifetime
{
    private const long VantageAsn = 1100;
    private LabNode node = null!;
    private string mrtCopy = "";

    public async ValueTask InitializeAsync()
    {
        lab.SkipIfUnavailable();
        var (dumped, output) = await LabFixture.RunAsync((LabFixture.Script, ["mrt"]), TimeSpan.FromMinutes(1));
        Assert.True(dumped == 0, output);
        // A copy: a later dump (after a link change) must not reload the node's table under the test.
        mrtCopy = Path.Combine(Path.GetTempPath(), $"cyberwatch-lab-collector-{Environment.ProcessId}.mrt");
        File.Copy(LabFixture.MrtFile, mrtCopy, overwrite: true);
        node = await LabNode.StartAsync(lab, """
            UPDATE settings SET value = value || '{"rate_limit_per_minute": 600, "per_prefix_interval_seconds": 0.1,
                "target_cooldown_seconds": 0}'::jsonb WHERE key = 'worker_settings';
            """, new Dictionary<string, string?>
            {
                ["CYBERWATCH_PREFIX_DATA"] = mrtCopy,
                ["CYBERWATCH_IXP_PREFIXES"] = lab.IxpPrefixes(),
                ["CYBERWATCH_IXP_MEMBERS"] = lab.IxpMembers(),
            });
    }

    public async ValueTask DisposeAsync()
    {
        if (node is not null)
        {
            await node.DisposeAsync();
        }
        File.Delete(mrtCopy);
    }

    [Fact]
    public async Task Inferred_AS_paths_and_edges_are_the_ones_BGP_chose()
    {
        var bgp = await VantageRoutesAsync(mrtCopy);
        Assert.NotEmpty(bgp);
        var destinations = lab.Traces().Select(t => t.Address).Distinct().ToList();
        Assert.NotEmpty(destinations);

        var (status, body) = await node.PostAsync("/targets/enqueue", JsonSerializer.Serialize(new { targets = destinations, source = "api" }));
        Assert.True(status == 200, body);
        var inferred = new Dictionary<string, List<long>>();
        await LabNode.WaitUntilAsync(async () =>
        {
            foreach (var address in destinations.Where(a => !inferred.ContainsKey(a)))
            {
                var info = await node.GetAsync($"/targets/{address}");
                var target = JsonDocument.Parse(info.Body).RootElement;
                if (info.Status == 200 && target.GetProperty("lastMeasurementId").ValueKind == JsonValueKind.Number)
                {
                    inferred[address] = [.. target.GetProperty("lastAsPath").EnumerateArray().Select(a => a.GetInt64())];
                }
            }
            return inferred.Count == destinations.Count;
        }, TimeSpan.FromSeconds(120), () => node.Silo.Output);

        var expectedEdges = new HashSet<(long, long)>();
        foreach (var address in destinations)
        {
            var bgpPath = BestRoute(bgp, IPAddress.Parse(address));
            Assert.True(bgpPath.SequenceEqual(inferred[address]),
                $"{address}: BGP (collector, peer AS{VantageAsn}) chose {string.Join(' ', bgpPath)}, cyberWatch inferred {string.Join(' ', inferred[address])}");
            for (var i = 1; i < bgpPath.Count; i++)
            {
                expectedEdges.Add((bgpPath[i - 1], bgpPath[i]));
            }
        }

        // The edge grains write as_edges within seconds; exactly the adjacencies on the probed BGP paths, nothing invented.
        HashSet<(long, long)> stored = [];
        await LabNode.WaitUntilAsync(async () =>
        {
            stored = await StoredEdgesAsync();
            return stored.SetEquals(expectedEdges);
        }, TimeSpan.FromSeconds(30), () => $"expected {Format(expectedEdges)}, as_edges holds {Format(stored)}");

        // The paths into LAB-IX members cross its peering LAN: the edge is tagged with the IXP, no fake AS in between.
        var crossingIxp = await node.Database.ScalarAsync<string>(
            "SELECT string_agg(src_asn || '->' || dst_asn, ' ' ORDER BY src_asn, dst_asn) FROM as_edges WHERE ixp = 'LAB-IX'");
        Assert.Equal("1200->1500 1200->1600", crossingIxp);
        // d15-core behind the LAN is silent, but the member port is AS1500's router: the edge is direct, as every one here.
        Assert.Equal(0, await node.Database.ScalarAsync<long>("SELECT count(*) FROM as_edges WHERE kind <> 'direct'"));

        // The graph index answers the lab's AS path.
        var dstA = lab.Traces().First(t => t.Address == "30.14.1.10").Trace.GetProperty("as_path").EnumerateArray().Select(a => a.GetInt64()).ToList();
        await LabNode.WaitUntilAsync(async () => (await node.GetAsync($"/graph/path?src_asn={VantageAsn}&dst_asn=1400")).Status == 200,
            TimeSpan.FromSeconds(30));
        var path = JsonDocument.Parse((await node.GetAsync($"/graph/path?src_asn={VantageAsn}&dst_asn=1400")).Body).RootElement;
        Assert.Equal(dstA, path.GetProperty("path").EnumerateArray().Select(a => a.GetInt64()));
    }

    private static string Format(IEnumerable<(long Src, long Dst)> edges) =>
        string.Join(' ', edges.OrderBy(e => e).Select(e => $"{e.Src}->{e.Dst}"));

    private async Task<HashSet<(long, long)>> StoredEdgesAsync()
    {
        await using var command = node.Database.DataSource.CreateCommand("SELECT src_asn, dst_asn FROM as_edges");
        await using var reader = await command.ExecuteReaderAsync();
        var edges = new HashSet<(long, long)>();
        while (await reader.ReadAsync())
        {
            edges.Add((reader.GetInt64(0), reader.GetInt64(1)));
        }
        return edges;
    }

    /// <summary>Prefix → AS_PATH of the routes the vantage's AS announced to the collector, from <c>bgpdump -m</c>.</summary>
    private static async Task<List<(IPNetwork Prefix, List<long> Path)>> VantageRoutesAsync(string mrt)
    {
        var (exit, output) = await LabFixture.RunAsync(("bgpdump", ["-m", mrt]), TimeSpan.FromSeconds(30));
        Assert.True(exit == 0, output);
        var routes = new List<(IPNetwork, List<long>)>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // TABLE_DUMP2|time|B|peer ip|peer AS|prefix|AS path|origin|...
            var fields = line.Split('|');
            if (fields.Length > 6 && fields[0] == "TABLE_DUMP2" && fields[4] == VantageAsn.ToString())
            {
                routes.Add((IPNetwork.Parse(fields[5]), fields[6].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).ToList()));
            }
        }
        return routes;
    }

    private static List<long> BestRoute(List<(IPNetwork Prefix, List<long> Path)> routes, IPAddress address)
    {
        var covering = routes.Where(r => r.Prefix.Contains(address)).ToList();
        Assert.True(covering.Count > 0, $"the collector holds no route from AS{VantageAsn} covering {address}");
        var longest = covering.Max(r => r.Prefix.PrefixLength);
        var paths = covering.Where(r => r.Prefix.PrefixLength == longest).Select(r => string.Join(' ', r.Path)).Distinct().ToList();
        Assert.True(paths.Count == 1, $"AS{VantageAsn} announced several paths for {address}: {string.Join(" | ", paths)}");
        return [.. paths[0].Split(' ').Select(long.Parse)];
    }
}
