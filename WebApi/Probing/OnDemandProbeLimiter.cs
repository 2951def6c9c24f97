using System.Globalization;
using System.Threading.RateLimiting;
using CyberWatch.WebApi.Access;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CyberWatch.WebApi.Probing;

/// <summary>
/// On-demand probes per client and minute (a token bucket per API key, or per address without one). A probe "from"
/// several vantage points costs one token per vantage: each of them sends its own packets. Taken in the endpoint,
/// once the request names its vantages, rather than by the rate-limiting middleware, which counts requests.
/// </summary>
public sealed class OnDemandProbeLimiter(ApiAccessOptions access) : IDisposable
{
    private readonly PartitionedRateLimiter<string> limiter = PartitionedRateLimiter.Create<string, string>(client =>
        RateLimitPartition.GetTokenBucketLimiter(client, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = Math.Max(1, access.ProbeRequestsPerMinute),
            TokensPerPeriod = Math.Max(1, access.ProbeRequestsPerMinute),
            ReplenishmentPeriod = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
        }));

    public int PerMinute => Math.Max(1, access.ProbeRequestsPerMinute);

    /// <summary>Takes one token per probe; null when taken, else the 429 answer (with Retry-After) to give.</summary>
    public ProblemHttpResult? TryTake(HttpContext http, int probes)
    {
        var retryAfter = 60;
        if (probes <= PerMinute)
        {
            using var lease = limiter.AttemptAcquire(ClientIdentity.Of(http), probes);
            if (lease.IsAcquired)
            {
                return null;
            }
            if (lease.TryGetMetadata(MetadataName.RetryAfter, out var wait))
            {
                retryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
            }
        }
        http.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
        var counted = probes > 1 ? $"; this request asks for {probes} (one per vantage point)" : "";
        return TypedResults.Problem(
            detail: $"at most {PerMinute} on-demand probes a minute per client{counted}; try again in {retryAfter} s",
            statusCode: StatusCodes.Status429TooManyRequests, title: "Probe rate limit");
    }

    public void Dispose() => limiter.Dispose();
}
