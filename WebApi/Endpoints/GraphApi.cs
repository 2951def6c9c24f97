using System.Globalization;
using CyberWatch.Topology;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace CyberWatch.WebApi.Endpoints;

/// <summary>
/// AS graph queries, answered by the stateless <see cref="IAsGraphGrain"/> from the in-memory index of the
/// silo that serves the call, and AS details from the <see cref="IAsnGrain"/>.
/// </summary>
public static class GraphApi
{
    public const int DefaultTopologyLimit = 100;

    public static IEndpointRouteBuilder MapGraphApi(this IEndpointRouteBuilder app)
    {
        var graph = app.MapGroup("/graph").WithTags("AS graph");
        graph.MapGet("/neighbors/{asn}", NeighborsAsync)
            .WithSummary("Neighbors of an AS with the statistics of the observed edges in each direction; vantage= keeps only edges seen from that vantage point; links=direct leaves out indirect links (default all).");
        graph.MapGet("/edges/{a}/{b}", EdgeAsync)
            .WithSummary("The observed edges between two ASes (a→b as forward, b→a as backward) and their inferred business relationship read from a: p2c (a is b's provider), c2p, p2p or unknown, with its source (traces, bgp, both), confidence and basis.");
        graph.MapGet("/path", PathAsync)
            .WithSummary("Shortest AS path between two ASes over observed edges (undirected unless directed=true), with the observed AS paths through both; vantage= keeps only what that vantage point saw; links=direct leaves out indirect links and observed paths with an indirect step (default all).");
        graph.MapGet("/topology", TopologyAsync)
            .WithSummary("ASes within depth (1..3) AS hops of an AS, at most limit of them, and the edges among them; vantage= keeps only edges seen from that vantage point; links=direct leaves out indirect links (default all).");
        app.MapGet("/asn/{asn}", AsnAsync).WithTags("ASN")
            .WithSummary("What the node's measurements say about an AS (counts, first-hop RTT, first/last seen, neighbors) and, when online sources are configured, its registry and PeeringDB metadata with the source of each field.");
        return app;
    }

    public static async Task<Results<Ok<AsNeighborsAnswer>, NotFound<ProblemDetails>, ValidationProblem>> NeighborsAsync(string asn, IClusterClient cluster,
        string? vantage = null, string? links = null)
    {
        if (!TryParseAsn(asn, out var number))
        {
            return BadAsn("asn", asn);
        }
        if (!TryParseLinks(links, out var directOnly))
        {
            return BadLinks(links);
        }
        if (vantage is not null && !CyberWatch.Vantages.VantageNames.IsValid(vantage))
        {
            return TargetsApi.Problem("vantage", "vantage must be a vantage point name");
        }
        var answer = await cluster.GetGrain<IAsGraphGrain>(0).Neighbors(number, vantage, directOnly);
        return answer.Known ? TypedResults.Ok(answer) : NotInGraph(number, answer.Freshness);
    }

    public static async Task<Results<Ok<AsEdgeAnswer>, NotFound<ProblemDetails>, ValidationProblem>> EdgeAsync(string a, string b, IClusterClient cluster)
    {
        if (!TryParseAsn(a, out var first))
        {
            return BadAsn("a", a);
        }
        if (!TryParseAsn(b, out var second))
        {
            return BadAsn("b", b);
        }
        if (first == second)
        {
            return TargetsApi.Problem("b", "an AS edge joins two different ASes");
        }
        var answer = await cluster.GetGrain<IAsGraphGrain>(0).Edge(first, second);
        return answer.Known
            ? TypedResults.Ok(answer)
            : TypedResults.NotFound(new ProblemDetails
            {
                Title = "No AS edge",
                Status = StatusCodes.Status404NotFound,
                Detail = answer.Freshness.Loaded
                    ? $"no edge between AS{first} and AS{second} was observed by this node"
                    : $"no edge between AS{first} and AS{second} yet (the graph index is still loading)",
            });
    }

    public static async Task<Results<Ok<AsPathAnswer>, NotFound<ProblemDetails>, ValidationProblem>> PathAsync(IClusterClient cluster,
        [FromQuery(Name = "src_asn")] string? srcAsn = null, [FromQuery(Name = "dst_asn")] string? dstAsn = null, string? directed = null, string? vantage = null,
        string? links = null)
    {
        if (!TryParseLinks(links, out var directOnly))
        {
            return BadLinks(links);
        }
        if (vantage is not null && !CyberWatch.Vantages.VantageNames.IsValid(vantage))
        {
            return TargetsApi.Problem("vantage", "vantage must be a vantage point name");
        }
        if (!TryParseAsn(srcAsn, out var src))
        {
            return BadAsn("src_asn", srcAsn);
        }
        if (!TryParseAsn(dstAsn, out var dst))
        {
            return BadAsn("dst_asn", dstAsn);
        }
        var isDirected = false;
        if (directed is not null && !bool.TryParse(directed, out isDirected))
        {
            return TargetsApi.Problem("directed", "directed must be true or false");
        }
        var answer = await cluster.GetGrain<IAsGraphGrain>(0).Path(src, dst, isDirected, vantage, directOnly);
        if (!answer.SrcKnown)
        {
            return NotInGraph(src, answer.Freshness);
        }
        if (!answer.DstKnown)
        {
            return NotInGraph(dst, answer.Freshness);
        }
        if (answer.Path is null && answer.Observed.Count == 0)
        {
            return TypedResults.NotFound(new ProblemDetails
            {
                Title = "No AS path",
                Status = StatusCodes.Status404NotFound,
                Detail = $"no {(isDirected ? "directed " : "")}path from AS{src} to AS{dst} over the observed {(directOnly ? "direct " : "")}AS edges",
            });
        }
        return TypedResults.Ok(answer);
    }

    public static async Task<Results<Ok<AsTopologyAnswer>, NotFound<ProblemDetails>, ValidationProblem>> TopologyAsync(IClusterClient cluster,
        string? asn = null, string? depth = null, string? limit = null, string? vantage = null, string? links = null)
    {
        if (!TryParseLinks(links, out var directOnly))
        {
            return BadLinks(links);
        }
        if (vantage is not null && !CyberWatch.Vantages.VantageNames.IsValid(vantage))
        {
            return TargetsApi.Problem("vantage", "vantage must be a vantage point name");
        }
        if (!TryParseAsn(asn, out var number))
        {
            return BadAsn("asn", asn);
        }
        var depthValue = 1;
        if (depth is not null && (!int.TryParse(depth, NumberStyles.None, CultureInfo.InvariantCulture, out depthValue) || depthValue is < 1 or > AsGraphGrain.MaxDepth))
        {
            return TargetsApi.Problem("depth", $"depth must be 1..{AsGraphGrain.MaxDepth}");
        }
        var limitValue = DefaultTopologyLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out limitValue) || limitValue is < 1 or > AsGraphGrain.MaxLimit))
        {
            return TargetsApi.Problem("limit", $"limit must be 1..{AsGraphGrain.MaxLimit} (nodes)");
        }
        var answer = await cluster.GetGrain<IAsGraphGrain>(0).Topology(number, depthValue, limitValue, vantage, directOnly);
        return answer.Known ? TypedResults.Ok(answer) : NotInGraph(number, answer.Freshness);
    }

    public static async Task<Results<Ok<AsnDetails>, NotFound<ProblemDetails>, ValidationProblem>> AsnAsync(string asn, IClusterClient cluster,
        TopologyQueries topology, CancellationToken cancellationToken)
    {
        if (!TryParseAsn(asn, out var number))
        {
            return BadAsn("asn", asn);
        }
        var neighbors = await cluster.GetGrain<IAsGraphGrain>(0).Neighbors(number);
        // The AS grain asks the online sources for metadata when read: only for an AS the node has seen, so a
        // client walking the ASN space gets 404s, not a queue of outside requests and 4 billion activations.
        if (!neighbors.Known && !await topology.IsKnownAsnAsync(number, cancellationToken))
        {
            return NotInGraph(number, neighbors.Freshness);
        }
        var grain = cluster.GetGrain<IAsnGrain>(number);
        var infoTask = grain.GetInfo();
        var metadataTask = grain.GetMetadata();
        var info = await infoTask;
        var metadata = await metadataTask;
        if (!info.Seen && !neighbors.Known && metadata is null)
        {
            return NotInGraph(number, neighbors.Freshness);
        }
        return TypedResults.Ok(new AsnDetails(info, neighbors.Neighbors, neighbors.Freshness, metadata));
    }

    /// <summary>Accepts <c>64500</c>, <c>AS64500</c> or <c>as64500</c>; 0..4294967295.</summary>
    public static bool TryParseAsn(string? text, out long asn)
    {
        asn = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }
        var digits = text.Trim();
        if (digits.StartsWith("AS", StringComparison.OrdinalIgnoreCase))
        {
            digits = digits[2..];
        }
        return digits.Length is > 0 and <= 10
            && long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out asn)
            && asn <= AsEdgeKey.MaxAsn;
    }

    /// <summary><c>links=all</c> (the default) or <c>links=direct</c>, which leaves indirect links out.</summary>
    public static bool TryParseLinks(string? text, out bool directOnly)
    {
        directOnly = string.Equals(text, "direct", StringComparison.OrdinalIgnoreCase);
        return text is null || directOnly || string.Equals(text, "all", StringComparison.OrdinalIgnoreCase);
    }

    private static ValidationProblem BadLinks(string? text) =>
        TargetsApi.Problem("links", $"links must be direct or all, not '{(text is { Length: > 32 } ? text[..32] : text)}'");

    private static ValidationProblem BadAsn(string field, string? text) => TargetsApi.Problem(field, text is null or ""
        ? $"{field} is required (an ASN like 64500 or AS64500)"
        : $"'{(text.Length > 32 ? text[..32] : text)}' is not an ASN (0..4294967295, optionally prefixed AS)");

    private static NotFound<ProblemDetails> NotInGraph(long asn, AsGraphFreshness freshness) => TypedResults.NotFound(new ProblemDetails
    {
        Title = "AS not in the graph",
        Status = StatusCodes.Status404NotFound,
        Detail = freshness.Loaded
            ? $"AS{asn} is in no AS edge observed by this node"
            : $"AS{asn} is not in the graph yet (the graph index is still loading)",
    });
}

/// <summary>Body of GET /asn/{asn}; <see cref="Metadata"/> is null until the online sources answered for the AS.</summary>
public sealed record AsnDetails(AsnInfo Asn, IReadOnlyList<AsNeighbor> Neighbors, AsGraphFreshness Freshness,
    CyberWatch.Enrichment.AsnMetadata? Metadata = null);
