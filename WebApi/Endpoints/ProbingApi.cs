using CyberWatch.Measurement;
using CyberWatch.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CyberWatch.WebApi.Endpoints;

public static class ProbingApi
{
    public static IEndpointRouteBuilder MapProbingApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/traceroute/run", TracerouteAsync).WithTags("Probing")
            .WithSummary("Traceroutes a target now and answers with the stored measurement and its hops.");
        return app;
    }

    public static async Task<Results<Ok<MeasurementWithHops>, ValidationProblem, ProblemHttpResult>> TracerouteAsync(
        ProbeRunRequest request, TargetPolicy policy, IClusterClient cluster, MeasurementQueries queries,
        CancellationToken cancellationToken)
    {
        var verdict = policy.Check(request.Target);
        if (!verdict.Accepted)
        {
            return TargetsApi.Problem("target", verdict.Reason!);
        }
        var method = ProbeMethod.IcmpParis;
        if (request.Method is not null)
        {
            if (ProbeMethods.Parse(request.Method) is not { } parsed || parsed == ProbeMethod.Ping)
            {
                return TargetsApi.Problem("method", $"unknown trace method '{request.Method}'; one of: {string.Join(", ", ProbeMethods.TraceNames)}");
            }
            method = parsed;
        }
        var target = cluster.GetGrain<ITargetGrain>(verdict.Address!);
        var permission = await target.RequestProbe();
        if (!permission.Allowed)
        {
            return TypedResults.Problem(
                detail: $"{verdict.Address} was probed moments ago; try again in {Math.Ceiling(permission.RetryAfter.TotalSeconds)} s or read /measurements/latest",
                statusCode: StatusCodes.Status429TooManyRequests, title: "Target in cooldown");
        }
        var summary = await cluster.GetGrain<IProbeWorkerGrain>(0).Run(new ProbeRequest(verdict.Address!, method, OnDemand: true));
        var measurement = await queries.GetAsync(summary.MeasurementId, cancellationToken);
        return TypedResults.Ok(new MeasurementWithHops(measurement!, await queries.HopsAsync(summary.MeasurementId, cancellationToken) ?? []));
    }
}

/// <summary>Body of POST /traceroute/run.</summary>
public sealed record ProbeRunRequest(string? Target, string? Method);
