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

    /// <summary>
    /// How often a silo reports in: a sixth of the threshold, at most every 10 s, so that a silo is called down only
    /// after several missed heartbeats, not because one write to PostgreSQL was slow.
    /// </summary>
    public TimeSpan HeartbeatPeriod => TimeSpan.FromSeconds(Math.Min(10, DownAfterSeconds / 6.0));

    /// <summary>Null when valid, else what is wrong, in one line.</summary>
    public string? Problem() =>
        DownAfterSeconds is < MinimumDownAfterSeconds or > 3_600
            ? $"CYBERWATCH_VANTAGE_DOWN_AFTER_SECONDS must be {MinimumDownAfterSeconds}..3600 (got {DownAfterSeconds})"
            : null;
}

/// <summary>Refuses a bad threshold at start, naming the variable.</summary>
public sealed class VantageOptionsValidation : IValidateOptions<VantageOptions>
{
    public ValidateOptionsResult Validate(string? name, VantageOptions options) =>
        options.Problem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
}
