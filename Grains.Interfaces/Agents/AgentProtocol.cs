using System.Text.Json;
using System.Text.Json.Serialization;
using CyberWatch.Measurement;

namespace CyberWatch.Agents;

/// <summary>
/// The link between a remote agent and the cluster: one WebSocket the agent opens to the API (<see cref="Path"/>,
/// over TLS), JSON text messages both ways. The agent is refused before the upgrade, with an HTTP status and a one-line
/// reason in <see cref="RefusalHeader"/>, when its key, vantage or protocol version does not fit.
/// </summary>
public static class AgentProtocol
{
    /// <summary>The one version this side speaks; an agent sending another is refused naming both.</summary>
    public const int Version = 1;

    /// <summary>Where on the API the agent opens its WebSocket.</summary>
    public const string Path = "/agents/connect";

    /// <summary>The protocol version the agent speaks.</summary>
    public const string VersionHeader = "X-CyberWatch-Agent-Protocol";

    /// <summary>The vantage point the agent is (its key must be bound to it).</summary>
    public const string VantageHeader = "X-CyberWatch-Vantage";

    /// <summary>The agent's own name (several agents may serve one vantage point).</summary>
    public const string AgentHeader = "X-CyberWatch-Agent";

    /// <summary>On a refused connection: why, in one line.</summary>
    public const string RefusalHeader = "X-CyberWatch-Refusal";

    /// <summary>Close status sent when the agent's key was revoked while connected (the agent stops, it does not retry).</summary>
    public const string RevokedReason = "the agent key was revoked";

    /// <summary>camelCase, methods by their wire names.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>One message as a UTF-8 text frame.</summary>
    public static byte[] Encode(AgentMessage message) => JsonSerializer.SerializeToUtf8Bytes(message, Json);

    /// <summary>The message, or null when it is not one this version knows (malformed input is a protocol error).</summary>
    public static AgentMessage? Decode(ReadOnlySpan<byte> utf8) => JsonSerializer.Deserialize<AgentMessage>(utf8, Json);
}

/// <summary>A message of the agent link; <c>type</c> names which.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(HeartbeatMessage), "heartbeat")]
[JsonDerivedType(typeof(ResultMessage), "result")]
[JsonDerivedType(typeof(WorkMessage), "work")]
[JsonDerivedType(typeof(SettingsMessage), "settings")]
[JsonDerivedType(typeof(AckMessage), "ack")]
public abstract record AgentMessage;

/// <summary>
/// Agent → cluster, every few seconds and at once after connecting: its state and how many more probes its queue
/// takes (<see cref="Room"/>). The cluster hands out no more than that.
/// </summary>
public sealed record HeartbeatMessage(
    string[] SourceAddresses,
    string ProbeEngine,
    int Queued,
    int Running,
    int Room,
    int ProbesLastMinute,
    int Buffered,
    long Dropped,
    DateTimeOffset StartedAt) : AgentMessage;

/// <summary>Agent → cluster: one result, in the order it was measured; sent again until acknowledged.</summary>
public sealed record ResultMessage(AgentResult Result, string? RequestId) : AgentMessage;

/// <summary>A probe handed to an agent; <see cref="RequestId"/> is set for an on-demand probe somebody waits for.</summary>
public sealed record AgentProbe(string Target, ProbeMethod Method, string? RequestId);

/// <summary>Cluster → agent: probes to run (due pairs it now holds the lease of, or on-demand probes first).</summary>
public sealed record WorkMessage(AgentProbe[] Probes) : AgentMessage;

/// <summary>Cluster → agent: the settings to probe under, at once after connecting and whenever they change.</summary>
public sealed record SettingsMessage(AgentProbeSettings Settings) : AgentMessage;

/// <summary>
/// Cluster → agent: a result is settled and the agent forgets it — stored (<see cref="MeasurementId"/>, also when it
/// had been stored before) or refused for good (<see cref="Refused"/>, e.g. a target the cluster no longer allows).
/// </summary>
public sealed record AckMessage(Guid DeliveryId, long? MeasurementId, bool Duplicate, string? Refused) : AgentMessage;
