using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CyberWatch.Topology;

/// <summary>
/// Projects the AS graph into Neo4j over its HTTP API: <c>(:AS {asn, ...})</c> nodes and
/// <c>(:AS)-[:ROUTE {observed_count, min_rtt, avg_rtt, max_rtt, first_seen, last_seen, ixp, vantages, kind, direct_count,
/// indirect_count, min_gap_hops}]-&gt;(:AS)</c> (kind <c>direct</c> or <c>indirect</c>)
/// in path direction, written with batched <c>UNWIND $rows ... MERGE</c> (neo4j/projection.cypher).
/// </summary>
/// <remarks>
/// Never blocks the pipeline: <see cref="Enqueue(AsEdgeStats)"/> only records the latest value per node or
/// edge in a bounded queue. A background loop sends batches; a batch Neo4j could not take (down, 5xx,
/// transient error, authentication) goes back to the head of the queue and is sent again after an
/// exponential back-off; one Neo4j refuses for good (a client error) is dropped and counted. When the
/// queue is full the oldest change is dropped and counted, and the whole graph is sent again from the
/// tables once Neo4j answers, so Neo4j converges after any outage.
/// </remarks>
public sealed partial class Neo4jProjection : BackgroundService
{
    private readonly Neo4jHttpClient client;
    private readonly Neo4jOptions options;
    private readonly TopologyQueries? queries;
    private readonly ILogger<Neo4jProjection> logger;
    private readonly object gate = new();
    private readonly CoalescingQueue<string, Row> queue;
    private readonly SemaphoreSlim signal = new(0);
    private readonly Counter<long> sentCounter;
    private readonly Counter<long> droppedCounter;
    private readonly Counter<long> rejectedCounter;
    private long sent;
    private long dropped;
    private long rejected;
    private long retries;
    private bool resyncNeeded;

    public Neo4jProjection(Neo4jHttpClient client, Neo4jOptions options, ILogger<Neo4jProjection> logger, IMeterFactory meters,
        TopologyQueries? queries = null)
    {
        this.client = client;
        this.options = options;
        this.queries = queries;
        this.logger = logger;
        queue = new CoalescingQueue<string, Row>(options.QueueCapacity);
        resyncNeeded = options.ResyncFromTables && queries is not null;
        var meter = meters.Create("CyberWatch.Topology");
        sentCounter = meter.CreateCounter<long>("cyberwatch.neo4j.rows_sent", description: "nodes and edges committed to Neo4j");
        droppedCounter = meter.CreateCounter<long>("cyberwatch.neo4j.rows_dropped", description: "changes dropped because the Neo4j queue was full");
        rejectedCounter = meter.CreateCounter<long>("cyberwatch.neo4j.rows_rejected", description: "rows Neo4j refused with a client error");
    }

    private sealed record Row(bool IsEdge, Dictionary<string, object?> Values);

    public long Sent => Interlocked.Read(ref sent);
    public long Dropped => Interlocked.Read(ref dropped);
    public long Rejected => Interlocked.Read(ref rejected);
    public long Retries => Interlocked.Read(ref retries);

    public int Pending
    {
        get
        {
            lock (gate)
            {
                return queue.Count;
            }
        }
    }

    public void Enqueue(AsEdgeStats edge) => Add($"route:{edge.SrcAsn}->{edge.DstAsn}", new Row(true, RouteValues(edge)));

    private static Dictionary<string, object?> RouteValues(AsEdgeStats edge) => new()
    {
        ["src_asn"] = edge.SrcAsn,
        ["dst_asn"] = edge.DstAsn,
        ["observed_count"] = edge.ObservedCount,
        ["min_rtt"] = edge.MinRttMs,
        ["avg_rtt"] = edge.AvgRttMs,
        ["max_rtt"] = edge.MaxRttMs,
        ["first_seen"] = edge.FirstSeen.ToString("O"),
        ["last_seen"] = edge.LastSeen.ToString("O"),
        ["ixp"] = edge.Ixp,
        ["vantages"] = edge.Vantages,
        ["kind"] = GraphExport.Kind(edge.Kind),
        ["direct_count"] = edge.DirectCount,
        ["indirect_count"] = edge.IndirectCount,
        ["min_gap_hops"] = edge.MinGapHops,
        // Null from the grains' feed (they know counts, not relationships): the statement keeps the stored one.
        ["relationship"] = edge.Relationship?.Kind,
        ["relationship_source"] = edge.Relationship?.Source,
        ["relationship_confidence"] = edge.Relationship?.Confidence,
    };

    public void Enqueue(AsnInfo asn) =>
        Enqueue(new AsnRow(asn.Asn, asn.OrgName, asn.Country, null, asn.MeasurementCount, asn.AvgRttMs, asn.FirstSeen, asn.LastSeen));

    public void Enqueue(AsnRow asn) => Add($"as:{asn.Asn}", new Row(false, AsValues(asn)));

    private static Dictionary<string, object?> AsValues(AsnRow asn) => new()
    {
        ["asn"] = asn.Asn,
        ["org_name"] = asn.OrgName,
        ["country"] = asn.Country,
        ["measurement_count"] = asn.MeasurementCount,
        ["avg_rtt"] = asn.AvgRttMs,
        ["first_seen"] = asn.FirstSeen?.ToString("O"),
        ["last_seen"] = asn.LastSeen?.ToString("O"),
    };

    private void Add(string key, Row row)
    {
        int lost;
        int count;
        lock (gate)
        {
            lost = queue.Enqueue(key, row);
            count = queue.Count;
            resyncNeeded |= lost > 0 && options.ResyncFromTables && queries is not null;
        }
        if (lost > 0)
        {
            Interlocked.Add(ref dropped, lost);
            droppedCounter.Add(lost);
        }
        if (count >= options.BatchSize)
        {
            signal.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogStarted(client.CommitUri.ToString());
        var backoff = options.InitialBackoff;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                bool resync;
                lock (gate)
                {
                    resync = resyncNeeded;
                    resyncNeeded = false;
                }
                if (resync)
                {
                    await ResyncAsync(stoppingToken);
                }
                List<(string Key, Row Value)> batch;
                lock (gate)
                {
                    batch = queue.Take(options.BatchSize);
                }
                if (batch.Count == 0)
                {
                    await signal.WaitAsync(options.FlushInterval, stoppingToken);
                    continue;
                }
                var result = await SendAsync(batch.Select(b => b.Value).ToList(), stoppingToken);
                if (result.Outcome == Neo4jOutcome.Retry)
                {
                    int lost;
                    lock (gate)
                    {
                        lost = queue.PutBack(batch);
                        resyncNeeded |= lost > 0 && options.ResyncFromTables && queries is not null;
                    }
                    Interlocked.Add(ref dropped, lost);
                    droppedCounter.Add(lost);
                    await Task.Delay(backoff, stoppingToken);
                    backoff = TimeSpan.FromTicks(Math.Min(options.MaxBackoff.Ticks, backoff.Ticks * 2));
                }
                else
                {
                    backoff = options.InitialBackoff;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
        }
    }

    /// <summary>Sends one batch; counts what was committed or refused; logs problems.</summary>
    private async Task<Neo4jCommitResult> SendAsync(IReadOnlyList<Row> rows, CancellationToken cancellationToken)
    {
        var statements = new List<Neo4jStatement>(2);
        var ases = rows.Where(r => !r.IsEdge).Select(r => r.Values).ToList();
        var routes = rows.Where(r => r.IsEdge).Select(r => r.Values).ToList();
        // Nodes first: a route's MERGE of its endpoints then finds them instead of creating bare nodes.
        if (ases.Count > 0)
        {
            statements.Add(new Neo4jStatement(Neo4jStatements.UpsertAses, new Dictionary<string, object?> { ["rows"] = ases }));
        }
        if (routes.Count > 0)
        {
            statements.Add(new Neo4jStatement(Neo4jStatements.UpsertRoutes, new Dictionary<string, object?> { ["rows"] = routes }));
        }
        var result = await client.CommitAsync(statements, cancellationToken);
        switch (result.Outcome)
        {
            case Neo4jOutcome.Committed:
                Interlocked.Add(ref sent, rows.Count);
                sentCounter.Add(rows.Count);
                break;
            case Neo4jOutcome.Retry:
                Interlocked.Increment(ref retries);
                LogRetry(rows.Count, result.Detail);
                break;
            case Neo4jOutcome.Rejected:
                Interlocked.Add(ref rejected, rows.Count);
                rejectedCounter.Add(rows.Count);
                LogRejected(rows.Count, result.Detail);
                break;
        }
        return result;
    }

    /// <summary>Sends every AS and edge of the tables, page by page, each page retried until Neo4j takes or refuses it.</summary>
    private async Task ResyncAsync(CancellationToken cancellationToken)
    {
        var total = 0;
        var page = new List<Row>(options.BatchSize);
        try
        {
            await foreach (var asn in queries!.AsnsAsync(cancellationToken))
            {
                page.Add(new Row(false, AsValues(asn)));
                if (page.Count == options.BatchSize)
                {
                    total += await SendPageAsync(page, cancellationToken);
                }
            }
            await foreach (var (edge, _) in queries.EdgesAsync(null, cancellationToken))
            {
                page.Add(new Row(true, RouteValues(edge)));
                if (page.Count == options.BatchSize)
                {
                    total += await SendPageAsync(page, cancellationToken);
                }
            }
            total += await SendPageAsync(page, cancellationToken);
            LogResynced(total);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            lock (gate)
            {
                resyncNeeded = true;
            }
            LogResyncFailed(e.Message);
            await Task.Delay(options.MaxBackoff, cancellationToken);
        }
    }

    private async Task<int> SendPageAsync(List<Row> page, CancellationToken cancellationToken)
    {
        var count = page.Count;
        var backoff = options.InitialBackoff;
        while (page.Count > 0 && (await SendAsync(page, cancellationToken)).Outcome == Neo4jOutcome.Retry)
        {
            await Task.Delay(backoff, cancellationToken);
            backoff = TimeSpan.FromTicks(Math.Min(options.MaxBackoff.Ticks, backoff.Ticks * 2));
        }
        page.Clear();
        return count;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Neo4j projection on: {Endpoint}")]
    private partial void LogStarted(string endpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Neo4j did not take {Rows} row(s) ({Reason}); kept, sending again after a back-off")]
    private partial void LogRetry(int rows, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Neo4j refused {Rows} row(s) for good ({Reason}); dropped")]
    private partial void LogRejected(int rows, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Neo4j resynced from the tables: {Rows} rows")]
    private partial void LogResynced(int rows);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Neo4j resync cannot read the tables ({Error}); trying again later")]
    private partial void LogResyncFailed(string error);
}
