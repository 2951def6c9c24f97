using CyberWatch.Measurement.Scamper;
using CyberWatch.Storage;
using Orleans.Concurrency;
using Orleans.Runtime;

namespace CyberWatch.Measurement;

[StatelessWorker]
public sealed class ProbeEngineGrain(ScamperEngine scamper, ProbeScheduler scheduler, SettingsMonitor settings, ILocalSiloDetails silo)
    : Grain, IProbeEngineGrain
{
    public Task<ProbeEngineStatus> GetStatus()
    {
        var status = scamper.Status;
        var worker = settings.Current.Worker;
        return Task.FromResult(new ProbeEngineStatus(silo.Name, scamper.Installed, status.Running, status.ProcessId, status.Restarts,
            status.LastError, scheduler.Queued, scheduler.Running, worker.RateLimitPerMinute, worker.MaxConcurrentTraceroutes));
    }
}
