using CyberWatch.Vantages;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CyberWatch.WebApi.Endpoints;

public static class VantagesApi
{
    public static IEndpointRouteBuilder MapVantagesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/vantages").WithTags("Vantage points");
        group.MapGet("", ListAsync)
            .WithSummary("Every vantage point of the cluster: status (up, degraded, down), source addresses, origin ASN and prefix, silos, queue and schedule.");
        group.MapGet("/{name}", GetAsync).WithSummary("One vantage point.");
        return app;
    }

    public static async Task<Ok<IReadOnlyList<VantagePoint>>> ListAsync(VantageDirectory vantages, CancellationToken cancellationToken) =>
        TypedResults.Ok(await vantages.ListAsync(cancellationToken));

    public static async Task<Results<Ok<VantagePoint>, NotFound, ValidationProblem>> GetAsync(string name, VantageDirectory vantages,
        CancellationToken cancellationToken)
    {
        if (!VantageNames.IsValid(name))
        {
            return TargetsApi.Problem("name", "a vantage point name has letters, digits, '.', '-' and '_', at most 63");
        }
        return await vantages.GetAsync(name, cancellationToken) is { } found ? TypedResults.Ok(found) : TypedResults.NotFound();
    }
}
