using CyberWatch.Agents;
using CyberWatch.Storage;

namespace CyberWatch.Agent;

/// <summary>
/// The settings the agent probes under: its vantage's share of <c>worker_settings</c>, as the cluster last sent them
/// (at once after connecting, then on every change). Until the first connection: the defaults, and no work arrives.
/// </summary>
public sealed class AgentSettings : INodeSettingsSource
{
    private NodeSettings current = NodeSettings.Defaults;

    public NodeSettings Current => Volatile.Read(ref current);

    public event Action<NodeSettings>? Changed;

    public void Apply(AgentProbeSettings sent)
    {
        var next = current with
        {
            Worker = current.Worker with
            {
                RateLimitPerMinute = sent.RateLimitPerMinute,
                MaxConcurrentTraceroutes = sent.MaxConcurrentTraceroutes,
                PerPrefixIntervalSeconds = sent.PerPrefixIntervalSeconds,
                PacketsPerSecond = sent.PacketsPerSecond,
                DefaultMethod = sent.DefaultMethod,
                ProbeAttempts = sent.ProbeAttempts,
                MaxTtl = sent.MaxTtl,
            },
        };
        if (next != current)
        {
            Volatile.Write(ref current, next);
            Changed?.Invoke(next);
        }
    }
}
