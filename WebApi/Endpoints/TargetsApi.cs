using CyberWatch.Measurement;
using CyberWatch.Storage;
using CyberWatch.Vantages;
using CyberWatch.WebApi.Access;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CyberWatch.WebApi.Endpoints;

public static class TargetsApi
{
    public const int MaxTargetsPerRequest = 10_000;

    public static IEndpointRouteBuilder MapTargetsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/targets").WithTags("Targets");
        group.MapPost("/enqueue", EnqueueAsync).RequireAuthorization(ApiPolicies.Probe)
            .WithSummary("Adds one target ({target, source}) or many ({targets: [...], source}), measured from vantages (\"all\", the default, or a list of names); idempotent.");
        group.MapPut("/{ip}", PutAsync).RequireAuthorization(ApiPolicies.Probe)
            .WithSummary("Adds a target or changes which vantage points measure it ({vantages: \"all\" | [names], source}).");
        group.MapGet("", ListAsync).WithSummary("Targets in address order, optionally filtered by source; the next page starts after= the 'next' of this one; count=true adds the total.");
        group.MapGet("/{ip}", GetAsync).WithSummary("What the node knows of one target.");
        group.MapDelete("/{ip}", DeleteAsync).RequireAuthorization(ApiPolicies.Admin).WithSummary("Stops measuring a target (its measurements stay).");
        return app;
    }

    public static async Task<Results<Ok<EnqueueResponse>, ValidationProblem>> EnqueueAsync(EnqueueRequest request,
        TargetPolicy policy, IClusterClient cluster, VantageDirectory vantages, CancellationToken cancellationToken)
    {
        if (request.Vantages is { } selection && UnknownVantages(selection, await vantages.NamesAsync(cancellationToken)) is { } unknown)
        {
            return Problem("vantages", unknown);
        }
        var inputs = new List<string?>();
        if (request.Target is not null)
        {
            inputs.Add(request.Target);
        }
        if (request.Targets is not null)
        {
            inputs.AddRange(request.Targets);
        }
        if (inputs.Count == 0)
        {
            return Problem("target", "give a target or a list of targets");
        }
        if (inputs.Count > MaxTargetsPerRequest)
        {
            return Problem("targets", $"at most {MaxTargetsPerRequest} targets per request");
        }
        var source = TargetSource.Api;
        if (request.Source is not null && !TargetSourceNames.TryParse(request.Source, out source))
        {
            return Problem("source", $"unknown source '{request.Source}'; one of: {string.Join(", ", Enum.GetValues<TargetSource>().Select(s => s.ToWire()))}");
        }
        var results = new EnqueueResult[inputs.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, inputs.Count), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, _) =>
        {
            var verdict = policy.Check(inputs[i]);
            if (!verdict.Accepted)
            {
                results[i] = new EnqueueResult(inputs[i] ?? "", false, false, verdict.Reason);
                return;
            }
            var acceptance = await cluster.GetGrain<ITargetGrain>(verdict.Address!).Accept(source, request.Vantages);
            results[i] = new EnqueueResult(verdict.Address!, acceptance.Refused is null, acceptance.Created, acceptance.Refused);
        });
        return TypedResults.Ok(new EnqueueResponse(results.Count(r => r.Accepted), results.Count(r => !r.Accepted), results));
    }

    public static async Task<Results<Ok<TargetPage>, ValidationProblem, ProblemHttpResult>> ListAsync(MeasurementQueries queries, HttpContext http,
        string? source = null, string? after = null, int limit = 100, bool count = false, int? offset = null,
        CancellationToken cancellationToken = default)
    {
        if (offset is not null)
        {
            return Problem("offset", "paging is by address: pass the 'next' of the previous page as after= (offset= is no longer taken)");
        }
        if (source is not null && !TargetSourceNames.TryParse(source, out _))
        {
            return Problem("source", $"unknown source '{source}'");
        }
        if (limit is < 1 or > 1000)
        {
            return Problem("limit", "limit must be between 1 and 1000");
        }
        System.Net.IPAddress? from = null;
        if (after is not null)
        {
            if (!TargetAddress.TryCanonical(after, out var canonical))
            {
                return Problem("after", "after must be an IP address (the 'next' of the previous page)");
            }
            from = System.Net.IPAddress.Parse(canonical);
        }
        var scope = await http.TargetScopeAsync();
        if (scope == TargetScope.Public && string.Equals(source, TargetSource.Dns.ToWire(), StringComparison.OrdinalIgnoreCase))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Not allowed for this key",
                detail: "DNS-sourced targets need a key with role dns (or admin): they tell what this network's users looked up");
        }
        var (items, total) = await queries.TargetsAsync(source?.ToLowerInvariant(), from, limit, count, scope, cancellationToken);
        return TypedResults.Ok(new TargetPage(total, limit, items.Count == limit ? items[^1].Ip : null, items));
    }

    public static async Task<Results<Ok<TargetInfo>, NotFound, ValidationProblem>> GetAsync(string ip, IClusterClient cluster,
        MeasurementQueries queries, HttpContext http, CancellationToken cancellationToken)
    {
        if (!TargetAddress.TryCanonical(ip, out var canonical))
        {
            return Problem("ip", $"'{(ip.Length > 64 ? ip[..64] : ip)}' is not an IP address");
        }
        // Any address can be asked for; only a target's grain is worth activating. A DNS-only target is answered to a
        // public reader exactly as an unknown address, so the answer does not tell that someone here looked it up.
        var scope = await http.TargetScopeAsync();
        if (!await queries.IsKnownTargetAsync(System.Net.IPAddress.Parse(canonical), orMeasured: false, scope, cancellationToken))
        {
            return TypedResults.NotFound();
        }
        var info = await cluster.GetGrain<ITargetGrain>(canonical).GetInfo();
        if (!info.Active)
        {
            return TypedResults.NotFound();
        }
        return TypedResults.Ok(scope == TargetScope.IncludingDns ? info : info.WithoutDns());
    }

    public static async Task<Results<Ok<TargetInfo>, ValidationProblem>> PutAsync(string ip, PutTargetRequest request, TargetPolicy policy,
        IClusterClient cluster, VantageDirectory vantages, HttpContext http, CancellationToken cancellationToken)
    {
        var verdict = policy.Check(ip);
        if (!verdict.Accepted)
        {
            return Problem("ip", verdict.Reason!);
        }
        var source = TargetSource.Api;
        if (request.Source is not null && !TargetSourceNames.TryParse(request.Source, out source))
        {
            return Problem("source", $"unknown source '{request.Source}'");
        }
        var selection = request.Vantages ?? VantageSelection.Everywhere;
        if (UnknownVantages(selection, await vantages.NamesAsync(cancellationToken)) is { } unknown)
        {
            return Problem("vantages", unknown);
        }
        var grain = cluster.GetGrain<ITargetGrain>(verdict.Address!);
        var acceptance = await grain.Accept(source, selection);
        if (acceptance.Refused is { } refused)
        {
            return Problem("ip", refused);
        }
        var info = await grain.GetInfo();
        return TypedResults.Ok(await http.CanSeeDnsAsync() ? info : info.WithoutDns());
    }

    /// <summary>Why a selection names vantage points the cluster does not know, or null when it names none such.</summary>
    internal static string? UnknownVantages(VantageSelection selection, IReadOnlySet<string> known)
    {
        var unknown = selection.Names.Where(name => !known.Contains(name)).ToList();
        if (unknown.Count == 0)
        {
            return null;
        }
        var shown = string.Join(", ", unknown.Take(10).Select(n => $"'{(n.Length > 64 ? n[..64] + "..." : n)}'"));
        return $"unknown vantage point{(unknown.Count > 1 ? "s" : "")} {shown}; known: {(known.Count == 0 ? "none yet" : string.Join(", ", known.Order(StringComparer.Ordinal)))}";
    }

    public static async Task<Results<NoContent, NotFound, ValidationProblem>> DeleteAsync(string ip, IClusterClient cluster)
    {
        if (!TargetAddress.TryCanonical(ip, out var canonical))
        {
            return Problem("ip", $"'{ip}' is not an IP address");
        }
        var grain = cluster.GetGrain<ITargetGrain>(canonical);
        if (!(await grain.GetInfo()).Active)
        {
            return TypedResults.NotFound();
        }
        await grain.Remove();
        return TypedResults.NoContent();
    }

    internal static ValidationProblem Problem(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, detail: message);
}

/// <summary>Body of POST /targets/enqueue: one target, a list, or both; vantages "all" (a new target's default) or a list of names.</summary>
public sealed record EnqueueRequest(string? Target, IReadOnlyList<string?>? Targets, string? Source, VantageSelection? Vantages = null);

/// <summary>Body of PUT /targets/{ip}: which vantage points measure it ("all" when absent).</summary>
public sealed record PutTargetRequest(VantageSelection? Vantages, string? Source);

public sealed record EnqueueResult(string Target, bool Accepted, bool Created, string? Reason);

public sealed record EnqueueResponse(int Accepted, int Refused, IReadOnlyList<EnqueueResult> Results);

/// <summary>
/// A page of GET /targets: <see cref="Next"/> is the after= of the next page (null on the last one); <see cref="Total"/>
/// only with count=true.
/// </summary>
public sealed record TargetPage(long? Total, int Limit, string? Next, IReadOnlyList<TargetRecord> Items);
