using System.Text.Json;

namespace CyberWatch.Tests.Lab;

/// <summary>Moving a route in the lab changes a destination's path, and the node records it.</summary>
[Collection(LabCollection.Name)]
public sealed class PathChangeInTheLabTests(LabFixture lab) : IAsyncLifetime
{
    private LabNode node = null!;

    public async ValueTask InitializeAsync()
    {
        lab.SkipIfUnavailable();
        node = await LabNode.StartAsync(lab, """
            UPDATE settings SET value = value || '{"rate_limit_per_minute": 600, "per_prefix_interval_seconds": 0.1,
                "target_cooldown_seconds": 0}'::jsonb WHERE key = 'worker_settings';
            """);
    }

    public async ValueTask DisposeAsync()
    {
        if (node is not null)
        {
            await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task Moving_a_route_records_an_as_path_change_for_the_target()
    {
        var (address, trace) = lab.Traces().First(t => t.Address == "30.14.1.10");
        var before = trace.GetProperty("as_path").EnumerateArray().Select(a => a.GetInt64()).ToList();
        var first = await node.PostAsync("/traceroute/run", """{"target": "30.14.1.10"}""");
        Assert.True(first.Status == 200, first.Body);

        var (moved, output) = await LabFixture.RunAsync((LabFixture.Script, ["move-route"]), TimeSpan.FromMinutes(2));
        Assert.True(moved == 0, output);
        try
        {
            var second = await node.PostAsync("/traceroute/run", """{"target": "30.14.1.10"}""");
            Assert.True(second.Status == 200, second.Body);
            await LabNode.WaitUntilAsync(async () => (await node.GetAsync($"/paths/changes?target={address}")).Body.Contains("as_path"),
                TimeSpan.FromSeconds(20));

            var changes = JsonDocument.Parse((await node.GetAsync($"/paths/changes?target={address}")).Body).RootElement;
            var asChange = changes.EnumerateArray().First(c => c.GetProperty("kind").GetString() == "as_path");
            Assert.Equal(before, asChange.GetProperty("before").GetProperty("as_path").EnumerateArray().Select(a => a.GetInt64()));
            Assert.NotEqual(before, asChange.GetProperty("after").GetProperty("as_path").EnumerateArray().Select(a => a.GetInt64()));
            Assert.Contains(changes.EnumerateArray(), c => c.GetProperty("kind").GetString() == "ip_path");
        }
        finally
        {
            await LabFixture.RunAsync((LabFixture.Script, ["move-route", "restore"]), TimeSpan.FromMinutes(2));
        }
    }
}
