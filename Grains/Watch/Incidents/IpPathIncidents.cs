using CyberWatch.Storage;

namespace CyberWatch.Watch.Incidents;

/// <summary>
/// Where two IP paths of one target part: the last hop address they share (null: the vantage itself) and the
/// address of each at the first TTL where both answered and differ (null: the path ends there).
/// </summary>
public sealed record IpHopChange(string? From, string? Before, string? After)
{
    /// <summary>The incident's subject: <c>10.0.0.1>10.0.1.1 => 10.0.0.1>10.0.2.1</c>.</summary>
    public string Subject => $"{From ?? "vantage"}>{Before ?? "end"} => {From ?? "vantage"}>{After ?? "end"}";

    /// <summary>
    /// The hop that changed; silent TTLs (null) on either side are skipped, as the path-change detector skips them.
    /// Null when nothing differs.
    /// </summary>
    public static IpHopChange? Between(IReadOnlyList<string?> before, IReadOnlyList<string?> after)
    {
        string? from = null;
        for (var i = 0; i < Math.Min(before.Count, after.Count); i++)
        {
            if (before[i] is null || after[i] is null)
            {
                continue;
            }
            if (before[i] != after[i])
            {
                return new IpHopChange(from, before[i], after[i]);
            }
            from = before[i];
        }
        // Same hops where both answered: the change is the length — one path goes on where the other stopped.
        if (before.Count != after.Count)
        {
            string? Last(IReadOnlyList<string?> path) => path.LastOrDefault(a => a is not null);
            return before.Count > after.Count ? new IpHopChange(from, Last(before), null) : new IpHopChange(from, null, Last(after));
        }
        return null;
    }
}

/// <summary>One successful trace of a pair after its IP-path change: does it take the new hop?</summary>
public sealed record IpPathTrace(long MeasurementId, DateTimeOffset At, bool OnNewHop);

/// <summary>What the traces since a pair's IP-path change say.</summary>
public enum IpPathVerdict
{
    /// <summary>Fewer than <c>open_after</c> traces on the new hop so far, none off it.</summary>
    Pending,

    /// <summary>A trace went back off the new hop before <c>open_after</c> held it: alternation (an ECMP branch not seen before, a flap), not a change.</summary>
    Alternation,

    /// <summary>Held for <c>open_after</c> traces and not yet clear for <c>resolve_after</c>.</summary>
    Open,

    /// <summary>Opened, then off the new hop for <c>resolve_after</c> consecutive traces.</summary>
    Back,

    /// <summary>Opened and still on the new hop after <c>path_settle_seconds</c>: the new path is the new normal.</summary>
    Settled,
}

/// <summary>The verdict on one pair, with when it opened and resolved.</summary>
public sealed record IpPathEvaluation(IpPathVerdict Verdict, DateTimeOffset? OpenedAt, DateTimeOffset? ResolvedAt, long? LastMeasurementId);

/// <summary>
/// IP-path incidents, a pure function of one pair's traces since its IP-path change. The change itself is already
/// beyond the known ECMP branches (the target grain compares each hop against every address seen at that TTL), but
/// the first sight of a branch not seen before looks the same as a route change: what tells them apart is what the
/// next traces do. The change trace counts as the first on the new hop; <c>open_after</c> consecutive traces on it
/// open the incident, a trace off it before that makes the change alternation (never an incident). Once open,
/// <c>resolve_after</c> consecutive traces off the new hop resolve it (a flap back inside it starts the count again),
/// and a new hop that lasts <c>path_settle_seconds</c> settles it, like an AS-path incident.
/// </summary>
/// <remarks>
/// Recomputed from the stored traces at every pass rather than kept as state: a silo that takes over computes the
/// same verdict, and nothing is lost or opened twice by a restart.
/// </remarks>
public static class IpPathRules
{
    public static IpPathEvaluation Evaluate(IReadOnlyList<IpPathTrace> traces, IncidentSettings settings, DateTimeOffset now)
    {
        int onNew = 0, clear = 0;
        DateTimeOffset? openedAt = null;
        long? last = null;
        foreach (var trace in traces)
        {
            last = trace.MeasurementId;
            if (openedAt is null)
            {
                if (!trace.OnNewHop)
                {
                    return new IpPathEvaluation(IpPathVerdict.Alternation, null, null, last);
                }
                if (++onNew >= settings.OpenAfter)
                {
                    openedAt = trace.At;
                }
                continue;
            }
            if (trace.At - openedAt.Value >= TimeSpan.FromSeconds(settings.PathSettleSeconds) && clear == 0)
            {
                return new IpPathEvaluation(IpPathVerdict.Settled, openedAt, openedAt.Value.AddSeconds(settings.PathSettleSeconds), last);
            }
            clear = trace.OnNewHop ? 0 : clear + 1;
            if (clear >= settings.ResolveAfter)
            {
                return new IpPathEvaluation(IpPathVerdict.Back, openedAt, trace.At, last);
            }
        }
        if (openedAt is { } opened && clear == 0 && now - opened >= TimeSpan.FromSeconds(settings.PathSettleSeconds))
        {
            return new IpPathEvaluation(IpPathVerdict.Settled, openedAt, opened.AddSeconds(settings.PathSettleSeconds), last);
        }
        return new IpPathEvaluation(openedAt is null ? IpPathVerdict.Pending : IpPathVerdict.Open, openedAt, null, last);
    }
}
