using CyberWatch.Measurement;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CyberWatch.WebApi.Health;

/// <summary>
/// The probe engine of a silo: its scamper runs. Without scamper the silo falls back to traceroute,
/// which degrades the node rather than failing it.
/// </summary>
public sealed class ScamperHealthCheck(IClusterClient cluster) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var status = await cluster.GetGrain<IProbeEngineGrain>(0).GetStatus().WaitAsync(TimeSpan.FromSeconds(3), cancellationToken);
            var data = new Dictionary<string, object>
            {
                ["silo"] = status.Silo,
                ["restarts"] = status.ScamperRestarts,
                ["queued"] = status.Queued,
                ["running"] = status.Running,
            };
            if (status.ScamperRunning)
            {
                data["pid"] = status.ScamperProcessId ?? 0;
                return HealthCheckResult.Healthy($"scamper running on {status.Silo}", data);
            }
            return status.ScamperInstalled
                ? HealthCheckResult.Degraded($"scamper on {status.Silo} is restarting: {status.LastError}", data: data)
                : HealthCheckResult.Degraded($"scamper is not installed on {status.Silo}; probes use traceroute ({status.LastError})", data: data);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Degraded($"cannot ask a silo about scamper: {e.GetBaseException().Message}");
        }
    }
}
