using CyberWatch.Measurement;
using CyberWatch.Configuration;
using CyberWatch.Storage;
using CyberWatch.Vantages;
using CyberWatch.WebApi.Access;
using CyberWatch.WebApi.Probing;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CyberWatch.WebApi.Endpoints;

public static class ProbingApi
{
    /// <summary>How long one vantage's probe may take before its entry answers 504 (the others still answer).</summary>
    public static readonly TimeSpan VantageTimeout = TimeSpan.FromSeconds(150);

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

    public static Task<Results<Ok<MeasurementWithHops>, Ok<VantageProbeResults>, ValidationProblem, ProblemHttpResult>> TracerouteAsync(
        ProbeRunRequest request, ProbeTargetResolver targets, OnDemandProbes probes, OnDemandProbeLimiter limiter, IClusterClient cluster, MeasurementQueries queries,
        VantageDirectory vantages, CyberWatchOptions options, HttpContext http, CancellationToken cancellationToken) =>
        RunAsync(request, ProbeTool.Scamper, ProbeMethod.IcmpParis, ProbeMethods.TraceNames, targets, probes, limiter, cluster, queries, vantages, options, http, cancellationToken);

    public static Task<Results<Ok<MeasurementWithHops>, Ok<VantageProbeResults>, ValidationProblem, ProblemHttpResult>> MtrAsync(
        ProbeRunRequest request, ProbeTargetResolver targets, OnDemandProbes probes, OnDemandProbeLimiter limiter, IClusterClient cluster, MeasurementQueries queries,
        VantageDirectory vantages, CyberWatchOptions options, HttpContext http, CancellationToken cancellationToken) =>
        RunAsync(request, ProbeTool.Mtr, ProbeMethod.Icmp, ["icmp", "udp", "tcp"], targets, probes, limiter, cluster, queries, vantages, options, http, cancellationToken);

    public static Task<Results<Ok<MeasurementWithHops>, Ok<VantageProbeResults>, ValidationProblem, ProblemHttpResult>> PingAsync(
        ProbeRunRequest request, ProbeTargetResolver targets, OnDemandProbes probes, OnDemandProbeLimiter limiter, IClusterClient cluster, MeasurementQueries queries,
        VantageDirectory vantages, CyberWatchOptions options, HttpContext http, CancellationToken cancellationToken) =>
        RunAsync(request with { Method = null }, ProbeTool.Scamper, ProbeMethod.Ping, [], targets, probes, limiter, cluster, queries, vantages, options, http, cancellationToken);

    private static async Task<Results<Ok<MeasurementWithHops>, Ok<VantageProbeResults>, ValidationProblem, ProblemHttpResult>> RunAsync(ProbeRunRequest request,
        ProbeTool tool, ProbeMethod defaultMethod, IReadOnlyList<string> allowedMethods, ProbeTargetResolver targets, OnDemandProbes probes, OnDemandProbeLimiter limiter,
        IClusterClient cluster, MeasurementQueries queries, VantageDirectory vantages, CyberWatchOptions options, HttpContext http,
        CancellationToken cancellationToken)
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
        IReadOnlyList<string>? from = null;
        if (request.Vantages is { } selection)
        {
            var known = await vantages.NamesAsync(cancellationToken);
            if (TargetsApi.UnknownVantages(selection, known) is { } unknown)
            {
                return TargetsApi.Problem("vantages", unknown);
            }
            from = selection.All ? [.. known.Order(StringComparer.Ordinal)] : selection.Names;
            if (from.Count == 0)
            {
                return TargetsApi.Problem("vantages", "no vantage point is known yet");
            }
        }
        // Before the target is resolved: a refused target costs a token too (a client cannot probe the policy for free).
        if (limiter.TryTake(http, from?.Count ?? 1) is { } limited)
        {
            return limited;
        }
        var verdict = await targets.ResolveAsync(request.Target, cancellationToken);
        if (!verdict.Accepted)
        {
            return TargetsApi.Problem("target", verdict.Reason!);
        }
        if (from is not null)
        {
            return await RunFromAsync(from, new ProbeRequest(verdict.Address!, method, OnDemand: true, tool), probes, cluster, queries, http);
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
        var permission = await cluster.GetGrain<ITargetGrain>(verdict.Address!).RequestProbe(options.Vantage);
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
        var probe = new ProbeRequest(verdict.Address!, method, OnDemand: true, tool);
        MeasurementSummary summary;
        try
        {
            // From this API's vantage point (the one its silo serves, as before vantage points).
            summary = await cluster.GetGrain<IVantageProbeGrain>(options.Vantage).Run(probe);
        }
        catch (VantageUnavailableException)
        {
            // An API without a silo of its own vantage: any silo probes, as an API did before vantage points.
            summary = await cluster.GetGrain<IProbeWorkerGrain>(0).Run(probe);
        }
        // The caller's own probe of the address it named: shown whatever the target's sources.
        var measurement = await queries.GetAsync(summary.MeasurementId, TargetScope.IncludingDns, cancellationToken);
        var result = new MeasurementWithHops(measurement!, await queries.HopsAsync(summary.MeasurementId, TargetScope.IncludingDns, cancellationToken) ?? []);
        probes.Remember(cacheKey, result);
        http.Response.Headers["X-Cache"] = "miss";
        return TypedResults.Ok(result);
    }

    /// <summary>
    /// The probe from each named vantage at once, each under its own cooldown and timeout: a vantage that is
    /// down (503), cooling down (429) or too slow (504) answers for itself while the others answer.
    /// </summary>
    private static async Task<Results<Ok<MeasurementWithHops>, Ok<VantageProbeResults>, ValidationProblem, ProblemHttpResult>> RunFromAsync(
        IReadOnlyList<string> from, ProbeRequest probe, OnDemandProbes probes, IClusterClient cluster, MeasurementQueries queries, HttpContext http)
    {
        using var slots = probes.TryEnter(from.Count);
        if (slots is null)
        {
            http.Response.Headers.RetryAfter = "5";
            return TypedResults.Problem(
                detail: $"{probes.Limit} on-demand probes are running on this node, the most it runs at once; this asks for {from.Count}; try again in a few seconds",
                statusCode: StatusCodes.Status503ServiceUnavailable, title: "Too many probes in flight");
        }
        var agents = http.RequestServices.GetRequiredService<CyberWatch.WebApi.Agents.AgentSessions>();
        var target = cluster.GetGrain<ITargetGrain>(probe.Target);
        var results = await Task.WhenAll(from.Select(async vantage =>
        {
            try
            {
                var permission = await target.RequestProbe(vantage);
                if (!permission.Allowed)
                {
                    return new VantageProbeResult(vantage, StatusCodes.Status429TooManyRequests,
                        $"probed from {vantage} moments ago; try again in {Math.Ceiling(permission.RetryAfter.TotalSeconds)} s", null, null);
                }
                // A remote agent of that vantage connected here probes it; else a silo of the vantage does.
                using var timeout = new CancellationTokenSource(VantageTimeout);
                var measurementId = agents.TryRun(vantage, probe, timeout.Token) is { } onAgent
                    ? await onAgent.WaitAsync(VantageTimeout)
                    : (await cluster.GetGrain<IVantageProbeGrain>(vantage).Run(probe).WaitAsync(VantageTimeout)).MeasurementId;
                var measurement = await queries.GetAsync(measurementId, TargetScope.IncludingDns, CancellationToken.None);
                return new VantageProbeResult(vantage, StatusCodes.Status200OK, null, measurement,
                    await queries.HopsAsync(measurementId, TargetScope.IncludingDns, CancellationToken.None) ?? []);
            }
            catch (VantageUnavailableException e)
            {
                return new VantageProbeResult(vantage, StatusCodes.Status503ServiceUnavailable, e.Message, null, null);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException or OrleansMessageRejectionException or SiloUnavailableException)
            {
                return new VantageProbeResult(vantage, StatusCodes.Status504GatewayTimeout, $"no answer from {vantage}: {e.Message}", null, null);
            }
        }));
        return TypedResults.Ok(new VantageProbeResults(probe.Target, results));
    }
}


/// <summary>Body of POST /traceroute/run: with <see cref="Vantages"/> ("all" or names), one result per vantage point.</summary>
public sealed record ProbeRunRequest(string? Target, string? Method, VantageSelection? Vantages = null);

/// <summary>One vantage point's answer to an on-demand probe "from" several: 200 with the measurement, or its own error status.</summary>
public sealed record VantageProbeResult(string Vantage, int Status, string? Error, MeasurementRecord? Measurement, IReadOnlyList<HopRecord>? Hops)
{
    public ProbeResultSummary? Summary => Measurement is null ? null : ProbeResultSummary.From(Measurement, Hops ?? []);
}

/// <summary>The answer to an on-demand probe from several vantage points.</summary>
public sealed record VantageProbeResults(string Target, IReadOnlyList<VantageProbeResult> Results);
