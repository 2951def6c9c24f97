namespace CyberWatch.Watch.Incidents;

/// <summary>One AS-path change of a target seen from one vantage point, as <c>path_changes</c> holds it.</summary>
public sealed record AsPathChange(long Id, string Target, string Vantage, DateTimeOffset At, IReadOnlyList<long> Before, IReadOnlyList<long> After,
    long MeasurementId);

/// <summary>Where two AS paths part: the last AS they share and the next AS of each (null: the path ends there).</summary>
public sealed record AsEdgeChange(long? FromAsn, long? BeforeNextAsn, long? AfterNextAsn)
{
    /// <summary>The incident's subject: <c>AS64500>AS64510 => AS64500>AS64520</c>.</summary>
    public string Subject => $"{Edge(FromAsn, BeforeNextAsn)} => {Edge(FromAsn, AfterNextAsn)}";

    private static string Edge(long? from, long? next) => $"{(from is null ? "vantage" : $"AS{from}")}>{(next is null ? "end" : $"AS{next}")}";

    /// <summary>
    /// The edge that changed: the first AS after which the paths differ. Null when they do not differ.
    /// </summary>
    public static AsEdgeChange? Between(IReadOnlyList<long> before, IReadOnlyList<long> after)
    {
        for (var i = 0; i < Math.Max(before.Count, after.Count); i++)
        {
            long? b = i < before.Count ? before[i] : null, a = i < after.Count ? after[i] : null;
            if (b != a)
            {
                return new AsEdgeChange(i == 0 ? null : before[i - 1], b, a);
            }
        }
        return null;
    }
}

/// <summary>One (target, vantage) pair of an AS-path incident: its path before the change and now.</summary>
public sealed record PathOfPair(string Target, string Vantage, IReadOnlyList<long> Before, IReadOnlyList<long> Now, DateTimeOffset ChangedAt,
    long MeasurementId)
{
    public bool Back => Before.SequenceEqual(Now);
}

/// <summary>An open AS-path incident as the rules keep it.</summary>
public sealed class OpenPathIncident
{
    public long? Id { get; set; }
    public required AsEdgeChange Edge { get; init; }
    public required DateTimeOffset OpenedAt { get; init; }
    public DateTimeOffset LastChangeAt { get; set; }
    public List<PathOfPair> Pairs { get; init; } = [];
    public DateTimeOffset? ResolvedAt { get; set; }
    /// <summary>Why it resolved: <c>back</c> (every path is as before) or <c>settled</c> (no change for the settle time).</summary>
    public string? Resolution { get; set; }
    public bool Changed { get; set; }

    public IReadOnlyList<string> Vantages => [.. Pairs.Select(p => p.Vantage).Distinct().Order(StringComparer.Ordinal)];
    public IReadOnlyList<string> Targets => [.. Pairs.Select(p => p.Target).Distinct()];
}

/// <summary>
/// AS-path incidents from path changes, a pure state machine. One incident per changed AS edge: targets
/// whose AS path changed at the same edge, from one vantage or several, are one incident that lists them
/// (a route moving shows on every target behind it, from every vantage whose path crossed it). A pair
/// already in an open incident stays in it whatever its path does next — a path that flaps inside an
/// open incident opens no other — and the incident resolves once every pair's path is back to what it
/// was, or, when a new path lasts, once no pair changed for <c>path_settle_seconds</c>.
/// </summary>
/// <remarks>
/// open_after/resolve_after do not apply: a path change is already two successful traces disagreeing,
/// and a change back is the end of it. Grouping by the edge has no window of its own: while an incident
/// of an edge is open, every change at that edge joins it (targets are traced on their own schedules, so
/// the targets of one move are seen over a whole remeasurement interval).
/// </remarks>
public sealed class PathIncidents(IEnumerable<OpenPathIncident> open)
{
    private readonly List<OpenPathIncident> open = [.. open];

    public IReadOnlyList<OpenPathIncident> Open => open;

    /// <summary>Applies one change; returns the incident it opened, joined or resolved.</summary>
    public OpenPathIncident? Apply(AsPathChange change)
    {
        var holding = open.FirstOrDefault(i => i.Pairs.Any(p => p.Target == change.Target && p.Vantage == change.Vantage));
        if (holding is not null)
        {
            var index = holding.Pairs.FindIndex(p => p.Target == change.Target && p.Vantage == change.Vantage);
            holding.Pairs[index] = holding.Pairs[index] with { Now = change.After, ChangedAt = change.At, MeasurementId = change.MeasurementId };
            holding.LastChangeAt = change.At;
            holding.Changed = true;
            if (holding.Pairs.All(p => p.Back))
            {
                Resolve(holding, change.At, "back");
            }
            return holding;
        }
        if (AsEdgeChange.Between(change.Before, change.After) is not { } edge)
        {
            return null;
        }
        var incident = open.FirstOrDefault(i => i.Edge == edge);
        if (incident is null)
        {
            incident = new OpenPathIncident { Edge = edge, OpenedAt = change.At };
            open.Add(incident);
        }
        incident.Pairs.Add(new PathOfPair(change.Target, change.Vantage, change.Before, change.After, change.At, change.MeasurementId));
        incident.LastChangeAt = change.At;
        incident.Changed = true;
        return incident;
    }

    /// <summary>Resolves the incidents none of whose paths changed for <paramref name="settle"/> before <paramref name="now"/>.</summary>
    public IReadOnlyList<OpenPathIncident> Settle(DateTimeOffset now, TimeSpan settle)
    {
        var settled = open.Where(i => now - i.LastChangeAt >= settle).ToList();
        foreach (var incident in settled)
        {
            Resolve(incident, now, "settled");
        }
        return settled;
    }

    private void Resolve(OpenPathIncident incident, DateTimeOffset at, string resolution)
    {
        incident.ResolvedAt = at;
        incident.Resolution = resolution;
        incident.Changed = true;
        open.Remove(incident);
    }
}
