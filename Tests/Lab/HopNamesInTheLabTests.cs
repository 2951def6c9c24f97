using System.Text.Json;

namespace CyberWatch.Tests.Lab;

/// <summary>Hop names from the lab's reverse DNS (scripts/lab names), through a node in the vantage namespace.</summary>
[Collection(LabCollection.Name)]
public sealed class HopNamesInTheLabTests(LabFixture lab) : IAsyncLifetime
{
    // No ASN expansion or hop feedback: the targets are the lab's destinations and nothing else.
    private const string Settings = """
        UPDATE settings SET value = value || '{"rate_limit_per_minute": 600, "max_concurrent_traceroutes": 5,
            "per_prefix_interval_seconds": 0.1, "target_cooldown_seconds": 0}'::jsonb WHERE key = 'worker_settings';
        UPDATE settings SET value = value || '{"asn_expansion_enabled": false}'::jsonb WHERE key = 'enrichment_settings';
        """;

    private LabNode node = null!;

    public async ValueTask InitializeAsync()
    {
        lab.SkipIfUnavailable();
        node = await LabNode.StartAsync(lab, Settings, new Dictionary<string, string?>
        {
            ["CYBERWATCH_RDNS_ENABLED"] = "true",
            // The lab's resolver on the vantage namespace's loopback (scripts/lab up starts it).
            ["CYBERWATCH_RDNS_SERVER"] = "127.0.0.1",
            ["CYBERWATCH_RDNS_POLL_SECONDS"] = "1",
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (node is not null)
        {
            await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task Every_router_hop_of_the_lab_traces_gets_the_name_the_lab_resolver_serves()
    {
        var (exit, listing) = await LabFixture.RunAsync((LabFixture.Script, ["names"]), TimeSpan.FromSeconds(30));
        Assert.True(exit == 0, listing);
        var records = listing.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('\t'))
            .ToDictionary(f => System.Net.IPAddress.Parse(f[0]).ToString(), f => f[1]);
        var targets = lab.Traces().Select(t => t.Address).ToList();
        var (status, body) = await node.PostAsync("/targets/enqueue", JsonSerializer.Serialize(new { targets, source = "api" }));
        Assert.True(status == 200, body);

        // Names arrive after the hops, like online enrichment: wait until every answering hop of every target has one.
        var unnamed = "";
        await LabNode.WaitUntilAsync(async () =>
        {
            var measured = await node.Database.ScalarAsync<long>(
                $"SELECT count(DISTINCT target) FROM measurements WHERE success AND target = ANY('{{{string.Join(',', targets)}}}'::inet[])");
            unnamed = await node.Database.ScalarAsync<string>("""
                SELECT string_agg(DISTINCT host(h.address), ' ') FROM hops h LEFT JOIN hop_names n ON n.address = h.address
                 WHERE h.address IS NOT NULL AND (n.address IS NULL OR n.status = 'failed')
                """) ?? "";
            return measured == targets.Count && unnamed.Length == 0;
        }, TimeSpan.FromSeconds(150), () => $"not named yet: {unnamed}\n{node.Silo.Output}");

        var checkedHops = 0;
        foreach (var target in targets)
        {
            var id = await node.Database.ScalarAsync<long>(
                $"SELECT id FROM measurements WHERE target = '{target}' AND success ORDER BY started_at DESC LIMIT 1");
            var (code, hops) = await node.GetAsync($"/measurements/{id}/hops");
            Assert.True(code == 200, hops);
            using var document = JsonDocument.Parse(hops);
            foreach (var hop in document.RootElement.EnumerateArray())
            {
                if (hop.GetProperty("address").GetString() is not { } address)
                {
                    continue;
                }
                Assert.True(records.TryGetValue(address, out var expected), $"{target}: hop {address} is not a lab interface");
                Assert.Equal(expected, hop.GetProperty("hostname").GetString());
                checkedHops++;
            }
        }
        Assert.True(checkedHops >= targets.Count * 3, $"only {checkedHops} named hops checked");
        Console.WriteLine($"hop names in the lab: {checkedHops} answering hops of {targets.Count} traces, every one named as the lab resolver says");
    }
}
