using System.Net.Sockets;
using System.Threading.RateLimiting;
using DnsClient;
using Microsoft.Extensions.Http.Resilience;
using Polly;
using Polly.CircuitBreaker;
using Polly.RateLimiting;
using Polly.Retry;
using Polly.Timeout;

namespace CyberWatch.Enrichment.Online;

/// <summary>
/// How every online source is asked: retries with exponential backoff around a circuit breaker, around the
/// source's own token bucket (so retries are rate limited too), around a timeout per attempt. A source that
/// keeps failing is left alone for <see cref="BreakDuration"/>; the caller gets <see cref="BrokenCircuitException"/>.
/// </summary>
public static class OnlineResilience
{
    public static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(60);

    /// <summary>One request at a time, evenly spaced: <paramref name="perMinute"/> a minute, callers queued.</summary>
    public static TokenBucketRateLimiter RateLimiter(double perMinute) => new(new TokenBucketRateLimiterOptions
    {
        TokenLimit = 1,
        TokensPerPeriod = 1,
        ReplenishmentPeriod = TimeSpan.FromTicks(Math.Max(1, (long)(TimeSpan.TicksPerMinute / perMinute))),
        QueueLimit = 10_000,
        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        AutoReplenishment = true,
    });

    /// <summary>For the TCP whois and DNS clients.</summary>
    public static ResiliencePipeline Pipeline(RateLimiter limiter, OnlineSourceOptions options, TimeProvider? clock = null)
    {
        var handled = new PredicateBuilder()
            .Handle<SocketException>()
            .Handle<IOException>()
            .Handle<TimeoutRejectedException>()
            .Handle<DnsResponseException>();
        var builder = new ResiliencePipelineBuilder();
        if (clock is not null)
        {
            builder.TimeProvider = clock;
        }
        if (options.Retries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = handled,
                MaxRetryAttempts = options.Retries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(200),
            });
        }
        return builder
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = handled,
                FailureRatio = 0.5,
                MinimumThroughput = 4,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = BreakDuration,
            })
            .AddRateLimiter(new RateLimiterStrategyOptions { RateLimiter = args => limiter.AcquireAsync(1, args.Context.CancellationToken) })
            .AddTimeout(options.Timeout)
            .Build();
    }

    /// <summary>For the HTTP sources (PeeringDB, RIPEstat), as the client's resilience handler.</summary>
    public static void Configure(ResiliencePipelineBuilder<HttpResponseMessage> builder, RateLimiter limiter, OnlineSourceOptions options)
    {
        if (options.Retries > 0)
        {
            builder.AddRetry(new HttpRetryStrategyOptions
            {
                MaxRetryAttempts = options.Retries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(500),
                // A 429's Retry-After is obeyed.
                ShouldRetryAfterHeader = true,
            });
        }
        builder
            .AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
            {
                FailureRatio = 0.5,
                MinimumThroughput = 4,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = BreakDuration,
            })
            .AddRateLimiter(new RateLimiterStrategyOptions { RateLimiter = args => limiter.AcquireAsync(1, args.Context.CancellationToken) })
            .AddTimeout(new HttpTimeoutStrategyOptions { Timeout = options.Timeout });
    }
}
