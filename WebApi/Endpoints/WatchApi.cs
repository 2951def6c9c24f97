using System.Globalization;
using System.Net;
using CyberWatch.Measurement;
using CyberWatch.Storage;
using CyberWatch.Vantages;
using CyberWatch.WebApi.Access;
using CyberWatch.Watch;
using CyberWatch.Watch.Incidents;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CyberWatch.WebApi.Endpoints;

/// <summary>The network watch: ping series and incidents.</summary>
public static class WatchApi
{
    public static readonly TimeSpan DefaultRange = TimeSpan.FromDays(1);
    public static readonly TimeSpan MaxRange = TimeSpan.FromDays(800);

    public static IEndpointRouteBuilder MapWatchApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/targets/{ip}/ping-series", PingSeriesAsync).WithTags("Watch")
            .WithSummary("A target's ping series, oldest first, per vantage point (vantage= keeps one): each round's sent, received, loss %, min/median/max RTT, standard deviation, IQR (jitter) and sorted RTTs; from/to ISO 8601, default the last 24 hours; ranges over 7 days (or resolution=hour) give hourly roll-ups whose rttsMs are the 10th, 50th and 90th percentile of the rounds' medians.");
        app.MapGet("/incidents", IncidentsAsync).WithTags("Watch")
            .WithSummary("Incidents, newest first: state=open (every open one), state=resolved or none (opened in from/to, default the last 7 days); kind= (loss, unreachable, latency_shift, as_path, ip_path, vantage_down) and vantage= narrow it; limit (default 200, at most 1000).");
        app.MapGet("/incidents/{id:long}", IncidentAsync).WithTags("Watch")
            .WithSummary("One incident: kind, vantages, targets, opened and resolved times, the figures before (baseline vs now at opening) and after (at resolving), and the evidence taken at opening: a traceroute and an MTR of each affected target (up to 3 per vantage) from each affected vantage, each with its measurement id (GET /measurements/{id}) or why it failed.");
        return app;
    }

    public static async Task<Results<Ok<IReadOnlyList<Incident>>, ValidationProblem>> IncidentsAsync(IncidentStore store, TimeProvider clock,
        HttpContext http, string? state = null, string? from = null, string? to = null, string? kind = null, string? vantage = null, int? limit = null,
        CancellationToken cancellationToken = default)
    {
        if (state is not (null or "open" or "resolved"))
        {
            return TargetsApi.Problem("state", "state must be open or resolved");
        }
        if (kind is not null && !IncidentKinds.Names.Contains(kind))
        {
            return TargetsApi.Problem("kind", $"kind must be one of {string.Join(", ", IncidentKinds.Names)}");
        }
        if (vantage is not null && !VantageNames.IsValid(vantage))
        {
            return TargetsApi.Problem("vantage", "vantage must be a vantage point name");
        }
        if (limit is < 1 or > 1000)
        {
            return TargetsApi.Problem("limit", "limit must be 1 to 1000");
        }
        var end = clock.GetUtcNow();
        if (to is not null && !DateTimeOffset.TryParse(to, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out end))
        {
            return TargetsApi.Problem("to", "to must be an ISO 8601 time (2026-11-30T12:00:00Z)");
        }
        var start = end - TimeSpan.FromDays(7);
        if (from is not null && !DateTimeOffset.TryParse(from, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out start))
        {
            return TargetsApi.Problem("from", "from must be an ISO 8601 time (2026-11-30T12:00:00Z)");
        }
        if (start >= end)
        {
            return TargetsApi.Problem("from", "from must be before to");
        }
        return TypedResults.Ok(await store.ListAsync(state, start, end, kind, vantage, limit ?? 200, await http.TargetScopeAsync(), cancellationToken));
    }

    public static async Task<Results<Ok<Incident>, NotFound>> IncidentAsync(long id, IncidentStore store, HttpContext http,
        CancellationToken cancellationToken)
    {
        if (await store.GetAsync(id, await http.TargetScopeAsync(), cancellationToken) is not { } incident)
        {
            return TypedResults.NotFound();
        }
        // Evidence only of the targets this caller may see: the scope already took DNS-only targets out of the incident.
        var evidence = await store.EvidenceAsync(id, cancellationToken);
        return TypedResults.Ok(incident with { Evidence = [.. evidence.Where(e => incident.Targets.Contains(e.Target))] });
    }

    public static async Task<Results<Ok<PingSeries>, ValidationProblem>> PingSeriesAsync(string ip, PingSeriesQueries queries, TimeProvider clock,
        HttpContext http, string? vantage = null, string? from = null, string? to = null, string? resolution = null, CancellationToken cancellationToken = default)
    {
        if (!TargetAddress.TryCanonical(ip, out var canonical))
        {
            return TargetsApi.Problem("ip", $"'{(ip.Length > 64 ? ip[..64] : ip)}' is not an IP address");
        }
        if (vantage is not null && !VantageNames.IsValid(vantage))
        {
            return TargetsApi.Problem("vantage", "vantage must be a vantage point name");
        }
        if (resolution is not (null or "round" or "hour"))
        {
            return TargetsApi.Problem("resolution", "resolution must be round or hour");
        }
        var end = clock.GetUtcNow();
        if (to is not null && !DateTimeOffset.TryParse(to, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out end))
        {
            return TargetsApi.Problem("to", "to must be an ISO 8601 time (2026-11-30T12:00:00Z)");
        }
        var start = end - DefaultRange;
        if (from is not null && !DateTimeOffset.TryParse(from, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out start))
        {
            return TargetsApi.Problem("from", "from must be an ISO 8601 time (2026-11-30T12:00:00Z)");
        }
        if (start >= end || end - start > MaxRange)
        {
            return TargetsApi.Problem("from", $"from must be before to, at most {MaxRange.TotalDays} days apart");
        }
        return TypedResults.Ok(await queries.SeriesAsync(IPAddress.Parse(canonical), vantage, start, end, resolution, await http.TargetScopeAsync(),
            cancellationToken));
    }
}
