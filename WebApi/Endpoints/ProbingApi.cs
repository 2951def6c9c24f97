using CyberWatch.Measurement;
using CyberWatch.Storage;
using CyberWatch.WebApi.Access;
using CyberWatch.WebApi.Probing;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CyberWatch.WebApi.Endpoints;

public static class ProbingApi
{
    public static IEndpointRouteBuilder MapProbingApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("").WithTags("Probing").RequireAuthorization(ApiPolicies.Probe).RequireRateLimiting(RateLimitPolicy);
        group.MapPost("/traceroute/run", TracerouteAsync)
            .WithSummary("Traceroutes a target now and answers with the stored measurement and its hops.");
        group.MapPost("/mtr/run", MtrAsync)
            .WithSummary("Runs mtr (--json, 5 cycles) to a target now: per-hop loss and best/avg/worst/stdev RTT.");
        group.MapPost("/ping/run", PingAsync)
            .WithSummary("Pings a target now (5 ICMP echo requests): loss and min/avg/max RTT.");
        return app;
    }

    public const string RateLimitPolicy = "on-demand-probe";

    public static Task<Results<Ok<MeasurementWithHops>, ValidationProblem, ProblemHttpResult>> TracerouteAsync(
        ProbeRunRequest request, ProbeTargetResolver targets, OnDemandProbes probes, IClusterClient cluster, MeasurementQueries queries,
        HttpContext http, CancellationToken cancellationToken) =>
        RunAsync(request, ProbeTool.Scamper, ProbeMethod.IcmpParis, ProbeMethods.TraceNames, targets, probes, cluster, queries, http, cancellationToken);

    public static Task<Results<Ok<MeasurementWithHops>, ValidationProblem, ProblemHttpResult>> MtrAsync(
        ProbeRunRequest request, ProbeTargetResolver targets, OnDemandProbes probes, IClusterClient cluster, MeasurementQueries queries,
        HttpContext http, CancellationToken cancellationToken) =>
        RunAsync(request, ProbeTool.Mtr, ProbeMethod.Icmp, ["icmp", "udp", "tcp"], targets, probes, cluster, queries, http, cancellationToken);

    public static Task<Results<Ok<MeasurementWithHops>, ValidationProblem, ProblemHttpResult>> PingAsync(
        ProbeRunRequest request, ProbeTargetResolver targets, OnDemandProbes probes, IClusterClient cluster, MeasurementQueries queries,
        HttpContext http, CancellationToken cancellationToken) =>
        RunAsync(request with { Method = null }, ProbeTool.Scamper, ProbeMethod.Ping, [], targets, probes, cluster, queries, http, cancellationToken);

    private static async Task<Results<Ok<MeasurementWithHops>, ValidationProblem, ProblemHttpResult>> RunAsync(ProbeRunRequest request,
        ProbeTool tool, ProbeMethod defaultMethod, IReadOnlyList<string> allowedMethods, ProbeTargetResolver targets, OnDemandProbes probes,
        IClusterClient cluster, MeasurementQueries queries, HttpContext http, CancellationToken cancellationToken)
    {
        var method = defaultMethod;
        if (request.Method is not null)
        {
            if (!allowedMethods.Contains(request.Method, StringComparer.OrdinalIgnoreCase) || ProbeMethods.Parse(request.Method) is not { } parsed)
            {
                return TargetsApi.Problem("method", $"unknown method '{(request.Method.Length > 32 ? request.Method[..32] : request.Method)}'; one of: {string.Join(", ", allowedMethods)}");
            }
            method = parsed;
        }
        var verdict = await targets.ResolveAsync(request.Target, cancellationToken);
        if (!verdict.Accepted)
        {
            return TargetsApi.Problem("target", verdict.Reason!);
        }
        // The last result of the same probe answers only when the node would not probe now anyway (all slots busy,
        // or the target in its cooldown): a repeated click costs no packet, and a cooldown of 0 always probes afresh.
        var cacheKey = $"{tool}|{method}|{verdict.Address}";
        using var slot = probes.TryEnter();
        if (slot is null)
        {
            if (probes.TryGetCached(cacheKey, out var recent))
            {
                http.Response.Headers["X-Cache"] = "hit";
                return TypedResults.Ok(recent);
            }
            http.Response.Headers.RetryAfter = "5";
            return TypedResults.Problem(
                detail: $"{probes.Limit} on-demand probes are running on this node, the most it runs at once; try again in a few seconds",
                statusCode: StatusCodes.Status503ServiceUnavailable, title: "Too many probes in flight");
        }
        var permission = await cluster.GetGrain<ITargetGrain>(verdict.Address!).RequestProbe();
        if (!permission.Allowed)
        {
            if (probes.TryGetCached(cacheKey, out var cached))
            {
                http.Response.Headers["X-Cache"] = "hit";
                return TypedResults.Ok(cached);
            }
            http.Response.Headers.RetryAfter = Math.Ceiling(permission.RetryAfter.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return TypedResults.Problem(
                detail: $"{verdict.Address} was probed moments ago; try again in {Math.Ceiling(permission.RetryAfter.TotalSeconds)} s or read /measurements/latest",
                statusCode: StatusCodes.Status429TooManyRequests, title: "Target in cooldown");
        }
        var summary = await cluster.GetGrain<IProbeWorkerGrain>(0).Run(new ProbeRequest(verdict.Address!, method, OnDemand: true, tool));
        var measurement = await queries.GetAsync(summary.MeasurementId, cancellationToken);
        var result = new MeasurementWithHops(measurement!, await queries.HopsAsync(summary.MeasurementId, cancellationToken) ?? []);
        probes.Remember(cacheKey, result);
        http.Response.Headers["X-Cache"] = "miss";
        return TypedResults.Ok(result);
    }
}

/// <summary>Body of POST /traceroute/run.</summary>
public sealed record ProbeRunRequest(string? Target, string? Method);
