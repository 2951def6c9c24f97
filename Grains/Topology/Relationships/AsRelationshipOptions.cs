namespace CyberWatch.Topology.Relationships;

/// <summary>How often the silo recomputes AS relationships (section <c>CyberWatch:Topology:Relationships</c>).</summary>
public sealed class AsRelationshipOptions
{
    public const string Section = "CyberWatch:Topology:Relationships";

    /// <summary>
    /// Seconds between recomputations (CYBERWATCH_AS_RELATIONSHIPS_INTERVAL_SECONDS, 10..86400); a round whose
    /// inputs did not change since the last one is skipped after one small query.
    /// </summary>
    public int IntervalSeconds { get; set; } = 600;

    public TimeSpan Interval => TimeSpan.FromSeconds(IntervalSeconds);

    public string? Problem() => IntervalSeconds is < 10 or > 86_400
        ? $"CYBERWATCH_AS_RELATIONSHIPS_INTERVAL_SECONDS must be 10..86400 (got {IntervalSeconds})"
        : null;
}

/// <summary>Refuses a bad interval at start, naming the variable.</summary>
public sealed class AsRelationshipOptionsValidation : Microsoft.Extensions.Options.IValidateOptions<AsRelationshipOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, AsRelationshipOptions options) =>
        options.Problem() is { } problem
            ? Microsoft.Extensions.Options.ValidateOptionsResult.Fail(problem)
            : Microsoft.Extensions.Options.ValidateOptionsResult.Success;
}
