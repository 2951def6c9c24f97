using CyberWatch.Configuration;
using CyberWatch.Measurement.Scamper;
using CyberWatch.Vantages;
using Orleans.Concurrency;

namespace CyberWatch.Measurement;

/// <summary>
/// On-demand probes from one vantage point: placed on a silo of that vantage (<see cref="VantagePlacement"/>),
/// it runs the probe through that silo's <see cref="ProbeRunner"/>. Reentrant: probes of many users run at once
/// under the silo's own limits.
/// </summary>
[VantagePlacement, Reentrant]
public sealed class VantageProbeGrain(ProbeRunner runner, CyberWatchOptions options) : Grain, IVantageProbeGrain
{
    public override Task OnActivateAsync(CancellationToken cancellationToken) =>
        this.GetPrimaryKeyString() == options.Vantage
            ? base.OnActivateAsync(cancellationToken)
            : throw new InvalidOperationException($"vantage probe grain '{this.GetPrimaryKeyString()}' activated on a silo of vantage '{options.Vantage}'");

    public Task<MeasurementSummary> Run(ProbeRequest request) => runner.RunAsync(request with { OnDemand = true }, CancellationToken.None);
}

/// <summary>This silo's probe figures for its vantage point's heartbeat.</summary>
public sealed class ProbeLoad(ProbeScheduler scheduler, ProbeRunner runner, ScamperEngine scamper, Storage.SettingsMonitor settings) : IVantageLoad
{
    public VantageLoadFigures Current => new(!scamper.Installed ? "traceroute" : scamper.Status.Running ? "scamper" : "scamper-down", scheduler.Queued, scheduler.Running,
        settings.Current.Worker.RateLimitPerMinute, runner.Finished);
}
