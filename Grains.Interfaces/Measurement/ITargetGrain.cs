using Orleans.Concurrency;

namespace CyberWatch.Measurement;

/// <summary>One measurement target (key: its IP address in canonical text form), remeasured on a reminder.</summary>
public interface ITargetGrain : IGrainWithStringKey
{
    /// <summary>Adds the address as a target from <paramref name="source"/>; idempotent. A new target is probed soon.</summary>
    Task<TargetAcceptance> Accept(TargetSource source);

    /// <summary>Current knowledge of the target.</summary>
    [ReadOnly]
    Task<TargetInfo> GetInfo();

    /// <summary>
    /// The latest stored measurement of the address with its hops, or null when it was never measured.
    /// Served from memory until a newer measurement is reported; read again in the background every 10 s.
    /// </summary>
    [ReadOnly]
    Task<LatestMeasurement?> GetLatestMeasurement();

    /// <summary>Stops measuring the target and forgets it (measurements stay).</summary>
    Task Remove();

    /// <summary>Asks to probe now (on demand); refused within the per-target cooldown.</summary>
    Task<ProbePermission> RequestProbe();

    /// <summary>Reports a stored measurement of this target.</summary>
    Task OnMeasured(MeasurementSummary measurement);
}
