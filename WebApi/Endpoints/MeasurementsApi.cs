using CyberWatch.Measurement;
using CyberWatch.Storage;
using CyberWatch.Vantages;
using CyberWatch.WebApi.Access;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CyberWatch.WebApi.Endpoints;

public static class MeasurementsApi
{
    public static IEndpointRouteBuilder MapMeasurementsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/measurements").WithTags("Measurements");
        group.MapGet("/latest", LatestAsync)
            .WithSummary("The latest measurement of a target with its hops: from one vantage point (vantage=), else the newest of any, with the latest of each vantage in byVantage.");
        group.MapGet("/{id:long}", GetAsync).WithSummary("One measurement.");
        group.MapGet("/{id:long}/hops", HopsAsync).WithSummary("The hops of a measurement, in TTL order.");
        group.MapGet("/hops/{id:long}", HopsAsync).WithSummary("Alias of /measurements/{id}/hops.");
        app.MapGet("/traceroute/history", HistoryAsync).WithTags("Measurements")
            .WithSummary("Recent measurements of a target, newest first, optionally from one vantage point.");
        app.MapGet("/paths/changes", PathChangesAsync).WithTags("Measurements")
            .WithSummary("Detected AS-path, IP-path and latency changes, newest first, optionally for one target, one vantage point and since a time.");
        return app;
    }

    public static async Task<Results<Ok<IReadOnlyList<PathChangeRecord>>, ValidationProblem>> PathChangesAsync(
        MeasurementQueries queries, HttpContext http, string? target = null, DateTimeOffset? since = null, int limit = 100, string? vantage = null,
        CancellationToken cancellationToken = default)
    {
        if (vantage is not null && !VantageNames.IsValid(vantage))
        {
            return TargetsApi.Problem("vantage", "vantage must be a vantage point name");
        }
        System.Net.IPAddress? address = null;
        if (target is not null)
        {
            if (!TargetAddress.TryCanonical(target, out var canonical))
            {
                return TargetsApi.Problem("target", "target must be an IP address");
            }
            address = System.Net.IPAddress.Parse(canonical);
        }
        if (limit is < 1 or > 1000)
        {
            return TargetsApi.Problem("limit", "limit must be between 1 and 1000");
        }
        return TypedResults.Ok(await queries.PathChangesAsync(address, vantage, since, limit, await http.TargetScopeAsync(), cancellationToken));
    }

    public static async Task<Results<Ok<LatestMeasurements>, NotFound, ValidationProblem>> LatestAsync(string? target,
        IClusterClient cluster, MeasurementQueries queries, HttpContext http, string? vantage = null, CancellationToken cancellationToken = default)
    {
        if (!TargetAddress.TryCanonical(target, out var canonical))
        {
            return TargetsApi.Problem("target", "target must be an IP address");
        }
        if (vantage is not null && !VantageNames.IsValid(vantage))
        {
            return TargetsApi.Problem("vantage", "vantage must be a vantage point name");
        }
        // Any address can be asked for; only one with measurements is worth a grain activation (and a DNS-only one
        // answers a public reader as an unknown address).
        if (!await queries.IsKnownTargetAsync(System.Net.IPAddress.Parse(canonical), orMeasured: true, await http.TargetScopeAsync(), cancellationToken))
        {
            return TypedResults.NotFound();
        }
        var grain = cluster.GetGrain<ITargetGrain>(canonical);
        if (vantage is not null)
        {
            return await grain.GetLatestMeasurement(vantage) is { } one
                ? TypedResults.Ok(new LatestMeasurements(one.Measurement, one.Hops, [new MeasurementWithHops(one.Measurement, one.Hops)]))
                : TypedResults.NotFound();
        }
        var each = await grain.GetLatestMeasurements();
        return each.Count > 0
            ? TypedResults.Ok(new LatestMeasurements(each[0].Measurement, each[0].Hops, [.. each.Select(m => new MeasurementWithHops(m.Measurement, m.Hops))]))
            : TypedResults.NotFound();
    }

    public static async Task<Results<Ok<MeasurementRecord>, NotFound>> GetAsync(long id, MeasurementQueries queries, HttpContext http,
        CancellationToken cancellationToken) =>
        await queries.GetAsync(id, await http.TargetScopeAsync(), cancellationToken) is { } measurement ? TypedResults.Ok(measurement) : TypedResults.NotFound();

    public static async Task<Results<Ok<IReadOnlyList<HopRecord>>, NotFound>> HopsAsync(long id, MeasurementQueries queries, HttpContext http,
        CancellationToken cancellationToken) =>
        await queries.HopsAsync(id, await http.TargetScopeAsync(), cancellationToken) is { } hops ? TypedResults.Ok(hops) : TypedResults.NotFound();

    public static async Task<Results<Ok<IReadOnlyList<MeasurementRecord>>, ValidationProblem>> HistoryAsync(string? target,
        MeasurementQueries queries, HttpContext http, int limit = 20, string? vantage = null, CancellationToken cancellationToken = default)
    {
        if (vantage is not null && !VantageNames.IsValid(vantage))
        {
            return TargetsApi.Problem("vantage", "vantage must be a vantage point name");
        }
        if (!TargetAddress.TryCanonical(target, out var canonical))
        {
            return TargetsApi.Problem("target", "target must be an IP address");
        }
        if (limit is < 1 or > 500)
        {
            return TargetsApi.Problem("limit", "limit must be between 1 and 500");
        }
        return TypedResults.Ok(await queries.HistoryAsync(System.Net.IPAddress.Parse(canonical), vantage, limit, await http.TargetScopeAsync(), cancellationToken));
    }
}

/// <summary>The newest measurement (of the vantage asked for, or of any) and the latest of each vantage point, newest first.</summary>
public sealed record LatestMeasurements(MeasurementRecord Measurement, IReadOnlyList<HopRecord> Hops, IReadOnlyList<MeasurementWithHops> ByVantage)
{
    public ProbeResultSummary Summary => ProbeResultSummary.From(Measurement, Hops);
}

public sealed record MeasurementWithHops(MeasurementRecord Measurement, IReadOnlyList<HopRecord> Hops)
{
    public ProbeResultSummary Summary => ProbeResultSummary.From(Measurement, Hops);
}
