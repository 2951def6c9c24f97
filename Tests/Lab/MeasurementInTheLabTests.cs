using System.Diagnostics;
using System.Text.Json;
using Npgsql;

namespace CyberWatch.Tests.Lab;

/// <summary>Real scamper through the lab internet, checked against the lab's ground truth.</summary>
[Collection(LabCollection.Name)]
public sealed class MeasurementInTheLabTests(LabFixture lab) : IAsyncLifetime
{
    private const string FastSettings = """
        UPDATE settings SET value = value || '{"rate_limit_per_minute": 600, "max_concurrent_traceroutes": 5,
            "per_prefix_interval_seconds": 0.1, "target_cooldown_seconds": 0}'::jsonb WHERE key = 'worker_settings';
        UPDATE settings SET value = value || '{"interval_minutes": 1, "jitter_fraction": 0.1}'::jsonb WHERE key = 'remeasurement_settings';
        """;

    private LabNode node = null!;

    public async ValueTask InitializeAsync()
    {
        lab.SkipIfUnavailable();
        node = await LabNode.StartAsync(lab, FastSettings);
    }

    public async ValueTask DisposeAsync()
    {
        if (node is not null)
        {
            await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task Enqueued_lab_destinations_are_stored_along_the_true_path_and_remeasured_on_schedule()
    {
        var traces = lab.Traces().Where(t => !t.Address.Contains(':')).ToList();
        var (status, body) = await node.PostAsync("/targets/enqueue",
            JsonSerializer.Serialize(new { targets = traces.Select(t => t.Address), source = "api" }));
        Assert.True(status == 200, body);

        await LabNode.WaitUntilAsync(async () => await MeasuredCountAsync(traces.Select(t => t.Address), 1), TimeSpan.FromSeconds(120),
            () => node.Silo.Output);

        foreach (var (address, trace) in traces)
        {
            var hops = await FirstMeasurementHopsAsync(address);
            AssertPathMatchesTruth(address, trace, hops);
            AssertHopsMappedToTheirAs(hops);
        }

        // interval_minutes 1: each target comes due a minute (±10% jitter) after its measurement; its shard ticks every 5 s.
        var clock = Stopwatch.StartNew();
        await LabNode.WaitUntilAsync(async () => await MeasuredCountAsync(traces.Select(t => t.Address), 2), TimeSpan.FromSeconds(150),
            () => node.Silo.Output);
        Assert.True(clock.Elapsed > TimeSpan.FromSeconds(30), "remeasured too early to be the schedule");
    }

    [Fact]
    public async Task Killing_scamper_mid_run_loses_no_target()
    {
        var targets = lab.Traces().Select(t => t.Address).Where(a => a.Contains(':')).ToList();
        Assert.NotEmpty(targets);
        await LabNode.WaitUntilAsync(() => Task.FromResult(node.ScamperProcessId() is not null), TimeSpan.FromSeconds(30));
        var scamper = node.ScamperProcessId()!.Value;

        var (status, body) = await node.PostAsync("/targets/enqueue", JsonSerializer.Serialize(new { targets, source = "api" }));
        Assert.True(status == 200, body);
        // The trace through the silent router waits seconds for each unanswered probe: still in flight.
        await Task.Delay(1500);
        Process.GetProcessById(scamper).Kill();

        await LabNode.WaitUntilAsync(async () => await MeasuredCountAsync(targets, 1, successfulOnly: true), TimeSpan.FromSeconds(120),
            () => node.Silo.Output);
        Assert.Contains("queued again", node.Silo.Output);
        Assert.NotEqual(scamper, node.ScamperProcessId());
    }

    private async Task<bool> MeasuredCountAsync(IEnumerable<string> targets, int atLeast, bool successfulOnly = false)
    {
        await using var command = node.Database.DataSource.CreateCommand($"""
            SELECT count(*) FROM (
                SELECT t FROM unnest(@targets::inet[]) AS t
                 WHERE (SELECT count(*) FROM measurements m WHERE m.target = t {(successfulOnly ? "AND m.success" : "")}) >= @n) x
            """);
        var list = targets.ToArray();
        command.Parameters.AddWithValue("targets", list);
        command.Parameters.AddWithValue("n", atLeast);
        return (long)(await command.ExecuteScalarAsync())! == list.Length;
    }

    private async Task<List<(int Ttl, string? Address, long? Asn, string? Class)>> FirstMeasurementHopsAsync(string target)
    {
        await using var command = node.Database.DataSource.CreateCommand("""
            SELECT h.ttl, host(h.address), h.asn, h.address_class FROM hops h
              JOIN (SELECT id FROM measurements WHERE target = @t::inet ORDER BY started_at LIMIT 1) m ON m.id = h.measurement_id
             WHERE h.reply_index = 0 ORDER BY h.ttl
            """);
        command.Parameters.AddWithValue("t", target);
        var hops = new List<(int, string?, long?, string?)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            hops.Add((reader.GetInt16(0), reader.IsDBNull(1) ? null : reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetInt64(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
        }
        return hops;
    }

    private static void AssertPathMatchesTruth(string target, JsonElement trace, List<(int Ttl, string? Address, long? Asn, string? Class)> hops)
    {
        var path = hops.Select(h => h.Address).ToList();
        var branches = trace.GetProperty("branches").EnumerateArray()
            .Select(b => b.EnumerateArray().Select(a => a.ValueKind == JsonValueKind.Null ? null : a.GetString()).ToList())
            .ToList();
        // A Paris trace keeps one flow id, so it must follow exactly one ECMP branch (never a mix of two).
        Assert.True(branches.Any(b => b.SequenceEqual(path)),
            $"{target}: measured {Show(path)}, truth allows {string.Join(" or ", branches.Select(Show))}");
    }

    private void AssertHopsMappedToTheirAs(List<(int Ttl, string? Address, long? Asn, string? Class)> hops)
    {
        var prefixes = lab.Truth.GetProperty("prefixes").EnumerateObject()
            .SelectMany(asn => asn.Value.EnumerateArray().Select(p => (Prefix: System.Net.IPNetwork.Parse(p.GetString()!), Asn: long.Parse(asn.Name))))
            .ToList();
        foreach (var hop in hops.Where(h => h.Address is not null))
        {
            var address = System.Net.IPAddress.Parse(hop.Address!);
            var covering = prefixes.Where(p => p.Prefix.Contains(address)).OrderByDescending(p => p.Prefix.PrefixLength).ToList();
            Assert.NotNull(hop.Class);
            if (covering.Count > 0)
            {
                Assert.True(covering[0].Asn == hop.Asn, $"hop {hop.Address}: stored AS{hop.Asn}, announced by AS{covering[0].Asn}");
            }
            else
            {
                Assert.Null(hop.Asn);
            }
        }
    }

    private static string Show(IEnumerable<string?> path) => "[" + string.Join(", ", path.Select(a => a ?? "*")) + "]";
}
