namespace CyberWatch.Dns;

/// <summary>What the resolver answered, as far as the source tells.</summary>
public enum QueryOutcome
{
    Answered,
    Blocked,
    NxDomain,
    Unknown,
}

/// <summary>
/// One query as a source reports it. Holds the client's address: it lives only inside the collector
/// process and is reduced to a keyed hash before anything is counted.
/// </summary>
public sealed record ObservedQuery(DateTimeOffset Time, string Domain, string QType, string Client, QueryOutcome Outcome);
