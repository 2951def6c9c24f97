using Microsoft.Extensions.Options;

namespace CyberWatch.Vantages;

/// <summary>
/// When a vantage point counts as down (section <c>CyberWatch:Vantages</c>). Read by every process that judges it —
/// the silos (heartbeat, Prometheus gauges) and the API (<c>GET /vantages</c>, on-demand answers) — so the silos and
/// the API of one cluster should be given the same value.
/// </summary>
public sealed class VantageOptions
{
    public const string Section = "CyberWatch:Vantages";

    /// <summary>Shortest threshold: a remote agent reports in every 5 s, and one late heartbeat must not make its vantage down.</summary>
    public const int MinimumDownAfterSeconds = 10;

    /// <summary>
    /// A prober (silo or agent) that has not reported in for this long is not answering; a vantage point without an
    /// answering prober is down (CYBERWATCH_VANTAGE_DOWN_AFTER_SECONDS).
    /// </summary>
    public int DownAfterSeconds { get; set; } = 60;

    public TimeSpan DownAfter => TimeSpan.FromSeconds(DownAfterSeconds);

    /// <summary>Shortest lease: below it a pair still waiting in a busy prober's queue would be handed out twice.</summary>
    public const int MinimumLeaseSeconds = 20;

    /// <summary>
    /// How long a due pair handed to a prober of the vantage (a silo's schedule shard, a remote agent) stays its own: a
    /// pair not measured by then — its silo died, its agent was killed with the pair in its queue — is due again and taken
    /// by whichever prober of the vantage asks next (CYBERWATCH_VANTAGE_LEASE_SECONDS). Longer than the work a prober's
    /// queue holds (two minutes at its rate) unless that rate is high; shorter means lost work comes back sooner.
    /// </summary>
    public int LeaseSeconds { get; set; } = 600;

    public TimeSpan Lease => TimeSpan.FromSeconds(LeaseSeconds);

    /// <summary>
    /// How often a silo reports in: a sixth of the threshold, at most every 10 s, so that a silo is called down only
    /// after several missed heartbeats, not because one write to PostgreSQL was slow.
    /// </summary>
    public TimeSpan HeartbeatPeriod => TimeSpan.FromSeconds(Math.Min(10, DownAfterSeconds / 6.0));

    /// <summary>Null when valid, else what is wrong, in one line.</summary>
    public string? Problem() =>
        DownAfterSeconds is < MinimumDownAfterSeconds or > 3_600
            ? $"CYBERWATCH_VANTAGE_DOWN_AFTER_SECONDS must be {MinimumDownAfterSeconds}..3600 (got {DownAfterSeconds})"
            : LeaseSeconds is < MinimumLeaseSeconds or > 86_400
                ? $"CYBERWATCH_VANTAGE_LEASE_SECONDS must be {MinimumLeaseSeconds}..86400 (got {LeaseSeconds})"
                : null;
}

/// <summary>Refuses a bad threshold at start, naming the variable.</summary>
public sealed class VantageOptionsValidation : IValidateOptions<VantageOptions>
{
    public ValidateOptionsResult Validate(string? name, VantageOptions options) =>
        options.Problem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
}
