using System.Diagnostics;
using CyberWatch.Configuration;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CyberWatch.WebApi.Health;

/// <summary>The scamper binary is installed and runs; without it probes fall back to traceroute.</summary>
public sealed class ScamperHealthCheck(CyberWatchOptions options) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(options.ScamperPath, "-v")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            var output = await process.StandardOutput.ReadToEndAsync(timeout.Token) + await process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            var version = output.Trim();
            return HealthCheckResult.Healthy(version.Length > 0 ? version : "scamper present");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or OperationCanceledException or InvalidOperationException)
        {
            return HealthCheckResult.Degraded($"scamper not usable at '{options.ScamperPath}': {e.Message}; probes fall back to traceroute");
        }
    }
}
