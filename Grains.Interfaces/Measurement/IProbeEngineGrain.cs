namespace CyberWatch.Measurement;

/// <summary>State of one silo's probe engine.</summary>
[GenerateSerializer, Immutable]
public sealed record ProbeEngineStatus(
    [property: Id(0)] string Silo,
    [property: Id(1)] bool ScamperInstalled,
    [property: Id(2)] bool ScamperRunning,
    [property: Id(3)] int? ScamperProcessId,
    [property: Id(4)] int ScamperRestarts,
    [property: Id(5)] string? LastError,
    [property: Id(6)] int Queued,
    [property: Id(7)] int Running,
    [property: Id(8)] int RateLimitPerMinute,
    [property: Id(9)] int MaxConcurrent);

/// <summary>Reports the probe engine of the silo that serves the call (a stateless worker).</summary>
public interface IProbeEngineGrain : IGrainWithIntegerKey
{
    /// <summary>Scamper process, queue and limits of this silo.</summary>
    Task<ProbeEngineStatus> GetStatus();
}
