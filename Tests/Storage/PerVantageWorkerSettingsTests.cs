using System.Text.Json.Nodes;
using CyberWatch.Storage;
using CyberWatch.WebApi.Settings;

namespace CyberWatch.Tests.Storage;

public sealed class PerVantageWorkerSettingsTests
{
    private static readonly Dictionary<string, string> Rows = new()
    {
        ["worker_settings"] = """
            {"rate_limit_per_minute": 300, "max_concurrent_traceroutes": 8, "packets_per_second": 40,
             "vantages": {"home": {"rate_limit_per_minute": 20}, "4g": {"rate_limit_per_minute": 6, "max_concurrent_traceroutes": 1}}}
            """,
    };

    [Fact]
    public void A_silo_probes_at_its_vantages_own_rate_and_the_cluster_rate_for_what_its_vantage_does_not_set()
    {
        var home = NodeSettings.From(Rows, vantage: "home");
        Assert.Equal(20, home.Worker.RateLimitPerMinute);
        Assert.Equal(8, home.Worker.MaxConcurrentTraceroutes);
        Assert.Equal(40, home.Worker.PacketsPerSecond);
        var north = NodeSettings.From(Rows, vantage: "north");
        Assert.Equal(300, north.Worker.RateLimitPerMinute);
        // An agent's vantage, served by a silo of another: its own share, whatever the silo's.
        Assert.Equal(6, north.WorkerFor("4g").RateLimitPerMinute);
        Assert.Equal(1, north.WorkerFor("4g").MaxConcurrentTraceroutes);
        Assert.Equal(20, north.WorkerFor("home").RateLimitPerMinute);
        Assert.Equal(300, home.WorkerFor("north").RateLimitPerMinute);
    }

    [Fact]
    public void The_same_table_read_twice_is_no_change()
    {
        // The settings monitor raises Changed (and logs) when a poll differs from the last one: a map compared by reference
        // would do so every 2 s.
        Assert.Equal(NodeSettings.From(Rows, vantage: "home"), NodeSettings.From(Rows, vantage: "home"));
        var changed = new Dictionary<string, string>
        {
            ["worker_settings"] = Rows["worker_settings"].Replace("\"rate_limit_per_minute\": 20", "\"rate_limit_per_minute\": 21"),
        };
        Assert.NotEqual(NodeSettings.From(Rows, vantage: "north"), NodeSettings.From(changed, vantage: "north"));
    }

    [Fact]
    public void The_settings_api_takes_a_vantages_own_rate_and_refuses_what_no_prober_could_use()
    {
        var stored = JsonNode.Parse("""{"rate_limit_per_minute": 30}""")!.AsObject();
        Assert.Empty(SettingsSchema.Validate("worker_settings",
            JsonNode.Parse("""{"vantages": {"home": {"rate_limit_per_minute": 20, "max_concurrent_traceroutes": 2}}}""")!.AsObject(), stored));
        foreach (var (change, error) in new[]
        {
            ("""{"vantages": {"home": {"rate_limit_per_minute": 0}}}""", "home.rate_limit_per_minute must be integer from 1 to 60000"),
            ("""{"vantages": {"home": {"packets_per_second": 10}}}""", "home.packets_per_second is not one of rate_limit_per_minute, max_concurrent_traceroutes"),
            ("""{"vantages": {"no vantage!": {"rate_limit_per_minute": 10}}}""", "'no vantage!' is not a vantage point name"),
            ("""{"vantages": {"home": 20}}""", "home must be an object of rate_limit_per_minute, max_concurrent_traceroutes"),
            ("""{"vantages": [20]}""", "must be an object keyed by vantage point name"),
        })
        {
            var errors = SettingsSchema.Validate("worker_settings", JsonNode.Parse(change)!.AsObject(), stored);
            Assert.Equal(error, Assert.Single(errors["vantages"]));
        }
    }
}
