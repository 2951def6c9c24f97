using System.Globalization;
using System.Net;
using CyberWatch.Measurement;
using CyberWatch.Vantages;
using CyberWatch.Watch;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CyberWatch.WebApi.Endpoints;

/// <summary>The network watch: ping series.</summary>
public static class WatchApi
{
    public static readonly TimeSpan DefaultRange = TimeSpan.FromDays(1);
    public static readonly TimeSpan MaxRange = TimeSpan.FromDays(800);

    public static IEndpointRouteBuilder MapWatchApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/targets/{ip}/ping-series", PingSeriesAsync).WithTags("Watch")
            .WithSummary("A target's ping series, oldest first, per vantage point (vantage= keeps one): each round's sent, received, loss %, min/median/max RTT, standard deviation, IQR (jitter) and sorted RTTs; from/to ISO 8601, default the last 24 hours; ranges over 7 days (or resolution=hour) give hourly roll-ups whose rttsMs are the 10th, 50th and 90th percentile of the rounds' medians.");
        return app;
    }

    public static async Task<Results<Ok<PingSeries>, ValidationProblem>> PingSeriesAsync(string ip, PingSeriesQueries queries, TimeProvider clock,
        string? vantage = null, string? from = null, string? to = null, string? resolution = null, CancellationToken cancellationToken = default)
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
        return TypedResults.Ok(await queries.SeriesAsync(IPAddress.Parse(canonical), vantage, start, end, resolution, cancellationToken));
    }
}
