using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using CyberWatch.Configuration;
using CyberWatch.Tests.Infrastructure;
using CyberWatch.Topology;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CyberWatch.Tests.Topology;

/// <summary>The Neo4j projection against a local HTTP server that plays Neo4j's transactional endpoint and checks every request.</summary>
public sealed class Neo4jProjectionTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private const string User = "neo4j";
    private const string Password = "s3cret:with colon";
    private const string Ok = """{"results":[{"columns":[],"data":[]}],"errors":[]}""";

    private static AsEdgeStats Edge(long src, long dst, long count = 1) =>
        new(src, dst, count, 1.5, 2.5, 3.5, T0, T0.AddMinutes(count), src % 2 == 0 ? "AMS-IX" : null, ["vp1", "vp2"], count, 0, null);

    private static AsnInfo Asn(long asn) => new(asn, "Org " + asn, "NL", 3, 4.5, T0, T0.AddHours(1), [], []);

    /// <summary>One statement of a request as the fake server decoded it.</summary>
    private sealed record Statement(string Text, List<JsonElement> Rows);

    private sealed record Request(string Path, string? Authorization, string ContentType, List<Statement> Statements, int AnsweredWith);

    private sealed class FakeNeo4j : IAsyncDisposable
    {
        private readonly WebApplication app;
        private int calls;

        private FakeNeo4j(WebApplication app) => this.app = app;

        public ConcurrentQueue<Request> Requests { get; } = new();

        /// <summary>Answer for the n-th request (0-based): status and body.</summary>
        public Func<int, (int Status, string Body)> Respond { get; set; } = _ => (200, Ok);

        public string Url => app.Urls.First();

        public static async Task<FakeNeo4j> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var fake = new FakeNeo4j(app);
            app.MapPost("/db/{db}/tx/commit", async (HttpContext context) =>
            {
                using var body = await JsonDocument.ParseAsync(context.Request.Body);
                var statements = body.RootElement.GetProperty("statements").EnumerateArray()
                    .Select(s => new Statement(s.GetProperty("statement").GetString()!,
                        s.GetProperty("parameters").GetProperty("rows").EnumerateArray().Select(r => r.Clone()).ToList()))
                    .ToList();
                var (status, answer) = fake.Respond(Interlocked.Increment(ref fake.calls) - 1);
                fake.Requests.Enqueue(new Request(context.Request.Path, context.Request.Headers.Authorization.ToString(),
                    context.Request.ContentType ?? "", statements, status));
                context.Response.StatusCode = status;
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(answer);
            });
            await app.StartAsync();
            return fake;
        }

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private static (Neo4jProjection Projection, ServiceProvider Services) Projection(string url, int batchSize = 100, int capacity = 10_000,
        TopologyQueries? queries = null)
    {
        var services = new ServiceCollection();
        services.AddHttpClient(Neo4jHttpClient.HttpClientName, http => http.Timeout = TimeSpan.FromSeconds(5));
        services.AddMetrics();
        var provider = services.BuildServiceProvider();
        var options = new Neo4jOptions
        {
            BaseUri = new Uri(url), User = User, Password = Password, BatchSize = batchSize, QueueCapacity = capacity,
            FlushInterval = TimeSpan.FromMilliseconds(50), InitialBackoff = TimeSpan.FromMilliseconds(20), MaxBackoff = TimeSpan.FromMilliseconds(200),
            ResyncFromTables = queries is not null,
        };
        var client = new Neo4jHttpClient(provider.GetRequiredService<IHttpClientFactory>(), options);
        return (new Neo4jProjection(client, options, NullLogger<Neo4jProjection>.Instance, provider.GetRequiredService<IMeterFactory>(), queries), provider);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, int seconds = 15)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"condition not met within {seconds} s");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Batches_send_the_projection_statements_with_basic_auth_and_edge_direction()
    {
        await using var server = await FakeNeo4j.StartAsync();
        var (projection, services) = Projection(server.Url, batchSize: 100);
        await using var _ = services;
        for (var i = 0; i < 30; i++)
        {
            projection.Enqueue(Asn(64500 + i));
        }
        for (var i = 0; i < 250; i++)
        {
            projection.Enqueue(Edge(64500 + i, 64501 + i));
        }
        projection.Enqueue(Edge(64501, 64500, 7)); // the reverse direction is another edge
        projection.Enqueue(Edge(64500, 64501, 2)); // a newer value of a waiting edge replaces it

        await projection.StartAsync(CancellationToken.None);
        await WaitUntilAsync(() => projection.Sent == 281);
        await projection.StopAsync(CancellationToken.None);

        var requests = server.Requests.ToList();
        Assert.Equal(3, requests.Count); // 281 rows in batches of 100
        var expectedAuth = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{Password}"));
        Assert.All(requests, r =>
        {
            Assert.Equal("/db/neo4j/tx/commit", r.Path);
            Assert.Equal(expectedAuth, r.Authorization);
            Assert.StartsWith("application/json", r.ContentType);
            Assert.True(r.Statements.Sum(s => s.Rows.Count) <= 100);
            Assert.All(r.Statements, s => Assert.InRange(s.Rows.Count, 1, 100));
        });

        // The statements are exactly those of neo4j/projection.cypher in the repository.
        var file = Neo4jStatements.Parse(await File.ReadAllTextAsync(System.IO.Path.Combine(Repository.Root, "neo4j", "projection.cypher")));
        var first = requests[0].Statements;
        Assert.Equal([file["upsert_ases"], file["upsert_routes"]], first.Select(s => s.Text)); // nodes before their routes
        Assert.StartsWith("UNWIND $rows AS r", file["upsert_routes"]);
        Assert.Contains("MERGE (a)-[e:ROUTE]->(b)", file["upsert_routes"]);

        var asRows = requests.SelectMany(r => r.Statements).Where(s => s.Text == file["upsert_ases"]).SelectMany(s => s.Rows).ToList();
        Assert.Equal(30, asRows.Count);
        Assert.Equal("Org 64500", asRows.Single(r => r.GetProperty("asn").GetInt64() == 64500).GetProperty("org_name").GetString());
        var routeRows = requests.SelectMany(r => r.Statements).Where(s => s.Text == file["upsert_routes"]).SelectMany(s => s.Rows).ToList();
        Assert.Equal(251, routeRows.Count);
        var forward = routeRows.Single(r => r.GetProperty("src_asn").GetInt64() == 64500 && r.GetProperty("dst_asn").GetInt64() == 64501);
        var backward = routeRows.Single(r => r.GetProperty("src_asn").GetInt64() == 64501 && r.GetProperty("dst_asn").GetInt64() == 64500);
        Assert.Equal((2L, 7L), (forward.GetProperty("observed_count").GetInt64(), backward.GetProperty("observed_count").GetInt64()));
        Assert.Equal((1.5, 2.5, 3.5), (forward.GetProperty("min_rtt").GetDouble(), forward.GetProperty("avg_rtt").GetDouble(), forward.GetProperty("max_rtt").GetDouble()));
        Assert.Equal(T0, DateTimeOffset.Parse(forward.GetProperty("first_seen").GetString()!));
        Assert.Equal("AMS-IX", forward.GetProperty("ixp").GetString());
        Assert.Equal(["vp1", "vp2"], forward.GetProperty("vantages").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal(("direct", 2L, 0L), (forward.GetProperty("kind").GetString(), forward.GetProperty("direct_count").GetInt64(),
            forward.GetProperty("indirect_count").GetInt64()));
        Assert.Contains("e.kind = r.kind", file["upsert_routes"]);
    }

    [Theory]
    [InlineData(503, "{\"errors\":[]}")]
    [InlineData(401, "{\"errors\":[{\"code\":\"Neo.ClientError.Security.Unauthorized\",\"message\":\"The client is unauthorized due to authentication failure.\"}]}")]
    [InlineData(200, "{\"results\":[],\"errors\":[{\"code\":\"Neo.TransientError.Transaction.DeadlockDetected\",\"message\":\"deadlock\"}]}")]
    [InlineData(200, "<html>bad gateway</html>")]
    public async Task Neo4j_that_cannot_take_a_batch_gets_it_again_after_a_back_off_and_nothing_is_lost(int status, string body)
    {
        await using var server = await FakeNeo4j.StartAsync();
        server.Respond = n => n < 3 ? (status, body) : (200, Ok);
        var (projection, services) = Projection(server.Url, batchSize: 100);
        await using var _ = services;
        // Queued before the loop starts, so the first batch holds all 40 (a batch put back merges with rows queued meanwhile).
        for (var i = 0; i < 40; i++)
        {
            projection.Enqueue(Edge(1000 + i, 2000 + i));
        }
        await projection.StartAsync(CancellationToken.None);
        await WaitUntilAsync(() => projection.Sent == 40);
        await projection.StopAsync(CancellationToken.None);

        Assert.Equal(3, projection.Retries);
        Assert.Equal((0L, 0L), (projection.Dropped, projection.Rejected));
        var requests = server.Requests.ToList();
        Assert.Equal(4, requests.Count);
        // The batch sent again is the same batch.
        Assert.Equal(RowKeys(requests[0]), RowKeys(requests[3]));
    }

    [Fact]
    public async Task Client_error_in_the_answer_drops_that_batch_counts_it_and_the_next_batches_go_on()
    {
        await using var server = await FakeNeo4j.StartAsync();
        server.Respond = n => n == 0
            ? (200, """{"results":[],"errors":[{"code":"Neo.ClientError.Statement.SyntaxError","message":"Invalid input 'X'"}]}""")
            : (200, Ok);
        var (projection, services) = Projection(server.Url, batchSize: 10);
        await using var _ = services;
        for (var i = 0; i < 25; i++)
        {
            projection.Enqueue(Edge(1000 + i, 2000 + i));
        }
        await projection.StartAsync(CancellationToken.None);
        await WaitUntilAsync(() => projection.Sent == 15);
        await projection.StopAsync(CancellationToken.None);

        Assert.Equal((10L, 0L), (projection.Rejected, projection.Retries));
        Assert.Equal(3, server.Requests.Count);
    }

    [Fact]
    public async Task Full_queue_drops_the_oldest_changes_counts_them_and_enqueueing_never_waits_for_Neo4j()
    {
        // Nothing listens on this port: every send fails at connect.
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var closedPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var (projection, services) = Projection($"http://127.0.0.1:{closedPort}", batchSize: 10, capacity: 50);
        await using var _ = services;
        await projection.StartAsync(CancellationToken.None);

        var timer = Stopwatch.StartNew();
        for (var i = 0; i < 10_000; i++)
        {
            projection.Enqueue(Edge(100_000 + i, 200_000 + i));
        }
        var enqueueMs = timer.Elapsed.TotalMilliseconds;
        await WaitUntilAsync(() => projection.Retries >= 2);
        await projection.StopAsync(CancellationToken.None);

        Assert.True(enqueueMs < 2000, $"10,000 enqueues took {enqueueMs:F0} ms with Neo4j down");
        Assert.Equal(50, projection.Pending);
        Assert.Equal(10_000 - 50, projection.Dropped);
        Assert.Equal(0, projection.Sent);
    }

    [Fact]
    public async Task After_drops_the_newest_changes_are_the_ones_delivered()
    {
        await using var server = await FakeNeo4j.StartAsync();
        var (projection, services) = Projection(server.Url, batchSize: 100, capacity: 50);
        await using var _ = services;
        for (var i = 0; i < 120; i++)
        {
            projection.Enqueue(Edge(1000 + i, 2000 + i));
        }
        Assert.Equal(70, projection.Dropped);

        await projection.StartAsync(CancellationToken.None);
        await WaitUntilAsync(() => projection.Sent == 50);
        await projection.StopAsync(CancellationToken.None);

        var sources = server.Requests.SelectMany(r => r.Statements).SelectMany(s => s.Rows).Select(r => r.GetProperty("src_asn").GetInt64()).Order();
        Assert.Equal(Enumerable.Range(1070, 50).Select(i => (long)i), sources);
    }

    [Fact]
    public async Task At_start_and_after_drops_the_whole_graph_is_sent_again_from_the_tables()
    {
        await using var db = await TestDatabase.CreateAsync();
        var tables = new TopologyTables(db.DataSource, NullLogger<TopologyTables>.Instance);
        for (var i = 0; i < 30; i++)
        {
            tables.Upsert(Edge(5000 + i, 6000 + i, 3));
        }
        tables.Upsert(Asn(5000));
        await tables.FlushAsync(CancellationToken.None);
        await using var server = await FakeNeo4j.StartAsync();
        var down = new int[1];
        server.Respond = n => n == 0 || Volatile.Read(ref down[0]) == 1 ? (503, "{}") : (200, Ok);
        var (projection, services) = Projection(server.Url, batchSize: 25, capacity: 5, queries: new TopologyQueries(db.DataSource));
        await using var _ = services;

        await projection.StartAsync(CancellationToken.None);
        await WaitUntilAsync(() => projection.Sent == 90); // 60 ASes (5000 with metadata, the others only in edges) + 30 routes

        // Neo4j goes away while 8 changes arrive for a queue of 5: 3 are lost, so everything is sent again once it is back.
        Volatile.Write(ref down[0], 1);
        for (var i = 0; i < 8; i++)
        {
            projection.Enqueue(Edge(7000 + i, 7100 + i));
        }
        await WaitUntilAsync(() => projection.Dropped == 3);
        Volatile.Write(ref down[0], 0);
        await WaitUntilAsync(() => projection.Sent == 90 * 2 + 5);
        await projection.StopAsync(CancellationToken.None);

        var rows = server.Requests.Where(r => r.AnsweredWith == 200).SelectMany(r => r.Statements).SelectMany(s => s.Rows).ToList();
        Assert.Equal(3, projection.Dropped);
        Assert.Equal(2, rows.Count(r => r.TryGetProperty("asn", out var a) && a.GetInt64() == 5000 && r.GetProperty("org_name").GetString() == "Org 5000"));
        Assert.Equal(2, rows.Count(r => r.TryGetProperty("src_asn", out var s) && s.GetInt64() == 5029 && r.GetProperty("observed_count").GetInt64() == 3));
        Assert.All(server.Requests, r => Assert.All(r.Statements, s => Assert.InRange(s.Rows.Count, 1, 25)));
    }

    [Fact]
    public void Projection_is_off_unless_NEO4J_URI_is_set_and_the_URI_is_checked()
    {
        Assert.Null(Neo4jOptions.From(new CyberWatchOptions()));
        Assert.Throws<ConfigurationException>(() => Neo4jOptions.From(new CyberWatchOptions { Neo4jUri = "bolt://127.0.0.1:7687" }));
        var options = Neo4jOptions.From(new CyberWatchOptions { Neo4jUri = "http://alice:pw%3A1@127.0.0.1:7474/db/graph" })!;
        Assert.Equal(("graph", "alice", "pw:1", "http://127.0.0.1:7474/"), (options.Database, options.User, options.Password, options.BaseUri.ToString()));
        var plain = Neo4jOptions.From(new CyberWatchOptions { Neo4jUri = "https://neo4j.example:7473", Neo4jUser = "u", Neo4jPassword = "p" })!;
        Assert.Equal(("neo4j", "u", "p"), (plain.Database, plain.User, plain.Password));

        static IServiceCollection Topology(string? uri)
        {
            var services = new ServiceCollection();
            services.AddTopology(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["CyberWatch:Neo4jUri"] = uri }).Build());
            return services;
        }
        Assert.DoesNotContain(Topology(null), d => d.ServiceType == typeof(Neo4jProjection));
        Assert.Contains(Topology("http://127.0.0.1:7474"), d => d.ServiceType == typeof(Neo4jProjection));
        Assert.Throws<ConfigurationException>(() => new ServiceCollection().AddTopology(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [TopologyServiceCollectionExtensions.IxpPrefixesKey] = "10.0.0.0/8" }).Build()));
    }

    [Fact]
    public void Answers_are_classified_by_Neo4j_error_code()
    {
        Assert.Equal(Neo4jOutcome.Committed, Neo4jHttpClient.Classify(Ok).Outcome);
        Assert.Equal(Neo4jOutcome.Rejected, Neo4jHttpClient.Classify("""{"errors":[{"code":"Neo.ClientError.Schema.ConstraintValidationFailed","message":"x"}]}""").Outcome);
        Assert.Equal(Neo4jOutcome.Retry, Neo4jHttpClient.Classify("""{"errors":[{"code":"Neo.TransientError.General.DatabaseUnavailable","message":"x"}]}""").Outcome);
        Assert.Equal(Neo4jOutcome.Retry, Neo4jHttpClient.Classify("""{"errors":[{"code":"Neo.ClientError.Database.DatabaseNotFound","message":"x"}]}""").Outcome);
        Assert.Contains("ConstraintValidationFailed", Neo4jHttpClient.Classify("""{"errors":[{"code":"Neo.ClientError.Schema.ConstraintValidationFailed","message":"x"}]}""").Detail);
    }

    private static List<string> RowKeys(Request request) => request.Statements.SelectMany(s => s.Rows)
        .Select(r => $"{r.GetProperty("src_asn").GetInt64()}->{r.GetProperty("dst_asn").GetInt64()}").ToList();
}
