using CyberWatch.Dns;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CyberWatch.WebApi.Endpoints;

public static class DnsApi
{
    public const int MaxLimit = 1000;
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromDays(1);

    public static IEndpointRouteBuilder MapDnsApi(this IEndpointRouteBuilder app)
    {
        // What the network's users looked up: the dns role (or admin), never the read role a public looking glass gives everyone.
        var group = app.MapGroup("/dns").WithTags("DNS").RequireAuthorization(CyberWatch.WebApi.Access.ApiPolicies.Dns);
        group.MapGet("/top-domains", TopDomainsAsync)
            .WithSummary("Most asked domains since a time (default: the last 24 h), from dns_queries; hashed domains are shown as their HMAC.");
        group.MapGet("/top-asns", TopAsnsAsync)
            .WithSummary("Origin ASes of the addresses DNS domains resolved to since a time (default: the last 24 h), from dns_targets.");
        return app;
    }

    public static async Task<Results<Ok<IReadOnlyList<TopDomain>>, ValidationProblem>> TopDomainsAsync(DnsTables tables, TimeProvider clock,
        int limit = 20, DateTimeOffset? since = null, CancellationToken cancellationToken = default)
    {
        if (Check(limit, since, clock) is { } problem)
        {
            return problem;
        }
        return TypedResults.Ok(await tables.TopDomainsAsync(since ?? clock.GetUtcNow() - DefaultWindow, limit, cancellationToken));
    }

    public static async Task<Results<Ok<IReadOnlyList<TopAsn>>, ValidationProblem>> TopAsnsAsync(DnsTables tables, TimeProvider clock,
        int limit = 20, DateTimeOffset? since = null, CancellationToken cancellationToken = default)
    {
        if (Check(limit, since, clock) is { } problem)
        {
            return problem;
        }
        return TypedResults.Ok(await tables.TopAsnsAsync(since ?? clock.GetUtcNow() - DefaultWindow, limit, cancellationToken));
    }

    private static ValidationProblem? Check(int limit, DateTimeOffset? since, TimeProvider clock)
    {
        if (limit is < 1 or > MaxLimit)
        {
            return TargetsApi.Problem("limit", $"limit must be between 1 and {MaxLimit}");
        }
        if (since > clock.GetUtcNow())
        {
            return TargetsApi.Problem("since", "since is in the future");
        }
        return null;
    }
}
