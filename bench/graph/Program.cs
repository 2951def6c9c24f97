using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CyberWatch.Bench.Graph;
using CyberWatch.Storage;
using CyberWatch.Topology;
using Npgsql;
using NpgsqlTypes;

var settings = BenchSettings.Parse(args);
if (settings is null)
{
    return 2;
}
Console.WriteLine($"graph: {settings.Nodes:N0} ASes, {settings.Edges:N0} edges, power-law degrees (gamma {SyntheticAsGraph.Gamma}), seed {settings.Seed}");
var timer = Stopwatch.StartNew();
var edges = SyntheticAsGraph.Generate(settings.Nodes, settings.Edges, settings.Seed);
Console.WriteLine($"  generated in {timer.ElapsedMilliseconds} ms");

// Our index, loaded as the silo loads it: edge statistics applied, then the CSR snapshot built.
timer.Restart();
var index = new AsGraphIndex();
var seen = DateTimeOffset.UtcNow;
index.Apply(edges.Select(e => new AsEdgeStats(e.Src, e.Dst, 1, 10, 10, 10, seen, seen, null, ["bench"], 1, 0, null)));
index.RebuildNow();
var loadMs = timer.Elapsed.TotalMilliseconds;
var freshness = index.Freshness();
var maxDegree = edges.SelectMany(e => new[] { e.Src, e.Dst }).GroupBy(a => a).Max(g => g.Count());
Console.WriteLine($"  index: {freshness.Nodes:N0} nodes, {freshness.Edges:N0} edges, built in {loadMs:F0} ms; highest degree {maxDegree:N0}");

var asns = edges.SelectMany(e => new[] { e.Src, e.Dst }).Distinct().Order().ToArray();
var pairRandom = new Random(settings.Seed + 1);
var pairs = Enumerable.Range(0, settings.Pairs).Select(_ => (asns[pairRandom.Next(asns.Length)], asns[pairRandom.Next(asns.Length)])).ToArray();

// Warm-up: tiered JIT and caches, on pairs not timed.
var warm = new Random(settings.Seed + 2);
for (var i = 0; i < 2000; i++)
{
    index.Path(asns[warm.Next(asns.Length)], asns[warm.Next(asns.Length)], directed: false);
}
var ours = new double[pairs.Length];
var searchOnly = new double[pairs.Length];
var hops = new int[pairs.Length];
for (var i = 0; i < pairs.Length; i++)
{
    var started = Stopwatch.GetTimestamp();
    var answer = index.Path(pairs[i].Item1, pairs[i].Item2, directed: false);
    ours[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    hops[i] = answer.Path is { } p ? p.Count - 1 : -1;
}
for (var i = 0; i < pairs.Length; i++)
{
    var started = Stopwatch.GetTimestamp();
    index.ShortestPath(pairs[i].Item1, pairs[i].Item2, directed: false);
    searchOnly[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
}
var reachable = hops.Where(h => h >= 0).ToArray();
Console.WriteLine($"  ours: {pairs.Length:N0} pairs, {reachable.Length:N0} connected, AS hops mean {reachable.Average():F2}, max {reachable.Max()}");

var result = new BenchResult(settings, loadMs, maxDegree, reachable.Max(), reachable.Average());
result.Ours = Latency.Of(ours);
result.OursSearchOnly = Latency.Of(searchOnly);

if (settings.Dsn is not null)
{
    await RunPeersAsync(settings, edges, pairs, hops, result);
}
else
{
    Console.WriteLine("  no PostgreSQL given (--no-db or no DSN): peers not measured");
}

var json = result.ToJson();
await File.WriteAllTextAsync(settings.Output, json);
result.PrintTable();
return 0;

static async Task RunPeersAsync(BenchSettings settings, IReadOnlyList<(long Src, long Dst)> edges, (long, long)[] pairs, int[] hops, BenchResult result)
{
    var admin = PostgresConnectionString.Normalize(settings.Dsn);
    var database = $"cw_bench_graph_{Guid.NewGuid():n}"[..28];
    await using (var connection = new NpgsqlConnection(admin))
    {
        await connection.OpenAsync();
        await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", connection);
        await create.ExecuteNonQueryAsync();
    }
    try
    {
        var connectionString = new NpgsqlConnectionStringBuilder(admin) { Database = database, CommandTimeout = 600 }.ConnectionString;
        await using var db = new NpgsqlConnection(connectionString);
        await db.OpenAsync();
        var timer = Stopwatch.StartNew();
        await Execute(db, "CREATE EXTENSION pgrouting CASCADE");
        result.PgRoutingVersion = (string?)await new NpgsqlCommand("SELECT pgr_version()", db).ExecuteScalarAsync();
        result.PostgresVersion = (string?)await new NpgsqlCommand("SHOW server_version", db).ExecuteScalarAsync();
        await Execute(db, "CREATE TABLE bench_edges (id bigint PRIMARY KEY, source bigint NOT NULL, target bigint NOT NULL, cost float8 NOT NULL DEFAULT 1, reverse_cost float8 NOT NULL DEFAULT 1)");
        await using (var copy = await db.BeginBinaryImportAsync("COPY bench_edges (id, source, target) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < edges.Count; i++)
            {
                await copy.StartRowAsync();
                await copy.WriteAsync((long)i + 1, NpgsqlDbType.Bigint);
                await copy.WriteAsync(edges[i].Src, NpgsqlDbType.Bigint);
                await copy.WriteAsync(edges[i].Dst, NpgsqlDbType.Bigint);
            }
            await copy.CompleteAsync();
        }
        // The CTE walks adjacencies in both directions, as pgr_dijkstra(directed => false) and our default do.
        await Execute(db, "CREATE TABLE bench_adjacency AS SELECT source AS a, target AS b FROM bench_edges UNION ALL SELECT target, source FROM bench_edges");
        await Execute(db, "CREATE INDEX ON bench_edges (source)");
        await Execute(db, "CREATE INDEX ON bench_edges (target)");
        await Execute(db, "CREATE INDEX ON bench_adjacency (a) INCLUDE (b)");
        await Execute(db, "VACUUM ANALYZE bench_edges");
        await Execute(db, "VACUUM ANALYZE bench_adjacency");
        result.DbLoadMs = timer.Elapsed.TotalMilliseconds;
        Console.WriteLine($"  PostgreSQL {result.PostgresVersion}, pgRouting {result.PgRoutingVersion}: edges loaded in {result.DbLoadMs:F0} ms");

        // pgr_dijkstra: one call per pair, as an API would make it; it reads the edge query on every call.
        await using (var pgr = new NpgsqlCommand(
            "SELECT count(*) FROM pgr_dijkstra('SELECT id, source, target, cost, reverse_cost FROM bench_edges', @s, @t, directed => false)", db))
        {
            pgr.Parameters.Add(new NpgsqlParameter<long>("s", 0L));
            pgr.Parameters.Add(new NpgsqlParameter<long>("t", 0L));
            await pgr.PrepareAsync();
            var n = Math.Min(settings.PgrPairs, pairs.Length);
            var samples = new List<double>();
            var mismatches = 0;
            for (var i = 0; i < n + 1; i++)
            {
                var (s, t) = pairs[i % pairs.Length];
                if (s == t)
                {
                    continue;
                }
                ((NpgsqlParameter<long>)pgr.Parameters[0]).TypedValue = s;
                ((NpgsqlParameter<long>)pgr.Parameters[1]).TypedValue = t;
                var started = Stopwatch.GetTimestamp();
                var rows = (long)(await pgr.ExecuteScalarAsync())!;
                var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (i == 0)
                {
                    continue; // warm-up: first call plans and loads the library
                }
                samples.Add(ms);
                var theirs = rows == 0 ? -1 : (int)rows - 1;
                mismatches += theirs == hops[i % pairs.Length] ? 0 : 1;
            }
            result.Pgr = Latency.Of([.. samples]);
            result.PgrMismatches = mismatches;
            Console.WriteLine($"  pgr_dijkstra: {samples.Count} pairs, p50 {result.Pgr.P50:F1} ms, hop counts differing from ours: {mismatches}");
        }

        // Recursive CTE: breadth-first by levels, deduplicated per (node, depth) by UNION, bounded in depth.
        var bound = result.MaxHops;
        result.CteDepthBound = bound;
        await using (var cte = new NpgsqlCommand("""
            WITH RECURSIVE bfs(node, depth) AS (
                SELECT @s::bigint, 0
                UNION
                SELECT j.b, bfs.depth + 1 FROM bfs JOIN bench_adjacency j ON j.a = bfs.node WHERE bfs.depth < @bound
            )
            SELECT min(depth) FROM bfs WHERE node = @t
            """, db))
        {
            cte.Parameters.Add(new NpgsqlParameter<long>("s", 0L));
            cte.Parameters.Add(new NpgsqlParameter<long>("t", 0L));
            cte.Parameters.Add(new NpgsqlParameter<int>("bound", bound));
            await cte.PrepareAsync();
            var samples = new List<double>();
            var mismatches = 0;
            for (var i = 0; i < Math.Min(settings.CtePairs, pairs.Length); i++)
            {
                var (s, t) = pairs[i];
                ((NpgsqlParameter<long>)cte.Parameters[0]).TypedValue = s;
                ((NpgsqlParameter<long>)cte.Parameters[1]).TypedValue = t;
                var started = Stopwatch.GetTimestamp();
                var value = await cte.ExecuteScalarAsync();
                samples.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                var theirs = value is int d ? d : -1;
                mismatches += theirs == hops[i] ? 0 : 1;
            }
            result.Cte = Latency.Of([.. samples]);
            result.CteMismatches = mismatches;
            Console.WriteLine($"  recursive CTE (depth ≤ {bound}): {samples.Count} pairs, p50 {result.Cte.P50:F1} ms, hop counts differing from ours: {mismatches}");
        }
    }
    finally
    {
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(admin);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }

    static async Task Execute(NpgsqlConnection db, string sql)
    {
        await using var command = new NpgsqlCommand(sql, db);
        await command.ExecuteNonQueryAsync();
    }
}

namespace CyberWatch.Bench.Graph
{
    public sealed record BenchSettings(int Nodes, int Edges, int Pairs, int PgrPairs, int CtePairs, int Seed, string Output, string? Dsn, bool Quick)
    {
        public static BenchSettings? Parse(string[] args)
        {
            var quick = args.Contains("--quick");
            var (nodes, edges) = quick ? (10_000, 50_000) : (100_000, 500_000);
            int pairs = 10_000, pgrPairs = quick ? 100 : 200, ctePairs = quick ? 50 : 20, seed = 20140523;
            var output = Path.Combine("bench", "results", "graph.json");
            var dsn = Environment.GetEnvironmentVariable("CYBERWATCH_BENCH_PG_DSN");
            for (var i = 0; i < args.Length; i++)
            {
                int Int() => i + 1 < args.Length && int.TryParse(args[++i], CultureInfo.InvariantCulture, out var v) && v > 0
                    ? v : throw new ArgumentException($"{args[i - 1]} needs a positive number");
                try
                {
                    switch (args[i])
                    {
                        case "--quick": break;
                        case "--no-db": dsn = null; break;
                        case "--pairs": pairs = Int(); break;
                        case "--pgr-pairs": pgrPairs = Int(); break;
                        case "--cte-pairs": ctePairs = Int(); break;
                        case "--seed": seed = Int(); break;
                        case "--nodes": nodes = Int(); break;
                        case "--edges": edges = Int(); break;
                        case "--out" when i + 1 < args.Length: output = args[++i]; break;
                        case "--dsn" when i + 1 < args.Length: dsn = args[++i]; break;
                        default: throw new ArgumentException($"unknown option {args[i]}");
                    }
                }
                catch (ArgumentException e)
                {
                    Console.Error.WriteLine($"bench/graph: {e.Message}");
                    return null;
                }
            }
            if (edges < nodes - 1 || (long)edges > (long)nodes * (nodes - 1) / 4)
            {
                Console.Error.WriteLine("bench/graph: --edges must be at least nodes - 1 and well below nodes²");
                return null;
            }
            return new BenchSettings(nodes, edges, pairs, pgrPairs, ctePairs, seed, output, string.IsNullOrWhiteSpace(dsn) ? null : dsn, quick);
        }
    }

    /// <summary>
    /// A seeded AS-like graph: a random tree first (every AS reachable, as on the internet), then Chung–Lu
    /// edges whose endpoints are drawn with weight (rank + 5)^(-1/(gamma-1)), giving power-law degrees with
    /// a few hubs of thousands of neighbors. No self edges, no edge in both directions twice.
    /// </summary>
    public static class SyntheticAsGraph
    {
        public const double Gamma = 2.1;
        private const double Offset = 5;

        public static List<(long Src, long Dst)> Generate(int nodes, int edgeCount, int seed)
        {
            var random = new Random(seed);
            var cumulative = new double[nodes];
            var sum = 0.0;
            for (var i = 0; i < nodes; i++)
            {
                sum += Math.Pow(i + Offset, -1.0 / (Gamma - 1));
                cumulative[i] = sum;
            }
            // Node rank → ASN: hubs are not simply the smallest numbers.
            var asn = Enumerable.Range(0, nodes).Select(i => 1000L + i).ToArray();
            random.Shuffle(asn);
            int Draw(int below)
            {
                var x = random.NextDouble() * cumulative[below - 1];
                var k = Array.BinarySearch(cumulative, 0, below, x);
                return k >= 0 ? k : Math.Min(~k, below - 1);
            }
            var set = new HashSet<(int, int)>();
            var list = new List<(long, long)>(edgeCount);
            bool Add(int a, int b)
            {
                if (a == b || set.Contains((b, a)) || !set.Add((a, b)))
                {
                    return false;
                }
                list.Add((asn[a], asn[b]));
                return true;
            }
            for (var v = 1; v < nodes; v++)
            {
                var u = Draw(v);
                // Direction as traceroutes would see it, either way.
                _ = random.Next(2) == 0 ? Add(v, u) : Add(u, v);
            }
            while (list.Count < edgeCount)
            {
                Add(Draw(nodes), Draw(nodes));
            }
            return list;
        }
    }

    public sealed record Latency(int Count, double P50, double P99, double Mean, double Max)
    {
        public static Latency Of(double[] samples)
        {
            if (samples.Length == 0)
            {
                return new Latency(0, double.NaN, double.NaN, double.NaN, double.NaN);
            }
            var sorted = samples.Order().ToArray();
            double Rank(double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
            return new Latency(sorted.Length, Rank(0.50), Rank(0.99), sorted.Average(), sorted[^1]);
        }
    }

    public sealed class BenchResult(BenchSettings settings, double indexBuildMs, int maxDegree, int maxHops, double meanHops)
    {
        public Latency? Ours { get; set; }
        public Latency? OursSearchOnly { get; set; }
        public Latency? Pgr { get; set; }
        public Latency? Cte { get; set; }
        public int PgrMismatches { get; set; }
        public int CteMismatches { get; set; }
        public int CteDepthBound { get; set; }
        public double DbLoadMs { get; set; }
        public string? PgRoutingVersion { get; set; }
        public string? PostgresVersion { get; set; }
        public int MaxHops => maxHops;

        private List<Dictionary<string, object?>> Figures()
        {
            var figures = new List<Dictionary<string, object?>>();
            void Add(string figure, double ours, double? peer, string goal, bool met) => figures.Add(new()
            {
                ["figure"] = figure,
                ["ours"] = Round(ours),
                ["peer"] = peer is { } p ? Round(p) : null,
                ["ratio"] = peer is { } q ? Math.Round(q / ours, 1) : null,
                ["goal"] = goal,
                ["met"] = met,
            });
            var ours = Ours!;
            Add("shortest path p50 (ms), index vs pgr_dijkstra", ours.P50, Pgr?.P50, ">= 100x faster than pgr_dijkstra",
                Pgr is not null && Pgr.P50 / ours.P50 >= 100 && PgrMismatches == 0);
            Add("shortest path p99 (ms), index vs pgr_dijkstra", ours.P99, Pgr?.P99, "p99 < 1 ms and >= 100x faster than pgr_dijkstra",
                ours.P99 < 1 && Pgr is not null && Pgr.P99 / ours.P99 >= 100 && PgrMismatches == 0);
            Add("shortest path p50 (ms), index vs recursive CTE", ours.P50, Cte?.P50, "faster than a recursive CTE",
                Cte is not null && Cte.P50 > ours.P50 && CteMismatches == 0);
            Add("shortest path p99 (ms), index vs recursive CTE", ours.P99, Cte?.P99, "faster than a recursive CTE",
                Cte is not null && Cte.P99 > ours.P99 && CteMismatches == 0);
            return figures;
        }

        private static double Round(double value) => Math.Round(value, value < 1 ? 4 : 2);

        public string ToJson() => JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["name"] = "graph",
            ["figures"] = Figures(),
            ["setup"] = new Dictionary<string, object?>
            {
                ["graph"] = $"{settings.Nodes} ASes, {settings.Edges} edges, power-law (Chung-Lu, gamma {SyntheticAsGraph.Gamma}) over a random spanning tree, seed {settings.Seed}",
                ["quick"] = settings.Quick,
                ["highest_degree"] = maxDegree,
                ["as_hops_mean"] = Math.Round(meanHops, 2),
                ["as_hops_max"] = maxHops,
                ["query"] = "undirected shortest AS path (fewest AS hops) between random pairs; ours = AsGraphIndex.Path (bidirectional BFS + answer with edge stats) in process; peers = one SQL call per pair over a local Unix socket, round trip included",
                ["pairs_ours"] = Ours?.Count,
                ["pairs_pgr_dijkstra"] = Pgr?.Count,
                ["pairs_cte"] = Cte?.Count,
                ["ours_search_only_p50_ms"] = OursSearchOnly is null ? null : Round(OursSearchOnly.P50),
                ["ours_search_only_p99_ms"] = OursSearchOnly is null ? null : Round(OursSearchOnly.P99),
                ["ours_max_ms"] = Ours is null ? null : Round(Ours.Max),
                ["index_build_ms"] = Math.Round(indexBuildMs, 0),
                ["pgr_hop_mismatches"] = Pgr is null ? null : PgrMismatches,
                ["cte_hop_mismatches"] = Cte is null ? null : CteMismatches,
                ["cte_depth_bound"] = Cte is null ? null : CteDepthBound,
                ["pgrouting"] = PgRoutingVersion,
                ["postgresql"] = PostgresVersion,
                ["machine"] = $"{Environment.ProcessorCount} cores, .NET {Environment.Version}",
                ["note"] = Pgr is null ? "peers not measured (no PostgreSQL)" : "peers timed on fewer pairs than ours: each pgr_dijkstra call reads all edges and each CTE call walks the graph level by level",
            },
        }, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

        public void PrintTable()
        {
            Console.WriteLine();
            Console.WriteLine($"{"figure",-48} {"ours",10} {"peer",12} {"ratio",9}  {"met",-4} goal");
            foreach (var f in Figures())
            {
                Console.WriteLine($"{f["figure"],-48} {f["ours"],10} {f["peer"] ?? "-",12} {(f["ratio"] is { } r ? $"{r}x" : "-"),9}  {((bool)f["met"]! ? "yes" : "no"),-4} {f["goal"]}");
            }
        }
    }
}
