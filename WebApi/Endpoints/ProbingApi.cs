using CyberWatch.Measurement;
using CyberWatch.Storage;
using CyberWatch.WebApi.Access;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CyberWatch.WebApi.Endpoints;

public static class ProbingApi
{
    public static IEndpointRouteBuilder MapProbingApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("").WithTags("Probing").RequireAuthorization(ApiPolicies.Probe);
        group.MapPost("/traceroute/run", TracerouteAsync)
            .WithSummary("Traceroutes a target now and answers with the stored measurement and its hops.");
        group.MapPost("/mtr/run", MtrAsync)
            .WithSummary("Runs mtr (--json, 5 cycles) to a target now: per-hop loss and best/avg/worst/stdev RTT.");
        group.MapPost("/ping/run", PingAsync)
            .WithSummary("Pings a target now (5 ICMP echo requests): loss and min/avg/max RTT.");
        return app;
    }

    public static Task<Results<Ok<MeasurementWithHops>, ValidationProblem, ProblemHttpResult>> TracerouteAsync(
        ProbeRunRequest request, TargetPolicy policy, IClusterClient cluster, MeasurementQueries queries, CancellationToken cancellationToken) =>
        RunAsync(request, ProbeTool.Scamper, ProbeMethod.IcmpParis, ProbeMethods.TraceNames, policy, cluster, queries, cancellationToken);

    public static Task<Results<Ok<MeasurementWithHops>, ValidationProblem, ProblemHttpResult>> MtrAsync(
        ProbeRunRequest request, TargetPolicy policy, IClusterClient cluster, MeasurementQueries queries, CancellationToken cancellationToken) =>
        RunAsync(request, ProbeTool.Mtr, ProbeMethod.Icmp, ["icmp", "udp", "tcp"], policy, cluster, queries, cancellationToken);

    public static Task<Results<Ok<MeasurementWithHops>, ValidationProblem, ProblemHttpResult>> PingAsync(
        ProbeRunRequest request, TargetPolicy policy, IClusterClient cluster, MeasurementQueries queries, CancellationToken cancellationToken) =>
        RunAsync(request with { Method = null }, ProbeTool.Scamper, ProbeMethod.Ping, [], policy, cluster, queries, cancellationToken);

    private static async Task<Results<Ok<MeasurementWithHops>, ValidationProblem, ProblemHttpResult>> RunAsync(ProbeRunRequest request,
        ProbeTool tool, ProbeMethod defaultMethod, IReadOnlyList<string> allowedMethods, TargetPolicy policy, IClusterClient cluster,
        MeasurementQueries queries, CancellationToken cancellationToken)
    {
        var verdict = policy.Check(request.Target);
        if (!verdict.Accepted)
        {
            return TargetsApi.Problem("target", verdict.Reason!);
        }
        var method = defaultMethod;
        if (request.Method is not null)
        {
            if (!allowedMethods.Contains(request.Method, StringComparer.OrdinalIgnoreCase) || ProbeMethods.Parse(request.Method) is not { } parsed)
            {
                return TargetsApi.Problem("method", $"unknown method '{(request.Method.Length > 32 ? request.Method[..32] : request.Method)}'; one of: {string.Join(", ", allowedMethods)}");
            }
            method = parsed;
        }
        var permission = await cluster.GetGrain<ITargetGrain>(verdict.Address!).RequestProbe();
        if (!permission.Allowed)
        {
            return TypedResults.Problem(
                detail: $"{verdict.Address} was probed moments ago; try again in {Math.Ceiling(permission.RetryAfter.TotalSeconds)} s or read /measurements/latest",
                statusCode: StatusCodes.Status429TooManyRequests, title: "Target in cooldown");
        }
        var summary = await cluster.GetGrain<IProbeWorkerGrain>(0).Run(new ProbeRequest(verdict.Address!, method, OnDemand: true, tool));
        var measurement = await queries.GetAsync(summary.MeasurementId, cancellationToken);
        return TypedResults.Ok(new MeasurementWithHops(measurement!, await queries.HopsAsync(summary.MeasurementId, cancellationToken) ?? []));
    }
}

/// <summary>Body of POST /traceroute/run.</summary>
public sealed record ProbeRunRequest(string? Target, string? Method);
