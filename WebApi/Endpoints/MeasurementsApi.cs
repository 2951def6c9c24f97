using CyberWatch.Measurement;
using CyberWatch.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CyberWatch.WebApi.Endpoints;

public static class MeasurementsApi
{
    public static IEndpointRouteBuilder MapMeasurementsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/measurements").WithTags("Measurements");
        group.MapGet("/latest", LatestAsync).WithSummary("The latest measurement of a target, with its hops.");
        group.MapGet("/{id:long}", GetAsync).WithSummary("One measurement.");
        group.MapGet("/{id:long}/hops", HopsAsync).WithSummary("The hops of a measurement, in TTL order.");
        group.MapGet("/hops/{id:long}", HopsAsync).WithSummary("Alias of /measurements/{id}/hops.");
        app.MapGet("/traceroute/history", HistoryAsync).WithTags("Measurements")
            .WithSummary("Recent measurements of a target, newest first.");
        app.MapGet("/paths/changes", PathChangesAsync).WithTags("Measurements")
            .WithSummary("Detected AS-path, IP-path and latency changes, newest first, optionally for one target and since a time.");
        return app;
    }

    public static async Task<Results<Ok<IReadOnlyList<PathChangeRecord>>, ValidationProblem>> PathChangesAsync(
        MeasurementQueries queries, string? target = null, DateTimeOffset? since = null, int limit = 100,
        CancellationToken cancellationToken = default)
    {
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
        return TypedResults.Ok(await queries.PathChangesAsync(address, since, limit, cancellationToken));
    }

    public static async Task<Results<Ok<MeasurementWithHops>, NotFound, ValidationProblem>> LatestAsync(string? target,
        IClusterClient cluster)
    {
        if (!TargetAddress.TryCanonical(target, out var canonical))
        {
            return TargetsApi.Problem("target", "target must be an IP address");
        }
        var latest = await cluster.GetGrain<ITargetGrain>(canonical).GetLatestMeasurement();
        return latest is { } found ? TypedResults.Ok(new MeasurementWithHops(found.Measurement, found.Hops)) : TypedResults.NotFound();
    }

    public static async Task<Results<Ok<MeasurementRecord>, NotFound>> GetAsync(long id, MeasurementQueries queries,
        CancellationToken cancellationToken) =>
        await queries.GetAsync(id, cancellationToken) is { } measurement ? TypedResults.Ok(measurement) : TypedResults.NotFound();

    public static async Task<Results<Ok<IReadOnlyList<HopRecord>>, NotFound>> HopsAsync(long id, MeasurementQueries queries,
        CancellationToken cancellationToken) =>
        await queries.HopsAsync(id, cancellationToken) is { } hops ? TypedResults.Ok(hops) : TypedResults.NotFound();

    public static async Task<Results<Ok<IReadOnlyList<MeasurementRecord>>, ValidationProblem>> HistoryAsync(string? target,
        MeasurementQueries queries, int limit = 20, CancellationToken cancellationToken = default)
    {
        if (!TargetAddress.TryCanonical(target, out var canonical))
        {
            return TargetsApi.Problem("target", "target must be an IP address");
        }
        if (limit is < 1 or > 500)
        {
            return TargetsApi.Problem("limit", "limit must be between 1 and 500");
        }
        return TypedResults.Ok(await queries.HistoryAsync(System.Net.IPAddress.Parse(canonical), limit, cancellationToken));
    }
}

public sealed record MeasurementWithHops(MeasurementRecord Measurement, IReadOnlyList<HopRecord> Hops)
{
    public ProbeResultSummary Summary => ProbeResultSummary.From(Measurement, Hops);
}
