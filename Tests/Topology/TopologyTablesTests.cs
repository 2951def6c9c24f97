using System.Xml.Linq;
using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using CyberWatch.Topology;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.VisualBasic.FileIO;
using Npgsql;

namespace CyberWatch.Tests.Topology;

/// <summary>The topology tables on a real PostgreSQL: the batched writer, the index's sync, the exports.</summary>
public sealed class TopologyTablesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static AsEdgeStats Edge(long src, long dst, long count, double rtt, string? ixp = null, params string[] vantages) =>
        new(src, dst, count, rtt, rtt + 1, rtt + 2, T0, T0.AddMinutes(count), ixp, vantages.Length == 0 ? ["vp1"] : vantages,
            count, 0, null);

    private static AsnInfo Asn(long asn, long count, string? org = null) =>
        new(asn, org, "NL", count, 5.5, T0, T0.AddMinutes(count), [1], [2, 3]);

    private static PathObservation Path(DateTimeOffset at, string vantage, params long?[] path) =>
        new(path, at, vantage, "192.0.2.10", 42);

    private static TopologyTables Tables(NpgsqlDataSource dataSource) => new(dataSource, NullLogger<TopologyTables>.Instance);

    [Fact]
    public async Task Table_writer_upserts_edges_and_ases_and_adds_up_observed_paths()
    {
        await using var db = await TestDatabase.CreateAsync();
        var tables = Tables(db.DataSource);

        tables.Upsert(Edge(100, 200, 1, 10, null, "vp,1", "vp2"));
        tables.Upsert(Edge(100, 200, 3, 8, "AMS-IX")); // coalesced: the later, higher count wins
        tables.Upsert(Edge(200, 100, 1, 20));
        tables.Upsert(Asn(100, 2, "Example, Inc."));
        tables.AddPath(Path(T0, "vp1", 100, 200, null, 300));
        tables.AddPath(Path(T0.AddHours(1), "vp2", 100, 200, null, 300));
        Assert.Equal(4, tables.Pending); // two edges, one AS, one path
        await tables.FlushAsync(CancellationToken.None);
        Assert.Equal(0, tables.Pending);

        Assert.Equal(2, await db.ScalarAsync<long>("SELECT count(*) FROM as_edges"));
        Assert.Equal(3, await db.ScalarAsync<long>("SELECT observed_count FROM as_edges WHERE src_asn = 100 AND dst_asn = 200"));
        Assert.Equal("AMS-IX", await db.ScalarAsync<string>("SELECT ixp FROM as_edges WHERE src_asn = 100 AND dst_asn = 200"));
        Assert.Equal(9.0, await db.ScalarAsync<double>("SELECT avg_rtt_ms FROM as_edges WHERE src_asn = 100 AND dst_asn = 200"));
        Assert.Equal("Example, Inc.", await db.ScalarAsync<string>("SELECT org_name FROM asns WHERE asn = 100"));
        Assert.Equal(3, await db.ScalarAsync<int>("SELECT neighbor_count FROM asns WHERE asn = 100"));
        Assert.Equal(2, await db.ScalarAsync<long>("SELECT observed_count FROM as_paths WHERE path = '100 200 * 300'"));
        Assert.Equal("{vp1,vp2}", await db.ScalarAsync<string>("SELECT vantages::text FROM as_paths"));
        Assert.Equal("{100,200,300}", await db.ScalarAsync<string>("SELECT asns::text FROM as_paths"));

        // A later flush from another silo adds its counts; an older edge row never overwrites a newer one.
        tables.AddPath(Path(T0.AddHours(2), "vp1", 100, 200, null, 300));
        tables.Upsert(Edge(100, 200, 2, 1));
        tables.Upsert(Asn(100, 3, "Someone else"));
        await tables.FlushAsync(CancellationToken.None);
        Assert.Equal(3, await db.ScalarAsync<long>("SELECT observed_count FROM as_paths"));
        Assert.Equal(3, await db.ScalarAsync<long>("SELECT observed_count FROM as_edges WHERE src_asn = 100 AND dst_asn = 200"));
        Assert.Equal("Example, Inc.", await db.ScalarAsync<string>("SELECT org_name FROM asns WHERE asn = 100"));
        Assert.Equal(3, await db.ScalarAsync<long>("SELECT measurement_count FROM asns WHERE asn = 100"));
    }

    [Fact]
    public async Task Rows_wait_in_memory_while_the_database_is_unreachable_and_are_written_when_it_is_back()
    {
        var admin = TestDatabase.AdminConnectionString();
        var name = $"cw_test_{Guid.NewGuid():n}"[..24];
        var connectionString = new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var tables = Tables(dataSource);
        tables.Upsert(Edge(1, 2, 1, 5));
        tables.AddPath(Path(T0, "vp1", 1, 2));
        tables.AddPath(Path(T0, "vp1", 1, 2));

        // The database does not exist yet: the flush fails and keeps everything.
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => tables.FlushAsync(CancellationToken.None));
        Assert.Equal(2, tables.Pending);
        tables.AddPath(Path(T0, "vp1", 1, 2));

        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await new NpgsqlCommand($"CREATE DATABASE {name}", connection).ExecuteNonQueryAsync();
        }
        try
        {
            NpgsqlConnection.ClearAllPools();
            await new SchemaMigrator(dataSource, NullLogger<SchemaMigrator>.Instance).MigrateAsync(CancellationToken.None);
            await tables.FlushAsync(CancellationToken.None);

            await using var count = dataSource.CreateCommand("SELECT (SELECT count(*) FROM as_edges) * 100 + (SELECT observed_count FROM as_paths)");
            Assert.Equal(103L, await count.ExecuteScalarAsync());
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await using var connection = new NpgsqlConnection(admin);
            await connection.OpenAsync();
            await new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", connection).ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public async Task Graph_index_sync_loads_the_tables_and_then_follows_their_changes()
    {
        await using var db = await TestDatabase.CreateAsync();
        var tables = Tables(db.DataSource);
        tables.Upsert(Edge(100, 200, 1, 10));
        tables.Upsert(Edge(200, 300, 1, 20));
        tables.AddPath(Path(T0, "vp1", 100, 200, 300));
        await tables.FlushAsync(CancellationToken.None);

        // A second silo's index: it hears of edges only through the tables.
        var index = new AsGraphIndex();
        var sync = new AsGraphSync(new TopologyQueries(db.DataSource), index, NullLogger<AsGraphSync>.Instance);
        Assert.False(index.Freshness().Loaded);
        await sync.SyncOnceAsync(CancellationToken.None);
        Assert.True(index.Freshness().Loaded);
        Assert.Equal([100L, 200L, 300L], index.Path(100, 300, true).Path);
        Assert.Equal(1, index.Observed(100, 300, true).Single().ObservedCount);

        tables.Upsert(Edge(100, 200, 4, 3));
        tables.Upsert(Edge(300, 400, 1, 30));
        tables.AddPath(Path(T0, "vp1", 100, 200, 300));
        await tables.FlushAsync(CancellationToken.None);
        await sync.SyncOnceAsync(CancellationToken.None);
        index.RebuildNow();

        Assert.Equal(4, index.Neighbors(100).Neighbors.Single().Out!.ObservedCount);
        Assert.Equal([100L, 200L, 300L, 400L], index.Path(100, 400, false).Path);
        Assert.Equal(2, index.Observed(100, 300, true).Single().ObservedCount);
        Assert.NotNull(index.Freshness().RefreshedAt);
    }

    [Fact]
    public async Task Export_writes_neo4j_admin_csvs_and_graphml_that_parse_back_with_the_right_counts()
    {
        await using var db = await TestDatabase.CreateAsync();
        var tables = Tables(db.DataSource);
        tables.Upsert(Edge(100, 200, 3, 10, "AMS-IX", "vp1", "vp2"));
        tables.Upsert(Edge(200, 100, 1, 12) with { DirectCount = 0, IndirectCount = 1, MinGapHops = 2 }); // seen only across two silent hops
        tables.Upsert(Edge(200, 4200000000, 2, 30));
        tables.Upsert(Asn(100, 3, "Quote \"and\" comma, Ltd"));
        tables.Upsert(Asn(200, 4, "Line\nbreak & <xml>"));
        await tables.FlushAsync(CancellationToken.None);
        var directory = Directory.CreateTempSubdirectory("cw-export-").FullName;
        try
        {
            var report = await GraphExport.WriteAsync(new TopologyQueries(db.DataSource), directory, CancellationToken.None);

            // 100 and 200 have rows in asns; 4200000000 appears only in an edge and is exported all the same.
            Assert.Equal((3, 3), (report.Nodes, report.Edges));

            var nodes = ReadCsv(System.IO.Path.Combine(directory, GraphExport.NodesFile));
            Assert.Equal(GraphExport.NodeHeader, nodes[0]);
            Assert.Equal(4, nodes.Count);
            Assert.Equal(["100", "200", "4200000000"], nodes.Skip(1).Select(r => r[0]));
            Assert.Equal("Quote \"and\" comma, Ltd", nodes[1][1]);
            Assert.Equal("Line break & <xml>", nodes[2][1]);
            Assert.All(nodes.Skip(1), r => Assert.Equal("AS", r[^1]));

            var routes = ReadCsv(System.IO.Path.Combine(directory, GraphExport.EdgesFile));
            Assert.Equal(GraphExport.EdgeHeader, routes[0]);
            Assert.Equal(4, routes.Count);
            var route = routes.Single(r => r[0] == "100" && r[1] == "200");
            Assert.Equal(("3", "10", "AMS-IX", "vp1;vp2", "ROUTE"), (route[2], route[3], route[8], route[9], route[^1]));
            Assert.Equal(("direct", "3", "0", ""), (route[10], route[11], route[12], route[13]));
            var back = routes.Single(r => r[0] == "200" && r[1] == "100"); // direction kept: both directions are rows
            Assert.Equal(("indirect", "0", "1", "2"), (back[10], back[11], back[12], back[13]));
            Assert.True(DateTimeOffset.TryParse(route[6], out var firstSeen) && firstSeen == T0);

            var graphMl = XDocument.Load(System.IO.Path.Combine(directory, GraphExport.GraphMlFile));
            XNamespace ns = "http://graphml.graphdrawing.org/xmlns";
            var graph = graphMl.Root!.Element(ns + "graph")!;
            Assert.Equal("directed", graph.Attribute("edgedefault")!.Value);
            var nodeIds = graph.Elements(ns + "node").Select(n => n.Attribute("id")!.Value).ToHashSet();
            Assert.Equal(3, nodeIds.Count);
            var edges = graph.Elements(ns + "edge").ToList();
            Assert.Equal(3, edges.Count);
            Assert.All(edges, e => Assert.True(nodeIds.Contains(e.Attribute("source")!.Value) && nodeIds.Contains(e.Attribute("target")!.Value)));
            var keys = graphMl.Root.Elements(ns + "key").ToDictionary(k => k.Attribute("id")!.Value, k => k.Attribute("attr.name")!.Value);
            var ixpEdge = edges.Single(e => e.Attribute("source")!.Value == "AS100");
            Assert.Equal("AMS-IX", ixpEdge.Elements(ns + "data").Single(d => keys[d.Attribute("key")!.Value] == "ixp").Value);
            string Data(XElement edge, string name) => edge.Elements(ns + "data").Single(d => keys[d.Attribute("key")!.Value] == name).Value;
            var indirectEdge = edges.Single(e => e.Attribute("source")!.Value == "AS200" && e.Attribute("target")!.Value == "AS100");
            Assert.Equal(("direct", "indirect", "1", "2"), (Data(ixpEdge, "kind"), Data(indirectEdge, "kind"), Data(indirectEdge, "indirect_count"),
                Data(indirectEdge, "min_gap_hops")));
            var org = graph.Elements(ns + "node").Single(n => n.Attribute("id")!.Value == "AS200")
                .Elements(ns + "data").Single(d => keys[d.Attribute("key")!.Value] == "org_name").Value;
            Assert.Equal("Line\nbreak & <xml>", org);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Export_graph_command_of_the_silo_writes_the_files_and_refuses_a_missing_out()
    {
        await using var db = await TestDatabase.CreateAsync();
        var tables = Tables(db.DataSource);
        tables.Upsert(Edge(100, 200, 1, 10));
        tables.Upsert(Edge(200, 300, 1, 10));
        await tables.FlushAsync(CancellationToken.None);
        var directory = System.IO.Path.Combine(Directory.CreateTempSubdirectory("cw-export-").FullName, "out");
        var environment = new Dictionary<string, string?> { ["CYBERWATCH_PG_DSN"] = db.ConnectionString };
        try
        {
            await using var export = NodeProcess.Start(Repository.SiloDll, environment, "export-graph", "--out", directory);
            var (code, output) = await export.WaitForExitAsync(TimeSpan.FromSeconds(60));

            Assert.True(code == 0, output);
            Assert.Contains("exported 3 ASes and 2 AS edges", output);
            Assert.Equal(4, File.ReadAllLines(System.IO.Path.Combine(directory, GraphExport.NodesFile)).Length);
            Assert.Equal(3, File.ReadAllLines(System.IO.Path.Combine(directory, GraphExport.EdgesFile)).Length);
            Assert.Equal(2, XDocument.Load(System.IO.Path.Combine(directory, GraphExport.GraphMlFile)).Descendants().Count(e => e.Name.LocalName == "edge"));

            await using var missing = NodeProcess.Start(Repository.SiloDll, environment, "export-graph");
            var (missingCode, missingOutput) = await missing.WaitForExitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(2, missingCode);
            Assert.Contains("give --out DIR", missingOutput);
        }
        finally
        {
            Directory.Delete(System.IO.Path.GetDirectoryName(directory)!, recursive: true);
        }
    }

    private static List<string[]> ReadCsv(string path)
    {
        using var parser = new TextFieldParser(path) { TextFieldType = FieldType.Delimited, HasFieldsEnclosedInQuotes = true };
        parser.SetDelimiters(",");
        var rows = new List<string[]>();
        while (!parser.EndOfData)
        {
            rows.Add(parser.ReadFields()!);
        }
        return rows;
    }
}
