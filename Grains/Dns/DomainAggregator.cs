namespace CyberWatch.Dns;

/// <summary>What one poll hands on: counts of released domains, and the domains due for resolution.</summary>
public sealed record AggregatorOutput(IReadOnlyList<DnsQueryAggregate> Aggregates, IReadOnlyList<DomainToResolve> ToResolve);

/// <summary>A domain that passed k-anonymity, with its score; <see cref="Domain"/> never leaves the collector unless the policy is plain.</summary>
public sealed record DomainToResolve(string Domain, double SuspicionScore);

/// <summary>
/// The collector's memory: per domain, the keyed hashes of the clients that asked within the window
/// (k-anonymity), hourly counts, NXDOMAIN bursts and when it was last resolved. A domain counts, and
/// its counts are handed on, only once k distinct clients asked within the window; until then its
/// counts are held here and forgotten with it. Nothing here is ever written out except through
/// <see cref="Drain"/>, which carries no client identifier.
/// </summary>
public sealed class DomainAggregator(DnsCollectorConfig config, DomainKeys domainKeys, ClientKeys clientKeys)
{
    private readonly DomainFilter filter = new(config.Filters);
    private readonly Dictionary<string, DomainState> domains = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Queue<DateTimeOffset>> nxDomains = new(StringComparer.Ordinal);
    private readonly TimeSpan window = TimeSpan.FromMinutes(config.Privacy.WindowMinutes);
    private readonly TimeSpan refresh = TimeSpan.FromSeconds(config.DnsResolution.RefreshSeconds);

    private DateTimeOffset latest = DateTimeOffset.MinValue;

    public Dictionary<DropReason, long> Dropped { get; } = [];
    public long Counted { get; private set; }
    public int TrackedDomains => domains.Count;
    public int ReleasedDomains => domains.Values.Count(d => d.Released);

    public void Observe(ObservedQuery query)
    {
        var reason = filter.Check(query, out var domain);
        if (query.Outcome == QueryOutcome.NxDomain && reason is DropReason.None or DropReason.IgnoredQtype)
        {
            var parent = SuspicionScore.Parent(domain.Length > 0 ? domain : query.Domain.ToLowerInvariant().TrimEnd('.'));
            if (!nxDomains.TryGetValue(parent, out var times))
            {
                nxDomains[parent] = times = new Queue<DateTimeOffset>();
            }
            times.Enqueue(query.Time);
        }
        if (reason != DropReason.None)
        {
            Dropped[reason] = Dropped.GetValueOrDefault(reason) + 1;
            return;
        }
        Counted++;
        if (!domains.TryGetValue(domain, out var state))
        {
            domains[domain] = state = new DomainState();
        }
        state.LastActivity = query.Time > state.LastActivity ? query.Time : state.LastActivity;
        latest = query.Time > latest ? query.Time : latest;
        state.Clients[clientKeys.KeyOf(query.Client)] = query.Time;
        if (!state.Released)
        {
            ForgetClientsBefore(state, query.Time - window);
            state.Released = state.Clients.Count >= config.Privacy.KAnonymity;
        }
        var hour = new DateTimeOffset(query.Time.UtcDateTime.Date.AddHours(query.Time.UtcDateTime.Hour), TimeSpan.Zero);
        var bucket = (query.QType.ToUpperInvariant(), hour);
        state.Pending[bucket] = state.Pending.GetValueOrDefault(bucket) + 1;
    }

    public AggregatorOutput Drain(DateTimeOffset now)
    {
        // The window ends at the newest query seen, not at now: a backlog read after an outage (or an
        // old log) is judged by its own time, not forgotten for being old.
        var horizon = (latest > DateTimeOffset.MinValue && latest < now ? latest : now) - window;
        foreach (var times in nxDomains.Values)
        {
            while (times.Count > 0 && times.Peek() < horizon)
            {
                times.Dequeue();
            }
        }
        foreach (var parent in nxDomains.Where(p => p.Value.Count == 0).Select(p => p.Key).ToList())
        {
            nxDomains.Remove(parent);
        }

        var rows = new Dictionary<(string Key, string QType, DateTimeOffset Hour), (long Count, double Score)>();
        var toResolve = new List<DomainToResolve>();
        var forget = new List<string>();
        foreach (var (domain, state) in domains)
        {
            ForgetClientsBefore(state, horizon);
            if (state.Clients.Count == 0)
            {
                forget.Add(domain); // unreleased counts are dropped with it
                continue;
            }
            if (!state.Released)
            {
                continue;
            }
            state.Score = SuspicionScore.Of(domain, nxDomains.TryGetValue(SuspicionScore.Parent(domain), out var nx) ? nx.Count : 0);
            var key = domainKeys.KeyOf(domain);
            foreach (var ((qtype, hour), count) in state.Pending)
            {
                var slot = (key, qtype, hour);
                var existing = rows.GetValueOrDefault(slot);
                rows[slot] = (existing.Count + count, Math.Max(existing.Score, state.Score));
            }
            state.Pending.Clear();
            var suspicious = state.Score >= config.Suspicion.Threshold && !config.Suspicion.ProbeSuspicious;
            if (!suspicious && (state.LastResolved is not { } last || now - last >= refresh))
            {
                state.LastResolved = now;
                toResolve.Add(new DomainToResolve(domain, state.Score));
            }
        }
        foreach (var domain in forget)
        {
            domains.Remove(domain);
        }
        if (domains.Count > config.Privacy.MaxTrackedDomains)
        {
            foreach (var (domain, _) in domains.OrderBy(d => d.Value.LastActivity).Take(domains.Count - config.Privacy.MaxTrackedDomains).ToList())
            {
                domains.Remove(domain);
            }
        }
        var aggregates = rows.Select(r => new DnsQueryAggregate(r.Key.Key, domainKeys.PolicyName, r.Key.QType, r.Key.Hour, r.Value.Count, r.Value.Score)).ToList();
        return new AggregatorOutput(aggregates, toResolve);
    }

    private static void ForgetClientsBefore(DomainState state, DateTimeOffset horizon)
    {
        List<UInt128>? old = null;
        foreach (var (client, seen) in state.Clients)
        {
            if (seen < horizon)
            {
                (old ??= []).Add(client);
            }
        }
        old?.ForEach(c => state.Clients.Remove(c));
    }

    private sealed class DomainState
    {
        public Dictionary<UInt128, DateTimeOffset> Clients { get; } = [];
        public Dictionary<(string QType, DateTimeOffset Hour), long> Pending { get; } = [];
        public bool Released { get; set; }
        public DateTimeOffset LastActivity { get; set; }
        public DateTimeOffset? LastResolved { get; set; }
        public double Score { get; set; }
    }
}
