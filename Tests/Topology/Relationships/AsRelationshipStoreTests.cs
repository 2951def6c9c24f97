using CyberWatch.Tests.Infrastructure;
using CyberWatch.Topology;
using CyberWatch.Topology.Relationships;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace CyberWatch.Tests.Topology.Relationships;

/// <summary>
/// The recomputation on a real PostgreSQL: trace paths from <c>as_paths</c>, IXP tags from <c>as_edges</c>, BGP paths
/// from the loaded RIB, stored in <c>as_relationships</c>, read back with every edge (index, exports, API answer).
/// </summary>
public sealed class AsRelationshipStoreTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>BGP paths as a route collector peering with every AS of a small internet would record them.</summary>
    private sealed class FakeRib(params string[] paths) : IBgpPathSource
    {
        public IReadOnlyList<uint[]> BgpPaths() => [.. paths.Select(p => p.Split(' ').Select(uint.Parse).ToArray())];

        public DateTimeOffset? BgpPathsLoadedAt => T0;
    }

    private static async Task Execute(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Refresh_stores_relationships_every_edge_reads_from_its_source_side_and_an_unchanged_round_is_skipped()
    {
        await using var db = await TestDatabase.CreateAsync();
        var ct = TestContext.Current.CancellationToken;
        // Traces from AS1100 (customer of 1200 and 1300) and AS1700 (customer of 1300); 1200 reaches 1500 across LAB-IX.
        await Execute(db.DataSource, """
            INSERT INTO as_edges (src_asn, dst_asn, observed_count, direct_count, first_seen, last_seen, ixp, updated_at) VALUES
              (1100, 1200, 3, 3, '2026-12-01', '2026-12-01', NULL, '2026-12-01'),
              (1200, 1400, 1, 1, '2026-12-01', '2026-12-01', NULL, '2026-12-01'),
              (1200, 1500, 1, 1, '2026-12-01', '2026-12-01', 'LAB-IX', '2026-12-01'),
              (1700, 1300, 2, 2, '2026-12-01', '2026-12-01', NULL, '2026-12-01'),
              (1300, 1500, 1, 1, '2026-12-01', '2026-12-01', NULL, '2026-12-01'),
              (1300, 1200, 1, 1, '2026-12-01', '2026-12-01', NULL, '2026-12-01'),
              (1300, 1900, 1, 0, '2026-12-01', '2026-12-01', NULL, '2026-12-01');
            UPDATE as_edges SET indirect_count = 1 WHERE dst_asn = 1900;
            INSERT INTO as_paths (path, asns, observed_count, first_seen, last_seen) VALUES
              ('1100 1200 1400', '{1100,1200,1400}', 1, '2026-12-01', '2026-12-01'),
              ('1100 1200 1300 1700', '{1100,1200,1300,1700}', 1, '2026-12-01', '2026-12-01'),
              ('1100 1200 1500', '{1100,1200,1500}', 1, '2026-12-01', '2026-12-01'),
              ('1700 1300 1500', '{1700,1300,1500}', 1, '2026-12-01', '2026-12-01'),
              ('1700 1300 1200 1400', '{1700,1300,1200,1400}', 1, '2026-12-01', '2026-12-01'),
              ('1700 1300 * 1900', '{1700,1300,NULL,1900}', 1, '2026-12-01', '2026-12-01');
            """);
        var rib = new FakeRib("1200 1300 1700", "1300 1200 1400", "1200 1100", "1300 1100", "1400 1200 1100", "1200 1500", "1300 1500");
        var queries = new TopologyQueries(db.DataSource);
        var clock = new FakeTimeProvider(T0);
        var refresher = new AsRelationshipRefresher(new AsRelationshipStore(db.DataSource),
            Microsoft.Extensions.Options.Options.Create(new AsRelationshipOptions()), clock, NullLogger<AsRelationshipRefresher>.Instance, queries, rib);

        var result = await refresher.RefreshOnceAsync(ct);

        Assert.NotNull(result);
        var edges = new Dictionary<(long, long), AsEdgeStats>();
        await foreach (var (edge, _) in queries.EdgesAsync(null, ct))
        {
            edges[(edge.SrcAsn, edge.DstAsn)] = edge;
        }
        string Rel(long src, long dst) => edges[(src, dst)].Relationship!.Kind;
        Assert.Equal(("c2p", "p2c", "p2p", "c2p", "p2c", "p2p"), (Rel(1100, 1200), Rel(1200, 1400), Rel(1200, 1500), Rel(1700, 1300), Rel(1300, 1500), Rel(1300, 1200)));
        // "1100 1200 1300 1700" crosses the clique {1200, 1300}: its other links are firm, 1100 climbs to 1200.
        Assert.Equal(("both", "transit"), (edges[(1100, 1200)].Relationship!.Source, edges[(1100, 1200)].Relationship!.Basis));
        // LAB-IX tag: peers, although a stub's link to a transit AS would otherwise read as a customer link.
        Assert.Equal(("both", "ixp"), (edges[(1200, 1500)].Relationship!.Source, edges[(1200, 1500)].Relationship!.Basis));
        // Seen only across a gap: nothing to infer from.
        Assert.Equal(AsEdgeRelationship.Unknown, edges[(1300, 1900)].Relationship);
        // Stored once per pair, from the lower ASN's side.
        await using (var count = db.DataSource.CreateCommand("SELECT count(*) FILTER (WHERE asn_a = 1300 AND asn_b = 1700 AND relationship = 'p2c') || '/' || count(*) FROM as_relationships"))
        {
            Assert.Equal($"1/{result.Relationships.Count}", (string)(await count.ExecuteScalarAsync(ct))!);
        }

        // The index answers the edge endpoint from the same rows, read from either end.
        var index = new AsGraphIndex();
        index.Apply(edges.Values);
        index.RebuildNow();
        var answer = index.Edge(1400, 1200);
        Assert.Equal((true, "c2p", (AsEdgeStats?)null), (answer.Known, answer.Relationship.Kind, answer.Forward));
        // A count update from the grains' feed carries no relationship: the index keeps the one it has.
        index.Apply(edges[(1200, 1400)] with { ObservedCount = 9, LastSeen = T0.AddHours(1), Relationship = null });
        Assert.Equal("p2c", index.Edge(1200, 1400).Relationship.Kind);

        // Exports carry it too.
        var csv = new StringWriter();
        GraphExport.WriteEdgesCsv(edges.Values.OrderBy(e => (e.SrcAsn, e.DstAsn)), csv);
        Assert.Contains("relationship,relationship_source,relationship_confidence:double", csv.ToString(), StringComparison.Ordinal);
        Assert.Contains(csv.ToString().Split('\n'), line => line.StartsWith("1200,1500,", StringComparison.Ordinal) && line.Contains(",p2p,both,0.7,", StringComparison.Ordinal));

        // Nothing changed: the next round is one stamp query; a new trace path makes a round again.
        Assert.Null(await refresher.RefreshOnceAsync(ct));
        await Execute(db.DataSource, "INSERT INTO as_paths (path, asns, observed_count, first_seen, last_seen) VALUES ('1100 1300 1600', '{1100,1300,1600}', 1, '2026-12-01', '2026-12-01')");
        Assert.NotNull(await refresher.RefreshOnceAsync(ct));
    }

    [Fact]
    public async Task Replacing_touches_only_the_edges_whose_relationship_changed()
    {
        await using var db = await TestDatabase.CreateAsync();
        var ct = TestContext.Current.CancellationToken;
        await Execute(db.DataSource, """
            INSERT INTO as_edges (src_asn, dst_asn, observed_count, direct_count, first_seen, last_seen, updated_at) VALUES
              (10, 20, 1, 1, '2026-12-01', '2026-12-01', '2026-12-01'),
              (20, 30, 1, 1, '2026-12-01', '2026-12-01', '2026-12-01');
            """);
        var store = new AsRelationshipStore(db.DataSource);
        AsRelationship Rel(long a, long b, AsRelationshipKind kind) => new(a, b, kind, AsRelationshipSource.Bgp, 0.9, AsRelationshipBasis.Transit, 1);

        Assert.Equal(2, await store.ReplaceAsync([Rel(10, 20, AsRelationshipKind.P2C), Rel(20, 30, AsRelationshipKind.P2C)], T0, ct));
        await Execute(db.DataSource, "UPDATE as_edges SET updated_at = '2026-12-01'");
        Assert.Equal(1, await store.ReplaceAsync([Rel(10, 20, AsRelationshipKind.P2C), Rel(20, 30, AsRelationshipKind.P2P)], T0, ct));

        await using var command = db.DataSource.CreateCommand("SELECT string_agg(src_asn || '>' || dst_asn, ' ' ORDER BY src_asn) FROM as_edges WHERE updated_at > '2026-12-02'");
        Assert.Equal("20>30", (string)(await command.ExecuteScalarAsync(ct))!);
    }
}
