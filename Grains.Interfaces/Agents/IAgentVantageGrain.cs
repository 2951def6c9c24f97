using CyberWatch.Measurement;

namespace CyberWatch.Agents;

/// <summary>
/// The cluster's side of a remote agent's vantage point (key: the vantage name). An agent is no silo, so this grain
/// runs on any silo (a stateless worker, next to the API's gateway) and does there what a silo of the vantage would:
/// reports the vantage in, leases its due pairs, and stores its results through the silo's own ingest path.
/// </summary>
public interface IAgentVantageGrain : IGrainWithStringKey
{
    /// <summary>
    /// Writes the vantage's row and the agent's row (<c>vantages</c>, <c>vantage_silos</c>); on the first heartbeat of a
    /// connection every <c>all</c> target gets its pair for this vantage.
    /// </summary>
    Task Heartbeat(AgentHeartbeat heartbeat);

    /// <summary>Leases up to <paramref name="room"/> due pairs of this vantage, most overdue first, as a schedule shard does for a silo.</summary>
    Task<AgentWork> TakeWork(int room);

    /// <summary>Stores one result exactly as a silo's measurement is stored; a delivery stored before is acknowledged, not stored again.</summary>
    [ResponseTimeout("00:02:00")]
    Task<AgentDelivery> Store(AgentResult result);
}

/// <summary>What an agent tells about itself every few seconds.</summary>
[GenerateSerializer, Immutable]
public sealed record AgentHeartbeat(
    [property: Id(0)] string Agent,
    [property: Id(1)] string[] SourceAddresses,
    [property: Id(2)] string ProbeEngine,
    [property: Id(3)] int Queued,
    [property: Id(4)] int Running,
    [property: Id(5)] int RateLimitPerMinute,
    [property: Id(6)] int ProbesLastMinute,
    [property: Id(7)] DateTimeOffset StartedAt,
    [property: Id(8)] bool FirstOfConnection);

/// <summary>Due probes handed to an agent, and the settings it probes under (they apply live).</summary>
[GenerateSerializer, Immutable]
public sealed record AgentWork(
    [property: Id(0)] ProbeRequest[] Probes,
    [property: Id(1)] AgentProbeSettings Settings,
    [property: Id(2)] string? Waiting);

/// <summary>The vantage's share of <c>worker_settings</c>: how fast and how an agent probes.</summary>
[GenerateSerializer, Immutable]
public sealed record AgentProbeSettings(
    [property: Id(0)] int RateLimitPerMinute,
    [property: Id(1)] int MaxConcurrentTraceroutes,
    [property: Id(2)] double PerPrefixIntervalSeconds,
    [property: Id(3)] int PacketsPerSecond,
    [property: Id(4)] string DefaultMethod,
    [property: Id(5)] int ProbeAttempts,
    [property: Id(6)] int MaxTtl);

/// <summary>
/// One probe's outcome as the agent measured it: scamper's raw output (parsed in the cluster by the silo's parsers)
/// or why there is none. <see cref="DeliveryId"/> is the agent's id for it, the same on every delivery attempt.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record AgentResult(
    [property: Id(0)] Guid DeliveryId,
    [property: Id(1)] string Target,
    [property: Id(2)] ProbeMethod Method,
    [property: Id(3)] DateTimeOffset StartedAt,
    [property: Id(4)] DateTimeOffset? CompletedAt,
    [property: Id(5)] string? Raw,
    [property: Id(6)] string? Failure,
    [property: Id(7)] bool OnDemand);

/// <summary>A stored result: the measurement it became; <see cref="Duplicate"/> when it had been stored before.</summary>
[GenerateSerializer, Immutable]
public sealed record AgentDelivery(
    [property: Id(0)] long MeasurementId,
    [property: Id(1)] bool Duplicate,
    [property: Id(2)] MeasurementSummary? Summary);
