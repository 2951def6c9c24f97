namespace CyberWatch.Topology;

/// <summary>
/// When <see cref="TopologyCatchUp"/> replays measurements left in <c>topology_backlog</c> (section
/// <c>CyberWatch:Topology</c>).
/// </summary>
public sealed class TopologyCatchUpOptions
{
    public const string Section = "CyberWatch:Topology";

    /// <summary>
    /// A backlog row older than this was lost on its way (a crash, a full queue) and is replayed; the live
    /// recorder leaves older measurements to the catch-up, so the two do not record one twice
    /// (CYBERWATCH_TOPOLOGY_CATCH_UP_AFTER_SECONDS).
    /// </summary>
    public int CatchUpAfterSeconds { get; set; } = 60;

    /// <summary>How often the backlog is looked at (CYBERWATCH_TOPOLOGY_CATCH_UP_INTERVAL_SECONDS).</summary>
    public int CatchUpIntervalSeconds { get; set; } = 10;

    /// <summary>Measurements replayed per round; a longer backlog takes several rounds, one after the other.</summary>
    public int CatchUpBatchSize { get; set; } = 500;

    public TimeSpan CatchUpAfter => TimeSpan.FromSeconds(CatchUpAfterSeconds);

    public TimeSpan CatchUpInterval => TimeSpan.FromSeconds(CatchUpIntervalSeconds);

    /// <summary>Null when valid, else what is wrong, in one line.</summary>
    public string? Problem() =>
        CatchUpAfterSeconds is < 1 or > 86_400 ? $"CYBERWATCH_TOPOLOGY_CATCH_UP_AFTER_SECONDS must be 1..86400 (got {CatchUpAfterSeconds})"
        : CatchUpIntervalSeconds is < 1 or > 3_600 ? $"CYBERWATCH_TOPOLOGY_CATCH_UP_INTERVAL_SECONDS must be 1..3600 (got {CatchUpIntervalSeconds})"
        : CatchUpBatchSize is < 1 or > 10_000 ? $"CyberWatch:Topology:CatchUpBatchSize must be 1..10000 (got {CatchUpBatchSize})"
        : null;
}

/// <summary>Refuses bad catch-up settings at start, naming the variable.</summary>
public sealed class TopologyCatchUpOptionsValidation : Microsoft.Extensions.Options.IValidateOptions<TopologyCatchUpOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, TopologyCatchUpOptions options) =>
        options.Problem() is { } problem
            ? Microsoft.Extensions.Options.ValidateOptionsResult.Fail(problem)
            : Microsoft.Extensions.Options.ValidateOptionsResult.Success;
}
