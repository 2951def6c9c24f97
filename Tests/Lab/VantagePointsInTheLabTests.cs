using System.Diagnostics;
using System.Text.Json;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Lab;

/// <summary>
/// The node as a cluster of vantage points in the lab: a silo in each of the three vantages (three ASes), real
/// scamper and BIRD. Every destination is measured from every vantage along that vantage's own ground truth, each
/// pair only by its vantage's silo; vantages interleaved record no path change, a route moved on one vantage's
/// uplink records changes for that vantage only; a vantage that goes down leaves its pairs waiting and catches up
/// once back; on demand "from all" answers per vantage.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class VantagePointsInTheLabTests(LabFixture lab)
{
    // Hop feedback and ASN expansion off: routers of the paths and sampled addresses of their ASes would become
    // targets and blur the counts (and the AS graph). Adaptive remeasurement off: the AS-path incident of the move
    // would pull its pairs in every 60 s, and "every pair settled" (due now, or a day away) would never hold.
    private const string Settings = """
        UPDATE settings SET value = value || '{"rate_limit_per_minute": 1200, "per_prefix_interval_seconds": 0.1,
            "target_cooldown_seconds": 0, "hop_feedback_enabled": false}'::jsonb WHERE key = 'worker_settings';
        UPDATE settings SET value = value || '{"asn_expansion_enabled": false}'::jsonb WHERE key = 'enrichment_settings';
        UPDATE settings SET value = value || '{"remeasure_seconds": 0}'::jsonb WHERE key = 'incident_settings';
        """;

    private List<string> Destinations() => [.. lab.Traces(LabFixture.DefaultVantage).Select(t => t.Address).Distinct()];

    private static Task<long> CountAsync(LabCluster cluster, string sql) => cluster.Database.ScalarAsync<long>(sql);

    private static async Task EnqueueAsync(LabCluster cluster, IReadOnlyList<string> destinations)
    {
        var (status, body) = await cluster.PostAsync("/targets/enqueue", JsonSerializer.Serialize(new { targets = destinations, vantages = "all" }));
        Assert.True(status == 200, body);
    }

    private static async Task WaitForAsync(LabCluster cluster, string what, Func<Task<bool>> condition, TimeSpan timeout,
        Func<string>? detail = null) =>
        await LabNode.WaitUntilAsync(condition, timeout, () => $"{what}: {detail?.Invoke()}\n" + string.Join("\n\n",
            cluster.Vantages.Select(v => { try { return $"silo of {v.Name}:\n{Tail(cluster.Silo(v.Name).Output)}"; } catch (InvalidOperationException) { return $"silo of {v.Name}: stopped"; } })));

    private static string Tail(string output) => output[^Math.Min(3000, output.Length)..];

    /// <summary>
    /// Nothing of the cluster's pairs is on its way: each was given its next due time by its latest measurement, or is
    /// due and not leased to a probe. What is counted after this cannot grow.
    /// </summary>
    private static Task WaitSettledAsync(LabCluster cluster) => WaitForAsync(cluster, "every pair settled", async () => await CountAsync(cluster, """
        SELECT count(*) FROM target_vantages tv
         WHERE NOT (tv.next_due_at <= now()
                    OR tv.next_due_at > now() + interval '20 hours'
                       AND tv.last_measurement_id = (SELECT max(m.id) FROM measurements m WHERE m.target = tv.ip AND m.vantage = tv.vantage))
        """) == 0, TimeSpan.FromSeconds(60));

    /// <summary>Sets every pair due now (a round) and waits until each has one more measurement.</summary>
    private static async Task RoundAsync(LabCluster cluster, long expectedTotal, string? onlyVantage = null)
    {
        // A measurement's row is stored before its pair is given its next due time: setting the pairs due while the
        // last round's completions are still on their way would see "due now" overwritten by "due an interval later".
        await WaitForAsync(cluster, "every pair's last measurement recorded on the pair", async () => await CountAsync(cluster, """
            SELECT count(*) FROM target_vantages tv
             WHERE tv.last_measurement_id IS DISTINCT FROM
                   (SELECT max(m.id) FROM measurements m WHERE m.target = tv.ip AND m.vantage = tv.vantage)
            """) == 0, TimeSpan.FromSeconds(30));
        await cluster.Database.ScalarAsync<object>(onlyVantage is null
            ? "UPDATE target_vantages SET next_due_at = now()"
            : $"UPDATE target_vantages SET next_due_at = now() WHERE vantage = '{onlyVantage}'");
        await WaitForAsync(cluster, $"{expectedTotal} measurements", async () =>
            await CountAsync(cluster, "SELECT count(*) FROM measurements") >= expectedTotal, TimeSpan.FromSeconds(120));
    }

    private static async Task<List<string?>> LatestHopsAsync(LabCluster cluster, string target, string vantage)
    {
        await using var command = cluster.Database.DataSource.CreateCommand("""
            SELECT h.ttl, host(h.address) FROM hops h
              JOIN (SELECT id, started_at FROM measurements WHERE target = @t::inet AND vantage = @v ORDER BY started_at DESC LIMIT 1) m
                ON m.id = h.measurement_id AND h.measured_at = m.started_at
             WHERE h.reply_index = 0 ORDER BY h.ttl
            """);
        command.Parameters.AddWithValue("t", target);
        command.Parameters.AddWithValue("v", vantage);
        var byTtl = new Dictionary<int, string?>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            byTtl[reader.GetInt16(0)] = reader.IsDBNull(1) ? null : reader.GetString(1);
        }
        var last = byTtl.Count == 0 ? 0 : byTtl.Keys.Max();
        return [.. Enumerable.Range(1, last).Select(ttl => byTtl.GetValueOrDefault(ttl))];
    }

    private static List<List<string?>> Branches(JsonElement trace) => [.. trace.GetProperty("branches").EnumerateArray()
        .Select(b => b.EnumerateArray().Select(a => a.ValueKind == JsonValueKind.Null ? null : a.GetString()).ToList())];

    private static List<long> AsPath(JsonElement trace) => [.. trace.GetProperty("as_path").EnumerateArray().Select(a => a.GetInt64())];

    private static string Show(IEnumerable<string?> path) => "[" + string.Join(", ", path.Select(a => a ?? "*")) + "]";

    [Fact]
    public async Task Every_destination_is_measured_from_every_vantage_along_its_truth_and_only_a_moved_vantage_records_changes()
    {
        lab.SkipIfUnavailable();
        var timeline = new Timeline();
        await using var cluster = await LabCluster.StartAsync(lab, settingsSql: Settings);
        timeline.Mark("cluster started");
        var destinations = Destinations();
        var vantages = LabFixture.Vantages;
        var pairs = destinations.Count * vantages.Count;
        await WaitForAsync(cluster, "every vantage registered", async () =>
            await CountAsync(cluster, "SELECT count(*) FROM vantage_silos WHERE last_heartbeat > now() - interval '1 minute'") == vantages.Count,
            TimeSpan.FromSeconds(60));
        timeline.Mark("every vantage registered");

        await EnqueueAsync(cluster, destinations);
        await WaitForAsync(cluster, "every (target, vantage) measured", async () =>
            await CountAsync(cluster, "SELECT count(DISTINCT (target, vantage)) FROM measurements") == pairs, TimeSpan.FromSeconds(180));
        timeline.Mark($"first wave: {pairs} pairs measured");
        // Once each, and only from the vantages of the cluster (the vantage column is the silo that probed).
        Assert.Equal(pairs, await CountAsync(cluster, "SELECT count(*) FROM measurements"));
        foreach (var vantage in vantages)
        {
            Assert.Equal(destinations.Count, await CountAsync(cluster, $"SELECT count(*) FROM measurements WHERE vantage = '{vantage.Name}'"));
        }

        // Each vantage's stored path is its own ground truth: hops (one ECMP branch) and AS path.
        var mismatches = new List<string>();
        foreach (var vantage in vantages)
        {
            foreach (var (address, trace) in lab.Traces(vantage))
            {
                var hops = await LatestHopsAsync(cluster, address, vantage.Name);
                if (!Branches(trace).Any(b => b.SequenceEqual(hops)))
                {
                    mismatches.Add($"{vantage.Name} -> {address}: stored {Show(hops)}, truth allows {string.Join(" or ", Branches(trace).Select(Show))}");
                }
                // The row is stored before the target grain hears of it: its state follows within moments.
                var asPath = new List<long>();
                await WaitForAsync(cluster, $"{address} from {vantage.Name} in the target's state", async () =>
                {
                    var (status, body) = await cluster.GetAsync($"/targets/{address}");
                    var state = status == 200 ? JsonDocument.Parse(body).RootElement.GetProperty("perVantage").EnumerateArray()
                        .FirstOrDefault(v => v.GetProperty("vantage").GetString() == vantage.Name) : default;
                    if (state.ValueKind != JsonValueKind.Object || state.GetProperty("lastMeasurementId").ValueKind != JsonValueKind.Number)
                    {
                        return false;
                    }
                    asPath = [.. state.GetProperty("lastAsPath").EnumerateArray().Select(a => a.GetInt64())];
                    return true;
                }, TimeSpan.FromSeconds(15));
                if (!asPath.SequenceEqual(AsPath(trace)))
                {
                    var row = await cluster.Database.ScalarAsync<string>($"""
                        SELECT string_agg(id || ' success=' || success || ' stop=' || coalesce(stop_reason, '-') || ' hops=' || coalesce(hop_count, -1)
                               || ' enrichment=' || enrichment_state, '; ' ORDER BY started_at)
                          FROM measurements WHERE target = '{address}' AND vantage = '{vantage.Name}'
                        """);
                    var asns = await cluster.Database.ScalarAsync<string>($"""
                        SELECT string_agg(h.ttl || ':' || coalesce(host(h.address), '*') || '=' || coalesce(h.asn::text, '?') || '/' || coalesce(h.address_class, '?') || '/' || coalesce(h.ixp, ''), ' ' ORDER BY h.ttl)
                          FROM hops h JOIN measurements m ON m.id = h.measurement_id WHERE m.target = '{address}' AND m.vantage = '{vantage.Name}'
                        """);
                    mismatches.Add($"{vantage.Name} -> {address}: AS path {string.Join(' ', asPath)}, truth {string.Join(' ', AsPath(trace))} ({row}; {asns})");
                }
            }
        }
        Assert.True(mismatches.Count == 0, string.Join('\n', mismatches));
        timeline.Mark("paths against the truth");

        // The AS graph of all vantages: the union of their truths' adjacencies, and nothing else. The one adjacency seen
        // only across a silent router is there as an indirect link: from vp-transit, d15-br answers dst-b's trace from
        // AS1300's link space and d15-core is silent, so the extractor sees 1300 * 1500.
        var expectedEdges = vantages.SelectMany(v => lab.Traces(v)).Select(t => AsPath(t.Trace))
            .SelectMany(p => p.Zip(p.Skip(1), (a, b) => $"{a}->{b}")).ToHashSet();
        string? stored = "";
        await WaitForAsync(cluster, "as_edges equal the truth's adjacencies", async () =>
        {
            stored = await cluster.Database.ScalarAsync<string?>("SELECT coalesce(string_agg(src_asn || '->' || dst_asn, ' ' ORDER BY src_asn, dst_asn), '') FROM as_edges");
            return (stored ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet().SetEquals(expectedEdges);
        }, TimeSpan.FromSeconds(30), () => $"expected {string.Join(' ', expectedEdges.Order())}, as_edges holds {stored}");
        var kinds = await cluster.Database.ScalarAsync<string>(
            "SELECT string_agg(src_asn || '->' || dst_asn || ' ' || kind, ', ' ORDER BY src_asn, dst_asn) FROM as_edges");
        Assert.Equal("indirect", await cluster.Database.ScalarAsync<string>("SELECT kind FROM as_edges WHERE src_asn = 1300 AND dst_asn = 1500"));
        Assert.True(await CountAsync(cluster, "SELECT count(*) FROM as_edges WHERE kind = 'indirect'") == 1, kinds);
        // For every measurement, the AS path the API returns is the truth and each of its steps is an edge of the graph
        // of the same kind: the path and the edges come from one extraction.
        var graphKinds = (kinds ?? "").Split(", ").Select(e => e.Split(' ')).ToDictionary(e => e[0], e => e[1]);
        foreach (var vantage in vantages)
        {
            foreach (var (address, trace) in lab.Traces(vantage))
            {
                var (status, body) = await cluster.GetAsync($"/measurements/latest?target={address}&vantage={vantage.Name}");
                Assert.True(status == 200, $"{vantage.Name} -> {address}: {body}");
                var summary = JsonDocument.Parse(body).RootElement.GetProperty("summary");
                Assert.Equal(AsPath(trace), summary.GetProperty("asPath").EnumerateArray().Select(a => a.GetInt64()));
                foreach (var step in summary.GetProperty("asSteps").EnumerateArray())
                {
                    var key = $"{step.GetProperty("from").GetInt64()}->{step.GetProperty("to").GetInt64()}";
                    // An edge seen directly by another measurement is direct; a step is never direct where the edge is not.
                    Assert.True(graphKinds.TryGetValue(key, out var kind) && (kind == step.GetProperty("kind").GetString() || kind == "direct"),
                        $"{vantage.Name} -> {address}: step {key} {step.GetProperty("kind")}, graph: {kinds}");
                }
            }
        }
        // And per vantage: the graph from one vantage holds the adjacencies of its own paths.
        foreach (var vantage in vantages)
        {
            var truthPath = AsPath(lab.Traces(vantage).First().Trace);
            var (status, body) = await cluster.GetAsync($"/graph/path?src_asn={truthPath[0]}&dst_asn={truthPath[^1]}&directed=true&vantage={vantage.Name}");
            Assert.True(status == 200, $"{vantage.Name}: {body}");
            Assert.Equal(truthPath, JsonDocument.Parse(body).RootElement.GetProperty("path").EnumerateArray().Select(a => a.GetInt64()));
        }

        timeline.Mark("AS graph");
        // Ten rounds with the vantages interleaved: each pair is judged against its own history, so nothing changed.
        for (var round = 1; round <= 10; round++)
        {
            await RoundAsync(cluster, (long)pairs * (round + 1));
            timeline.Mark($"round {round}");
        }
        Assert.Equal(0, await CountAsync(cluster, "SELECT count(*) FROM path_changes WHERE kind IN ('as_path', 'ip_path')"));
        // Steady, ECMP active: no incident of any kind (no IP-path change beyond the known branches, no AS-path change,
        // no loss in the ping rounds that ran meanwhile).
        var steady = await cluster.Database.ScalarAsync<string>("""
            SELECT (SELECT count(*) FROM measurements) || ' traces, ' || (SELECT count(*) FROM ping_rounds) || ' ping rounds, '
                   || (SELECT extract(epoch FROM max(started_at) - min(started_at))::int FROM measurements) || ' s'
            """);
        Assert.True(await CountAsync(cluster, "SELECT count(*) FROM incidents") == 0,
            $"incidents in the steady lab ({steady}): {await cluster.Database.ScalarAsync<string>("SELECT string_agg(kind || ' ' || subject, '; ') FROM incidents")}");

        // The default vantage loses its preferred uplink: its pairs record AS-path changes, the others' none.
        var (moved, output) = await LabFixture.RunAsync((LabFixture.Script, ["move-route"]), TimeSpan.FromMinutes(2));
        Assert.True(moved == 0, output);
        timeline.Mark("route moved");
        try
        {
            await RoundAsync(cluster, (long)pairs * 12);
            timeline.Mark("round after the move");
            // A path change is written with the pair's history, before the pair is given its next due time.
            await WaitSettledAsync(cluster);
            timeline.Mark("path changes");
            Assert.Equal(LabFixture.DefaultVantage.Name, await cluster.Database.ScalarAsync<string>(
                "SELECT string_agg(DISTINCT vantage, ',') FROM path_changes WHERE kind IN ('as_path', 'ip_path')"));
            // Every destination of the default vantage moved to TRANSIT-B (1300).
            Assert.Equal(destinations.Count, await CountAsync(cluster,
                $"SELECT count(DISTINCT target) FROM path_changes WHERE kind = 'as_path' AND vantage = '{LabFixture.DefaultVantage.Name}'"));
        }
        finally
        {
            await LabFixture.RunAsync((LabFixture.Script, ["move-route", "restore"]), TimeSpan.FromMinutes(2));
            timeline.Mark("route restored");
        }
    }

    [Fact]
    public async Task A_vantage_that_goes_down_leaves_its_pairs_waiting_and_on_demand_from_all_answers_for_each_vantage()
    {
        lab.SkipIfUnavailable();
        var timeline = new Timeline();
        await using var cluster = await LabCluster.StartAsync(lab, settingsSql: Settings);
        timeline.Mark("cluster started");
        var destinations = Destinations();
        var vantages = LabFixture.Vantages;
        var pairs = destinations.Count * vantages.Count;
        var away = vantages.Last(v => !v.IsDefault).Name;
        await WaitForAsync(cluster, "every vantage registered", async () =>
            await CountAsync(cluster, "SELECT count(*) FROM vantage_silos WHERE last_heartbeat > now() - interval '1 minute'") == vantages.Count,
            TimeSpan.FromSeconds(60));
        timeline.Mark("every vantage registered");
        await EnqueueAsync(cluster, destinations);
        await WaitForAsync(cluster, "the first wave", async () => await CountAsync(cluster, "SELECT count(*) FROM measurements") == pairs,
            TimeSpan.FromSeconds(180));
        timeline.Mark($"first wave: {pairs} pairs measured");

        // On demand from all: one answer per vantage, each taken from there.
        var dstA = "30.14.1.10";
        var (status, body) = await cluster.PostAsync("/traceroute/run", JsonSerializer.Serialize(new { target = dstA, vantages = "all" }));
        Assert.True(status == 200, body);
        var results = JsonDocument.Parse(body).RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(vantages.Select(v => v.Name).Order(), results.Select(r => r.GetProperty("vantage").GetString()).Order());
        foreach (var result in results)
        {
            var name = result.GetProperty("vantage").GetString()!;
            Assert.True(result.GetProperty("status").GetInt32() == 200, result.ToString());
            Assert.Equal(name, result.GetProperty("measurement").GetProperty("vantage").GetString());
            var truth = lab.Traces(LabFixture.VantageNamed(name)).First(t => t.Address == dstA).Trace;
            var hops = result.GetProperty("hops").EnumerateArray().Where(h => h.GetProperty("replyIndex").GetInt32() == 0)
                .Select(h => h.GetProperty("address").ValueKind == JsonValueKind.Null ? null : h.GetProperty("address").GetString()).ToList();
            Assert.True(Branches(truth).Any(b => b.SequenceEqual(hops)), $"{name}: {Show(hops)}");
        }

        timeline.Mark("on demand from all");
        // One vantage stops: it is reported down, the others go on, its pairs wait and are taken by nobody else.
        await cluster.StopAsync(away);
        timeline.Mark($"{away} stopped");
        // In its place, a silo of the same name and namespace with a certificate of another CA tries to join (and would
        // take the vantage's pairs, and answer for it on demand, if it got in). Watched while the rest goes on.
        var foreign = await ClusterTls.CreateAsync([(away, LabFixture.VantageNamed(away).Addresses.Select(a => a.ToString()))])
            ?? throw new InvalidOperationException("scripts/cyberwatch has no cert command");
        var (outsider, outsiderPort) = cluster.StartOutsider(away, foreign);
        var outsiderRows = $"FROM orleans_membership WHERE deploymentid = '{cluster.ClusterId}' AND port = {outsiderPort}";
        using var watching = new CancellationTokenSource();
        var outsiderSeenActive = Task.Run(async () =>
        {
            var seen = false;
            while (!watching.IsCancellationRequested)
            {
                seen |= await CountAsync(cluster, $"SELECT count(*) {outsiderRows} AND status = 3") > 0;
                await Task.Delay(250, CancellationToken.None);
            }
            return seen;
        }, CancellationToken.None);
        await WaitForAsync(cluster, $"{away} down", async () =>
            JsonDocument.Parse((await cluster.GetAsync($"/vantages/{away}")).Body).RootElement.GetProperty("status").GetString() == "down",
            TimeSpan.FromSeconds(30));
        timeline.Mark($"{away} reported down");
        var before = await CountAsync(cluster, "SELECT count(*) FROM measurements");
        await cluster.Database.ScalarAsync<object>("UPDATE target_vantages SET next_due_at = now()");
        var others = destinations.Count * (vantages.Count - 1);
        await WaitForAsync(cluster, "the other vantages' round", async () =>
            await CountAsync(cluster, "SELECT count(*) FROM measurements") >= before + others, TimeSpan.FromSeconds(120));
        timeline.Mark("the other vantages' round");
        await WaitSettledAsync(cluster);
        var after = await CountAsync(cluster, "SELECT count(*) FROM measurements");
        Assert.True(before + others == after, $"{before} + {others} expected, {after} stored:\n" + await cluster.Database.ScalarAsync<string>(
            "SELECT string_agg(vantage || ' ' || host(target) || ' ' || started_at::time || ' ' || method || ' ' || tool, E'\\n' ORDER BY started_at) FROM measurements"));
        Assert.Equal(destinations.Count, await CountAsync(cluster,
            $"SELECT count(*) FROM target_vantages WHERE vantage = '{away}' AND next_due_at <= now()"));

        // On demand from all with it down: the others answer, it says why, within the API's time.
        var clock = Stopwatch.StartNew();
        (status, body) = await cluster.PostAsync("/traceroute/run", JsonSerializer.Serialize(new { target = dstA, vantages = "all" }));
        Assert.True(status == 200, body);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
        results = JsonDocument.Parse(body).RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(503, results.Single(r => r.GetProperty("vantage").GetString() == away).GetProperty("status").GetInt32());
        Assert.All(results.Where(r => r.GetProperty("vantage").GetString() != away), r => Assert.Equal(200, r.GetProperty("status").GetInt32()));

        timeline.Mark("on demand from all with one down");

        // The outsider tried (its row is in the membership table, or it gave up and exited), a member refused its
        // certificate, and it never was an active silo of the cluster.
        await WaitForAsync(cluster, "the outsider's attempt to join", async () =>
            outsider.HasExited || await CountAsync(cluster, $"SELECT count(*) {outsiderRows}") > 0, TimeSpan.FromSeconds(90), () => outsider.Output);
        var members = cluster.Vantages.Where(v => v.Name != away).Select(v => cluster.Silo(v.Name)).ToList();
        await WaitForAsync(cluster, "a member refusing the outsider's certificate", () => Task.FromResult(members.Any(m =>
            m.Output.Contains($"Refused the TLS certificate of a cluster peer CN={away}: issued by") && m.Output.Contains("not by the cluster CA"))),
            TimeSpan.FromSeconds(60), () => outsider.Output[^Math.Min(3000, outsider.Output.Length)..]);
        await watching.CancelAsync();
        Assert.False(await outsiderSeenActive, $"the outsider was listed as an active silo:\n{outsider.Output}");
        Assert.Equal(0, await CountAsync(cluster, $"SELECT count(*) {outsiderRows} AND status = 3"));
        Assert.Equal(vantages.Count - 1, await cluster.ActiveSilosAsync());
        await outsider.DisposeAsync();
        Directory.Delete(foreign, recursive: true);
        timeline.Mark("an outsider with another CA's certificate refused");
        // It comes back: its overdue pairs are measured within a tick and the probe time, once each (dst-a also had its on-demand probe).
        var awayBefore = await CountAsync(cluster, $"SELECT count(*) FROM measurements WHERE vantage = '{away}'");
        clock.Restart();
        await cluster.StartAsync(away);
        var joined = clock.Elapsed;
        timeline.Mark($"{away} restarted and active");
        await WaitForAsync(cluster, $"{away} caught up", async () =>
            await CountAsync(cluster, $"SELECT count(*) FROM measurements WHERE vantage = '{away}'") >= awayBefore + destinations.Count,
            TimeSpan.FromSeconds(120));
        var caughtUp = clock.Elapsed;
        timeline.Mark($"{away} caught up");
        await WaitSettledAsync(cluster);
        Assert.Equal(awayBefore + destinations.Count, await CountAsync(cluster, $"SELECT count(*) FROM measurements WHERE vantage = '{away}'"));
        Assert.Equal(0, await CountAsync(cluster,
            $"SELECT count(*) FROM (SELECT target FROM measurements WHERE vantage = '{away}' GROUP BY target HAVING count(*) <> CASE WHEN target = '{dstA}' THEN 3 ELSE 2 END) d"));
        timeline.Mark("no doubles");
        TestContext.Current.SendDiagnosticMessage(
            $"vantage {away} back: silo active after {joined.TotalSeconds:F1} s, its {destinations.Count} overdue pairs measured {caughtUp.TotalSeconds:F1} s after its start");
        Assert.True(caughtUp - joined < TimeSpan.FromSeconds(60), $"caught up {(caughtUp - joined).TotalSeconds:F1} s after joining");
    }
}
