using CyberWatch.Measurement;
using Orleans.Concurrency;

namespace CyberWatch.Vantages;

/// <summary>
/// The probe pipeline of one vantage point (key: its name), placed on a silo of that vantage and nowhere
/// else: "probe this from there". A call while no silo of the vantage is up fails with
/// <see cref="VantageUnavailableException"/>.
/// </summary>
public interface IVantageProbeGrain : IGrainWithStringKey
{
    /// <summary>Runs a probe now from this vantage (ahead of scheduled ones) and returns the stored measurement's summary.</summary>
    [ResponseTimeout("00:03:00")]
    Task<MeasurementSummary> Run(ProbeRequest request);
}

/// <summary>No silo of the vantage point is up to place its work on.</summary>
[GenerateSerializer]
public sealed class VantageUnavailableException : Exception
{
    /// <summary>For serialization.</summary>
    public VantageUnavailableException() { }

    /// <summary>No silo of <paramref name="vantage"/> is up.</summary>
    public VantageUnavailableException(string vantage) : base($"no silo of vantage point '{vantage}' is up") => Vantage = vantage;

    /// <summary>With an inner exception.</summary>
    public VantageUnavailableException(string message, Exception inner) : base(message, inner) { }

    /// <summary>The vantage point that has no silo up.</summary>
    [Id(0)] public string Vantage { get; init; } = "";
}
