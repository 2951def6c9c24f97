namespace CyberWatch.Measurement;

/// <summary>A probe to run: the target address, how, for whom, and with which tool (scamper unless an ad-hoc MTR).</summary>
[GenerateSerializer, Immutable]
public sealed record ProbeRequest(
    [property: Id(0)] string Target,
    [property: Id(1)] ProbeMethod Method,
    [property: Id(2)] bool OnDemand,
    [property: Id(3)] ProbeTool Tool = ProbeTool.Scamper);

/// <summary>
/// Entry to the silo-local probe pipeline (queue, rate limiter, scamper, parser, storage). Stateless
/// workers, so a call is served by the caller's own silo and its rate limiter.
/// </summary>
public interface IProbeWorkerGrain : IGrainWithIntegerKey
{
    /// <summary>Queues a scheduled probe; the target grain hears of the result through <see cref="ITargetGrain.OnMeasured"/>.</summary>
    Task Submit(ProbeRequest request);

    /// <summary>Runs a probe now (ahead of scheduled ones) and returns the stored measurement's summary.</summary>
    [ResponseTimeout("00:03:00")]
    Task<MeasurementSummary> Run(ProbeRequest request);
}
