using Orleans.Concurrency;

namespace CyberWatch.Measurement;

/// <summary>
/// Stateless entry to this silo's <see cref="ProbeRunner"/>. As a stateless worker it is activated on
/// the caller's silo, so each target is probed by the silo hosting its grain, under that silo's limits.
/// </summary>
[StatelessWorker]
public sealed class ProbeWorkerGrain(ProbeRunner runner) : Grain, IProbeWorkerGrain
{
    public Task Submit(ProbeRequest request)
    {
        runner.Submit(request);
        return Task.CompletedTask;
    }

    public Task<MeasurementSummary> Run(ProbeRequest request) => runner.RunAsync(request, CancellationToken.None);
}
