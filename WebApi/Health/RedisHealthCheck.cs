using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace CyberWatch.WebApi.Health;

/// <summary>Redis carries only the DNS handoff, so its absence degrades the node rather than failing it.</summary>
public sealed class RedisHealthCheck(IConnectionMultiplexer redis) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var latency = await redis.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
            return HealthCheckResult.Healthy($"PING {latency.TotalMilliseconds:0.0} ms");
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return HealthCheckResult.Degraded($"Redis unreachable, DNS handoff paused: {e.GetBaseException().Message}");
        }
    }
}
