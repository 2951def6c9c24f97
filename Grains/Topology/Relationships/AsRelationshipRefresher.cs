using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CyberWatch.Topology.Relationships;

/// <summary>
/// Recomputes <c>as_relationships</c> on a schedule (every <see cref="AsRelationshipOptions.Interval"/>, and once
/// shortly after start) from every stored trace AS path and the loaded RIB's AS_PATHs. Scheduled rather than per
/// measurement: a relationship rests on all paths at once (transit degree, clique), new paths change it rarely, and
/// a round whose inputs did not change is skipped after one small query. A full round over a RouteViews RIB cut of
/// 75,000 distinct paths takes about a second.
/// </summary>
public sealed partial class AsRelationshipRefresher(
    AsRelationshipStore store,
    IOptions<AsRelationshipOptions> options,
    TimeProvider clock,
    ILogger<AsRelationshipRefresher> logger,
    TopologyQueries queries,
    IBgpPathSource? bgp = null,
    Neo4jProjection? neo4j = null) : BackgroundService
{
    private static readonly TimeSpan FirstDelay = TimeSpan.FromSeconds(20);
    private string? lastInputs;

    /// <summary>One round: infers and stores unless the inputs are the ones of the last round; returns the result, or null when skipped.</summary>
    public async Task<AsRelationshipResult?> RefreshOnceAsync(CancellationToken cancellationToken)
    {
        var bgpStamp = bgp?.BgpPathsLoadedAt?.ToString("O") ?? "";
        var traceStamp = await store.TraceStampAsync(cancellationToken);
        if (lastInputs == traceStamp + "|" + bgpStamp)
        {
            return null;
        }
        var traces = await store.ReadTraceInputsAsync(cancellationToken);
        var inference = new AsRelationshipInference();
        foreach (var path in traces.Paths)
        {
            try
            {
                inference.AddTracePath(path);
            }
            catch (FormatException e)
            {
                LogBadPath(e.Message); // written by something else than the topology tables; left out, said once per round
            }
        }
        foreach (var (a, b) in traces.IxpLinks)
        {
            inference.AddIxpLink(a, b);
        }
        var bgpPaths = bgp?.BgpPaths() ?? [];
        foreach (var path in bgpPaths)
        {
            inference.AddPath(path, AsRelationshipSource.Bgp);
        }
        var started = clock.GetTimestamp();
        var result = inference.Infer();
        var replacedAt = clock.GetUtcNow();
        var changed = await store.ReplaceAsync(result.Relationships, replacedAt, cancellationToken);
        if (neo4j is not null && changed > 0)
        {
            // The projection follows the grains, which never see a relationship: send it the edges the replacement touched
            // (a minute of margin for the clocks of silo and database; an edge sent twice is only written twice).
            await foreach (var (edge, _) in queries.EdgesAsync(replacedAt.AddMinutes(-1), cancellationToken))
            {
                neo4j.Enqueue(edge);
            }
        }
        lastInputs = traces.Stamp + "|" + bgpStamp;
        LogRefreshed(result.Relationships.Count, result.Relationships.Count(r => r.Kind != AsRelationshipKind.Unknown), changed,
            traces.Paths.Count, bgpPaths.Count, clock.GetElapsedTime(started).TotalSeconds);
        return result;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = FirstDelay;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(delay, clock, stoppingToken);
                await RefreshOnceAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                LogFailed(e.Message); // the next round tries again; the graph keeps the last stored relationships
            }
            delay = options.Value.Interval;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "AS relationships: {Pairs} AS pairs, {Classified} classified, {Changed} changed, from {TracePaths} trace paths and {BgpPaths} BGP paths in {Seconds:0.00} s")]
    private partial void LogRefreshed(int pairs, int classified, int changed, int tracePaths, int bgpPaths, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "AS relationships: stored path left out ({Error})")]
    private partial void LogBadPath(string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "AS relationships could not be recomputed ({Error}); keeping the stored ones")]
    private partial void LogFailed(string error);
}
