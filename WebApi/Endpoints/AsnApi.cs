using CyberWatch.Enrichment;
using CyberWatch.Measurement;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CyberWatch.WebApi.Endpoints;

public static class AsnApi
{
    public static IEndpointRouteBuilder MapAsnApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/asn").WithTags("ASN");
        group.MapGet("/lookup/{ip}", LookupAsync)
            .WithSummary("Origin ASN and covering prefix of an address from the node's prefix table, or its special-address class.");
        return app;
    }

    public static async Task<Results<Ok<PrefixLookupResult>, ValidationProblem>> LookupAsync(string ip, IClusterClient cluster)
    {
        if (!TargetAddress.TryCanonical(ip, out var canonical))
        {
            return TargetsApi.Problem("ip", $"'{(ip.Length > 64 ? ip[..64] : ip)}' is not an IP address");
        }
        return TypedResults.Ok(await cluster.GetGrain<IPrefixLookupGrain>(0).Lookup(canonical));
    }
}
