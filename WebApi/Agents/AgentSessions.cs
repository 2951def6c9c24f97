using System.Collections.Concurrent;
using CyberWatch.Measurement;
using CyberWatch.Vantages;

namespace CyberWatch.WebApi.Agents;

/// <summary>
/// The remote agents connected to this API process, by vantage point. On-demand probes "from" an agent's vantage
/// go to one of them directly: an agent has no silo for <see cref="IVantageProbeGrain"/> to be placed on.
/// </summary>
public sealed class AgentSessions
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<Guid, AgentSession>> byVantage = new(StringComparer.Ordinal);

    public void Add(AgentSession session) =>
        byVantage.GetOrAdd(session.Vantage, _ => new ConcurrentDictionary<Guid, AgentSession>())[session.Id] = session;

    public void Remove(AgentSession session)
    {
        if (byVantage.TryGetValue(session.Vantage, out var sessions))
        {
            sessions.TryRemove(session.Id, out _);
        }
    }

    public IReadOnlyList<AgentSession> Of(string vantage) =>
        byVantage.TryGetValue(vantage, out var sessions) ? [.. sessions.Values] : [];

    /// <summary>
    /// Runs <paramref name="probe"/> on an agent of <paramref name="vantage"/> connected here and returns the stored
    /// measurement's id; null when none is connected here (the caller then tries the vantage's silos).
    /// </summary>
    public Task<long>? TryRun(string vantage, ProbeRequest probe, CancellationToken cancellationToken)
    {
        var sessions = Of(vantage);
        if (sessions.Count == 0)
        {
            return null;
        }
        return sessions[Random.Shared.Next(sessions.Count)].RunOnDemandAsync(probe, cancellationToken);
    }
}
