using System.Globalization;
using System.Net;
using CyberWatch.Measurement;
using CyberWatch.Storage;
using CyberWatch.Vantages;
using CyberWatch.WebApi.Access;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CyberWatch.WebApi.Endpoints;

/// <summary>A target's measurements over time: chart series, exports, and the summary of one result.</summary>
public static partial class HistoryApi
{
    public static readonly TimeSpan DefaultRange = TimeSpan.FromDays(7);
    public static readonly TimeSpan MaxExportRange = TimeSpan.FromDays(366);

    public static IEndpointRouteBuilder MapHistoryApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/targets/{ip}/series", SeriesAsync).WithTags("Targets")
            .WithSummary("A target's RTT (metric=rtt, the destination's) or hop count (metric=hops) over time, oldest first, with the path changes in the range (from/to: ISO 8601, default the last 7 days); each point and change carries its vantage point, vantage= keeps one.");
        app.MapGet("/measurements/export", ExportAsync).WithTags("Measurements")
            .WithSummary("A target's measurements in a time range as JSON Lines (format=jsonl, one measurement with its hops a line) or CSV (format=csv, one hop a row), each with its vantage point; vantage= keeps one.")
            .Produces(StatusCodes.Status200OK, contentType: "application/x-ndjson")
            .Produces(StatusCodes.Status200OK, contentType: "text/csv");
        app.MapGet("/measurements/{id:long}/summary", SummaryAsync).WithTags("Measurements")
            .WithSummary("Hop count, responding hops, loss, RTT min/avg/max, AS path and count, countries and IXPs crossed.");
        return app;
    }

    public static async Task<Results<Ok<TargetSeries>, ValidationProblem>> SeriesAsync(string ip, MeasurementHistory history, TimeProvider clock,
        HttpContext http, string? metric = null, string? from = null, string? to = null, string? vantage = null, CancellationToken cancellationToken = default)
    {
        if (!TargetAddress.TryCanonical(ip, out var canonical))
        {
            return TargetsApi.Problem("ip", $"'{Shorten(ip)}' is not an IP address");
        }
        if (metric is not ("rtt" or "hops"))
        {
            return TargetsApi.Problem("metric", "metric must be rtt or hops");
        }
        if (vantage is not null && !VantageNames.IsValid(vantage))
        {
            return TargetsApi.Problem("vantage", "vantage must be a vantage point name");
        }
        if (ParseRange(from, to, clock, DefaultRange) is not { } range)
        {
            return TargetsApi.Problem("from", "from and to must be ISO 8601 times (2026-11-30T12:00:00Z) with from before to");
        }
        var (points, changes) = await history.SeriesAsync(IPAddress.Parse(canonical), metric, vantage, range.From, range.To,
            await http.TargetScopeAsync(), cancellationToken);
        return TypedResults.Ok(new TargetSeries(canonical, metric, metric == "rtt" ? "ms" : "hops", range.From, range.To, points, changes));
    }

    public static async Task<Results<EmptyHttpResult, ValidationProblem, ProblemHttpResult>> ExportAsync(MeasurementHistory history, TimeProvider clock,
        HttpContext http, ExportSlots slots, CyberWatch.WebApi.Access.ApiAccessOptions access, string? target = null, string? from = null, string? to = null, string? format = null, string? vantage = null,
        CancellationToken cancellationToken = default)
    {
        if (!TargetAddress.TryCanonical(target, out var canonical))
        {
            return TargetsApi.Problem("target", "target must be an IP address");
        }
        format ??= "jsonl";
        if (format is not ("jsonl" or "csv"))
        {
            return TargetsApi.Problem("format", "format must be jsonl or csv");
        }
        if (vantage is not null && !VantageNames.IsValid(vantage))
        {
            return TargetsApi.Problem("vantage", "vantage must be a vantage point name");
        }
        if (ParseRange(from, to, clock, DefaultRange) is not { } range || range.To - range.From > MaxExportRange)
        {
            return TargetsApi.Problem("from", $"from and to must be ISO 8601 times with from before to, at most {MaxExportRange.TotalDays} days apart");
        }
        var scope = await http.TargetScopeAsync();
        using var slot = slots.TryEnter(ClientIdentity.Of(http));
        if (slot is null)
        {
            http.Response.Headers.RetryAfter = "5";
            return TypedResults.Problem(detail: "one export at a time per client; this client has one running",
                statusCode: StatusCodes.Status429TooManyRequests, title: "Export already running");
        }
        var timeout = TimeSpan.FromSeconds(access.ExportTimeoutSeconds);
        using var deadline = new CancellationTokenSource(timeout, clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        // A write to a client that stopped reading waits on the socket, not on a token: closing the connection is
        // what ends it and gives the PostgreSQL connection back. Before the first byte, the token stops the query.
        await using var abort = deadline.Token.Register(() =>
        {
            if (http.Response.HasStarted)
            {
                http.Abort();
            }
        });
        http.Response.ContentType = format == "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8";
        http.Response.Headers.ContentDisposition =
            $"attachment; filename=\"cyberwatch-{canonical.Replace(':', '-')}{(vantage is null ? "" : "-" + vantage)}-{range.From:yyyyMMddTHHmmss}-{range.To:yyyyMMddTHHmmss}.{format}\"";
        try
        {
            await history.ExportAsync(IPAddress.Parse(canonical), vantage, range.From, range.To, format, http.Response.Body, scope, linked.Token);
        }
        catch (Exception e) when (deadline.IsCancellationRequested && e is OperationCanceledException or IOException or Npgsql.NpgsqlException)
        {
            LogExportTimedOut(http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(HistoryApi)), canonical, access.ExportTimeoutSeconds);
            if (http.Response.HasStarted)
            {
                // Ended cleanly, a cut export would read as a complete file.
                http.Abort();
                return TypedResults.Empty;
            }
            http.Response.Headers.ContentDisposition = default;
            http.Response.Headers.RetryAfter = "60";
            return TypedResults.Problem(detail: $"the export took longer than {access.ExportTimeoutSeconds} s (CYBERWATCH_API_EXPORT_TIMEOUT_SECONDS); ask for a shorter range",
                statusCode: StatusCodes.Status503ServiceUnavailable, title: "Export timed out");
        }
        return TypedResults.Empty;
    }

    public static async Task<Results<Ok<ProbeResultSummary>, NotFound>> SummaryAsync(long id, MeasurementQueries queries, HttpContext http,
        CancellationToken cancellationToken)
    {
        var scope = await http.TargetScopeAsync();
        var measurement = await queries.GetAsync(id, scope, cancellationToken);
        if (measurement is null)
        {
            return TypedResults.NotFound();
        }
        return TypedResults.Ok(ProbeResultSummary.From(measurement, await queries.HopsAsync(id, scope, cancellationToken) ?? []));
    }

    private static (DateTimeOffset From, DateTimeOffset To)? ParseRange(string? from, string? to, TimeProvider clock, TimeSpan defaultRange)
    {
        var end = clock.GetUtcNow();
        if (to is not null && !DateTimeOffset.TryParse(to, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out end))
        {
            return null;
        }
        var start = end - defaultRange;
        if (from is not null && !DateTimeOffset.TryParse(from, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out start))
        {
            return null;
        }
        return start < end ? (start, end) : null;
    }

    private static string Shorten(string text) => text.Length > 64 ? text[..64] : text;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Export of {Target} stopped after its {Seconds} s limit (CYBERWATCH_API_EXPORT_TIMEOUT_SECONDS); the connection was closed")]
    private static partial void LogExportTimedOut(ILogger logger, string target, int seconds);
}

/// <summary>Body of GET /targets/{ip}/series.</summary>
public sealed record TargetSeries(string Target, string Metric, string Unit, DateTimeOffset From, DateTimeOffset To,
    IReadOnlyList<SeriesPoint> Points, IReadOnlyList<SeriesChange> Changes);
