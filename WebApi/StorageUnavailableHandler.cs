using CyberWatch.Storage;
using Microsoft.AspNetCore.Diagnostics;
using Npgsql;

namespace CyberWatch.WebApi;

/// <summary>
/// PostgreSQL down or unreachable is the node's temporary state, not a bug in the request: such a failure
/// answers 503 with Retry-After (a client or load balancer waits and tries again) instead of a 500.
/// Data PostgreSQL refuses (SQLSTATE 22, 23) and every other exception stay 500s.
/// </summary>
public sealed partial class StorageUnavailableHandler(IProblemDetailsService problems, ILogger<StorageUnavailableHandler> logger) : IExceptionHandler
{
    public const int RetryAfterSeconds = 10;

    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (Cause(exception) is not { } cause || context.Response.HasStarted)
        {
            return false;
        }
        LogUnavailable(context.Request.Path, cause.Message);
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Storage unavailable",
                Detail = $"the node cannot reach its database ({cause.Message}); try again in {RetryAfterSeconds} s",
            },
        });
    }

    /// <summary>The storage failure behind <paramref name="exception"/> (itself or an inner one), or null.</summary>
    public static Exception? Cause(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case StorageUnavailableException:
                case NpgsqlException when !RowQuarantine.RefusesData(e):
                    return e;
            }
            if (e is AggregateException { InnerExceptions.Count: > 0 } aggregate)
            {
                return aggregate.InnerExceptions.Select(Cause).FirstOrDefault(c => c is not null);
            }
        }
        return null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Path}: storage unavailable ({Error}); answered 503")]
    private partial void LogUnavailable(string path, string error);
}
