using Microsoft.Extensions.Diagnostics.HealthChecks;
using Orleans.Runtime;

namespace CyberWatch.WebApi.Health;

/// <summary>At least one silo is active and answers through the gateway.</summary>
public sealed class ClusterHealthCheck(IClusterClient client) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var hosts = await client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true)
                .WaitAsync(TimeSpan.FromSeconds(3), cancellationToken);
            var active = hosts.Count(h => h.Value == SiloStatus.Active);
            var data = new Dictionary<string, object> { ["active_silos"] = active };
            return active > 0
                ? HealthCheckResult.Healthy($"{active} active silo(s)", data)
                : HealthCheckResult.Unhealthy("no active silo", data: data);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"cluster unreachable: {e.GetBaseException().Message}");
        }
    }
}
