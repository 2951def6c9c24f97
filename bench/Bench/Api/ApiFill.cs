using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using CyberWatch.Bench.Ingest;
using CyberWatch.Configuration;
using CyberWatch.Enrichment;
using CyberWatch.Measurement;
using CyberWatch.Storage;
using CyberWatch.Topology;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using NpgsqlTypes;

namespace CyberWatch.Bench.Api;

/// <summary>
/// Fills a new database for the API benchmark: synthetic traces stored as the node stores them (parsed,
/// enriched, MeasurementWriter), their AS edges in <c>as_edges</c> (which the silo's graph index loads), and
/// the request paths wrk replays: measured targets, ASes of the graph, pairs of ASes that a trace connects.
/// The database is kept for the node; <c>api-drop</c> drops it.
/// </summary>
public static class ApiFill
{
    public static async Task<int> FillAsync(BenchArgs args)
    {
        var count = args.Int("count", 20_000);
        var data = args.Require("data");
        var dir = args.Require("out-dir");
        Directory.CreateDirectory(dir);
        var timer = Stopwatch.StartNew();
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();
        var options = new CyberWatchOptions { Vantage = "bench", PrefixData = data };
        var table = new PrefixTableService(options, NullLogger<PrefixTableService>.Instance);
        await table.StartAsync(CancellationToken.None);
        await table.FirstLoad;
        var enricher = new HopEnricher(table, SpecialAddresses.Standard);
        var mapper = new ProbeResultMapper(options);
        var extractor = new AsPathExtractor();
        var traces = SyntheticTraces.Generate(SyntheticTraces.ReadIpv4Prefixes(data), count, seed: 20140523);

        var db = await BenchDatabase.CreateAsync(args.Require("dsn"), "api");
        await db.ExecuteAsync("SELECT cw_ensure_month_partitions((date_trunc('month', now()) - interval '1 month')::date, 3)");
        var writer = new MeasurementWriter(db.DataSource, NullLogger<MeasurementWriter>.Instance, meters);
        var edges = new Dictionary<(long, long), (long Count, double Min, double Sum, double Max)>();
        var pairs = new List<(long, long)>();
        var targets = new List<string>();
        for (var start = 0; start < count; start += MeasurementWriter.MaxBatch)
        {
            var batch = new List<MeasurementRow>();
            for (var i = start; i < Math.Min(count, start + MeasurementWriter.MaxBatch); i++)
            {
                var row = enricher.Enrich(mapper.FromScamper(traces[i].Json, traces[i].Target, ProbeMethod.IcmpParis, DateTimeOffset.UtcNow));
                batch.Add(row);
                targets.Add(row.Target.ToString());
                var extraction = extractor.Extract(row.Hops.Select(PathHop.From));
                foreach (var edge in extraction.Edges)
                {
                    var rtt = edge.RttMs ?? 0;
                    edges[(edge.SrcAsn, edge.DstAsn)] = edges.TryGetValue((edge.SrcAsn, edge.DstAsn), out var e)
                        ? (e.Count + 1, Math.Min(e.Min, rtt), e.Sum + rtt, Math.Max(e.Max, rtt))
                        : (1, rtt, rtt, rtt);
                }
                // A pair this trace connects: the first AS and the last one of its first unbroken run of edges.
                if (extraction.Edges.Count > 0)
                {
                    var last = 0;
                    while (last + 1 < extraction.Edges.Count && extraction.Edges[last + 1].SrcAsn == extraction.Edges[last].DstAsn)
                    {
                        last++;
                    }
                    if (extraction.Edges[0].SrcAsn != extraction.Edges[last].DstAsn)
                    {
                        pairs.Add((extraction.Edges[0].SrcAsn, extraction.Edges[last].DstAsn));
                    }
                }
            }
            await writer.StoreAsync(batch, CancellationToken.None);
        }
        await using (var connection = await db.DataSource.OpenConnectionAsync())
        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY as_edges (src_asn, dst_asn, observed_count, min_rtt_ms, avg_rtt_ms, max_rtt_ms, first_seen, last_seen, vantages) FROM STDIN (FORMAT BINARY)"))
        {
            var now = DateTime.UtcNow;
            foreach (var ((src, dst), e) in edges)
            {
                await copy.StartRowAsync();
                await copy.WriteAsync(src, NpgsqlDbType.Bigint);
                await copy.WriteAsync(dst, NpgsqlDbType.Bigint);
                await copy.WriteAsync(e.Count, NpgsqlDbType.Bigint);
                await copy.WriteAsync(e.Min, NpgsqlDbType.Double);
                await copy.WriteAsync(e.Sum / e.Count, NpgsqlDbType.Double);
                await copy.WriteAsync(e.Max, NpgsqlDbType.Double);
                await copy.WriteAsync(now, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(now, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(new[] { "bench" }, NpgsqlDbType.Array | NpgsqlDbType.Text);
            }
            await copy.CompleteAsync();
        }
        await db.ExecuteAsync("VACUUM ANALYZE");
        var random = new Random(7);
        var asns = edges.Keys.SelectMany(k => new[] { k.Item1, k.Item2 }).Distinct().ToArray();
        string Sample<T>(IReadOnlyList<T> list, Func<T, string> path) =>
            string.Join('\n', Enumerable.Range(0, 2000).Select(_ => path(list[random.Next(list.Count)]))) + "\n";
        await File.WriteAllTextAsync(Path.Combine(dir, "latest.paths"), Sample(targets, t => $"/measurements/latest?target={t}"));
        await File.WriteAllTextAsync(Path.Combine(dir, "asn.paths"), Sample(asns, a => $"/asn/{a}"));
        await File.WriteAllTextAsync(Path.Combine(dir, "path.paths"), Sample(pairs, p => $"/graph/path?src_asn={p.Item1}&dst_asn={p.Item2}"));
        await File.WriteAllTextAsync(Path.Combine(dir, "neighbors.paths"), Sample(asns, a => $"/graph/neighbors/{a}"));
        await File.WriteAllTextAsync(Path.Combine(dir, "database"), db.Name + "\n");
        await File.WriteAllTextAsync(Path.Combine(dir, "dsn"), db.ConnectionString + "\n");
        var stats = string.Create(CultureInfo.InvariantCulture,
            $"{{\"measurements\": {count}, \"hops\": {traces.Sum(t => (long)t.Hops)}, \"as_edges\": {edges.Count}, \"asns\": {asns.Length}, \"fill_seconds\": {timer.Elapsed.TotalSeconds:F1}}}");
        await File.WriteAllTextAsync(Path.Combine(dir, "fill.json"), stats + "\n");
        Console.WriteLine($"api-fill: database {db.Name}: {stats}");
        await table.StopAsync(CancellationToken.None);
        await db.DataSource.DisposeAsync();
        return 0;
    }

    /// <summary>A new migrated database kept for a node: its name and connection string go to --out-dir.</summary>
    public static async Task<int> CreateAsync(BenchArgs args)
    {
        var dir = args.Require("out-dir");
        Directory.CreateDirectory(dir);
        var db = await BenchDatabase.CreateAsync(args.Require("dsn"), args.Get("purpose") ?? "node");
        await File.WriteAllTextAsync(Path.Combine(dir, "database"), db.Name + "\n");
        await File.WriteAllTextAsync(Path.Combine(dir, "dsn"), db.ConnectionString + "\n");
        await db.DataSource.DisposeAsync();
        return 0;
    }

    public static async Task<int> DropAsync(BenchArgs args)
    {
        var name = args.Require("database");
        if (!name.StartsWith("cw_bench_", StringComparison.Ordinal) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            throw new ArgumentException($"{name} is not a bench database");
        }
        await using var connection = new Npgsql.NpgsqlConnection(PostgresConnectionString.Normalize(args.Require("dsn")));
        await connection.OpenAsync();
        await using var drop = new Npgsql.NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
        return 0;
    }
}
