using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace CyberWatch.Tests.Api;

/// <summary>A node with the read limit a public looking glass would run: 600 reads a minute per client, bursts of 100; exports stop after 8 s.</summary>
public sealed class ReadLimitedApiNode : ApiNode
{
    public const int ReadsPerMinute = 600;
    public const int Burst = 100;
    public const int ExportTimeoutSeconds = 8;

    protected override void Configure(Dictionary<string, string?> apiEnvironment)
    {
        apiEnvironment["CYBERWATCH_API_READ_RATE_PER_MINUTE"] = ReadsPerMinute.ToString(CultureInfo.InvariantCulture);
        apiEnvironment["CYBERWATCH_API_READ_BURST"] = Burst.ToString(CultureInfo.InvariantCulture);
        apiEnvironment["CYBERWATCH_API_EXPORT_TIMEOUT_SECONDS"] = ExportTimeoutSeconds.ToString(CultureInfo.InvariantCulture);
    }
}

public sealed partial class ReadLimitTests(ReadLimitedApiNode node, ITestOutputHelper output) : IClassFixture<ReadLimitedApiNode>
{
    [Fact]
    public async Task Ten_thousand_reads_of_random_ipv6_targets_get_429_after_the_bucket_and_activate_no_target_grains()
    {
        const int requests = 10_000;
        var client = node.Client(node.ReadKey);
        var grainsBefore = await ActivationsAsync("target");
        var memoryBefore = ResidentKiB(node.SiloProcess.ProcessId);
        var statuses = new int[requests];
        var retryAfterMissing = 0;
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, requests), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, cancellationToken) =>
        {
            var bytes = new byte[16];
            Random.Shared.NextBytes(bytes);
            bytes[0] = 0x2a;
            var address = new IPAddress(bytes).ToString();
            // Both reads that used to activate the target's grain for any address.
            var path = i % 2 == 0 ? $"/measurements/latest?target={Uri.EscapeDataString(address)}" : $"/targets/{Uri.EscapeDataString(address)}";
            using var response = await client.GetAsync(path, cancellationToken);
            statuses[i] = (int)response.StatusCode;
            if (response.StatusCode == HttpStatusCode.TooManyRequests && response.Headers.RetryAfter?.Delta is not { TotalSeconds: >= 1 })
            {
                Interlocked.Increment(ref retryAfterMissing);
            }
        });
        clock.Stop();
        var limited = statuses.Count(s => s == 429);
        var notFound = statuses.Count(s => s == 404);
        // What the bucket may let through: its size, then the rate for the time the run took (plus a second of refill).
        var allowed = ReadLimitedApiNode.Burst + (int)Math.Ceiling((clock.Elapsed.TotalSeconds + 1) * ReadLimitedApiNode.ReadsPerMinute / 60.0);
        await Task.Delay(TimeSpan.FromSeconds(1)); // past the exporter's cached scrape
        var grainsAfter = await ActivationsAsync("target");
        var memoryAfter = ResidentKiB(node.SiloProcess.ProcessId);
        output.WriteLine($"read limit: {requests} requests in {clock.Elapsed.TotalSeconds:0.0} s: {limited} answered 429, {notFound} answered 404, " +
            $"others {requests - limited - notFound}; at most {allowed} could pass; target grain activations {grainsBefore} before, {grainsAfter} after; " +
            $"silo resident memory {memoryBefore / 1024.0:0.0} MiB before, {memoryAfter / 1024.0:0.0} MiB after");

        Assert.Equal(requests, limited + notFound);
        Assert.InRange(notFound, ReadLimitedApiNode.Burst, allowed);
        Assert.Equal(0, retryAfterMissing);
        Assert.True(grainsAfter - grainsBefore < 100, $"{grainsAfter - grainsBefore} target grains activated by reads of unknown addresses");

        // The bucket is the client's: another key reads on, and the limited one is told why.
        Assert.Equal(HttpStatusCode.NotFound, (await node.Client(node.ProbeKey).GetAsync("/targets/2a0c:9a40::1")).StatusCode);
        using var refused = await client.GetAsync("/targets/2a0c:9a40::1");
        if (refused.StatusCode == HttpStatusCode.TooManyRequests)
        {
            Assert.Contains("reads a minute per client", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        }

        // The count is real: reading an address the targets table holds does activate its grain.
        await node.Database.ScalarAsync<object>("INSERT INTO targets (ip, sources) VALUES ('127.5.0.1', '{static}') ON CONFLICT DO NOTHING");
        using var known = await node.Client(node.ProbeKey).GetAsync("/targets/127.5.0.1");
        Assert.NotEqual(HttpStatusCode.TooManyRequests, known.StatusCode);
        Assert.True(await ActivationsAtLeastAsync("target", grainsAfter + 1), "reading a known target activated no grain: the activation count is not what the test reads");
    }

    [Fact]
    public async Task An_as_the_node_never_saw_is_404_without_activating_its_grain()
    {
        var before = await ActivationsAsync("asn");
        for (var asn = 4_200_000_000L; asn < 4_200_000_050L; asn++)
        {
            Assert.Equal(HttpStatusCode.NotFound, (await node.Http.GetAsync($"/asn/{asn}")).StatusCode);
        }
        await Task.Delay(TimeSpan.FromSeconds(1)); // past the exporter's cached scrape
        Assert.Equal(before, await ActivationsAsync("asn"));

        // An AS the node has a row for is read from its grain, which the count shows.
        await node.Database.ScalarAsync<object>("INSERT INTO asns (asn) VALUES (4200000100) ON CONFLICT DO NOTHING");
        await node.Http.GetAsync("/asn/4200000100");
        Assert.True(await ActivationsAtLeastAsync("asn", before + 1), "reading a seen AS activated no grain: the activation count is not what the test reads");
    }

    [Fact]
    public async Task Targets_are_paged_by_address_and_counted_only_when_asked()
    {
        await node.Database.ScalarAsync<object>(
            "INSERT INTO targets (ip, sources) SELECT ('127.3.0.' || i)::inet, '{static}' FROM generate_series(1, 25) i ON CONFLICT DO NOTHING");
        var seen = new List<string>();
        string? after = null;
        var pages = 0;
        do
        {
            var page = await node.Http.GetFromJsonAsync<JsonElement>($"/targets?source=static&limit=10{(after is null ? "" : "&after=" + after)}");
            Assert.Equal(JsonValueKind.Null, page.GetProperty("total").ValueKind);
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(t => t.GetProperty("ip").GetString()!));
            after = page.GetProperty("next").GetString();
            pages++;
        }
        while (after is not null && pages < 10);
        // Other tests of this node add targets of their own; these 25 come once each, in address order.
        Assert.Equal(Enumerable.Range(1, 25).Select(i => $"127.3.0.{i}").Order(StringComparer.Ordinal),
            seen.Where(ip => ip.StartsWith("127.3.0.", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.Equal(seen.Distinct().Count(), seen.Count);
        Assert.InRange(pages, 3, 9);

        var counted = await node.Http.GetFromJsonAsync<JsonElement>("/targets?source=static&limit=10&count=true");
        Assert.Equal(await node.Database.ScalarAsync<long>("SELECT count(*) FROM targets WHERE 'static' = ANY(sources)"), counted.GetProperty("total").GetInt64());
        Assert.Equal(seen.Count, counted.GetProperty("total").GetInt64());
        using var offset = await node.Http.GetAsync("/targets?offset=10");
        Assert.Equal(HttpStatusCode.BadRequest, offset.StatusCode);
        Assert.Contains("after=", await offset.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_client_runs_one_export_at_a_time_and_a_stalled_export_is_closed_after_its_timeout()
    {
        // 300,000 hop rows: far more than the socket buffers hold, so a client that does not read holds the export.
        await node.Database.ScalarAsync<object>("""
            INSERT INTO measurements (id, target, tool, method, vantage, started_at, success, hop_count)
            SELECT 900000000 + i, '127.4.0.1', 'scamper', 'icmp-paris', 'test', now() - interval '1 day' + i * interval '1 second', true, 30
              FROM generate_series(1, 10000) i;
            INSERT INTO hops (measurement_id, measured_at, ttl, address, rtt_ms, address_class)
            SELECT m.id, m.started_at, t, ('127.4.' || t || '.1')::inet, t * 1.5, 'loopback'
              FROM measurements m, generate_series(1, 30) t WHERE m.target = '127.4.0.1';
            """);
        const string export = "/measurements/export?target=127.4.0.1&format=csv";
        // A key of its own: the other tests of this node drain the read key's bucket.
        var reader = node.Client(await ApiKeys.CreateAsync(node.Database.ConnectionString, "read"));
        var clock = Stopwatch.StartNew();
        using var slow = await reader.GetAsync(export, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, slow.StatusCode);

        using var second = await reader.GetAsync(export);
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.Contains("one export at a time", await second.Content.ReadAsStringAsync());

        // The limit is per client: another key exports meanwhile (and hangs up, which ends its export).
        using (var other = await node.Client(node.ProbeKey).GetAsync(export, HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        }

        // A reader of 20 KB/s: fast enough for Kestrel's minimum data rate, far too slow for the export's tens of MB in its time.
        long received = 0;
        var cut = false;
        try
        {
            await using var body = await slow.Content.ReadAsStreamAsync();
            var buffer = new byte[1024];
            int n;
            while ((n = await body.ReadAsync(buffer)) > 0 && clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                received += n;
                await Task.Delay(50);
            }
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            cut = true;
        }
        clock.Stop();
        output.WriteLine($"export: the slow reader got {received} bytes in {clock.Elapsed.TotalSeconds:0.0} s, cut by an error: {cut}");
        Assert.True(cut, $"the slow export was not cut: {received} bytes in {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.InRange(clock.Elapsed.TotalSeconds, ReadLimitedApiNode.ExportTimeoutSeconds - 1, ReadLimitedApiNode.ExportTimeoutSeconds + 30);
        using var again = await reader.GetAsync(export, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    /// <summary>Activations of a grain type ever created on the silo, from its Orleans metrics.</summary>
    private async Task<long> ActivationsAsync(string grainType)
    {
        using var http = new HttpClient();
        var metrics = await http.GetStringAsync($"{node.SiloHttp}/metrics");
        return GrainCount().Matches(metrics)
            .Where(m => m.Groups["type"].Value == grainType)
            .Sum(m => (long)double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));
    }

    /// <summary>Whether the count reaches <paramref name="expected"/> within 5 s (the exporter caches a scrape briefly).</summary>
    private async Task<bool> ActivationsAtLeastAsync(string grainType, long expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (await ActivationsAsync(grainType) < expected)
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }
            await Task.Delay(250);
        }
        return true;
    }

    private static long ResidentKiB(int pid) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

    [GeneratedRegex("""^orleans_catalog_activation_created_total\{[^}]*grain_type="(?<type>[^"]+)"[^}]*\} (?<value>[0-9.eE+-]+)""", RegexOptions.Multiline)]
    private static partial Regex GrainCount();
}
