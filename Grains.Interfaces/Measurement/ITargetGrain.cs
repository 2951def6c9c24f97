using CyberWatch.Vantages;
using Orleans.Concurrency;

namespace CyberWatch.Measurement;

/// <summary>
/// One measurement target (key: its IP address in canonical text form). It owns the target's sources,
/// its vantage selection and, per vantage point, the path history that path changes are judged against.
/// When each (target, vantage) pair is due is the schedule's (the <c>target_vantages</c> table), not the grain's.
/// </summary>
public interface ITargetGrain : IGrainWithStringKey
{
    /// <summary>
    /// Adds the address as a target from <paramref name="source"/>; idempotent. A new target is measured soon
    /// from every vantage of its selection. <paramref name="vantages"/> replaces the selection when given; a new
    /// target without one is measured from every vantage. Re-offering never moves a due time.
    /// </summary>
    Task<TargetAcceptance> Accept(TargetSource source, VantageSelection? vantages = null);

    /// <summary>Current knowledge of the target, per vantage point with its schedule.</summary>
    [ReadOnly]
    Task<TargetInfo> GetInfo();

    /// <summary>
    /// The latest stored measurement of the address with its hops (from <paramref name="vantage"/>, or from any
    /// vantage when null), or null when never measured. Served from memory until a newer measurement is
    /// reported; read again in the background every 10 s.
    /// </summary>
    [ReadOnly]
    Task<LatestMeasurement?> GetLatestMeasurement(string? vantage = null);

    /// <summary>The latest stored measurement from each vantage point that measured the target, newest first (cached as above).</summary>
    [ReadOnly]
    Task<IReadOnlyList<LatestMeasurement>> GetLatestMeasurements();

    /// <summary>Stops measuring the target from every vantage and forgets it (measurements stay).</summary>
    Task Remove();

    /// <summary>Asks to probe now from <paramref name="vantage"/> (on demand); refused within that pair's cooldown.</summary>
    Task<ProbePermission> RequestProbe(string vantage);

    /// <summary>Reports a stored measurement of this target (its vantage is in the summary).</summary>
    Task OnMeasured(MeasurementSummary measurement);
}
