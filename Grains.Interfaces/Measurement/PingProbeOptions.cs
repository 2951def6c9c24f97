namespace CyberWatch.Measurement;

/// <summary>Ping parameters; only numbers, so nothing here can smuggle text onto a command line.</summary>
[GenerateSerializer, Immutable]
public sealed record PingProbeOptions
{
    /// <summary>Probes to send (scamper <c>-c</c>). 1 to 100.</summary>
    [Id(0)] public int Count { get; init; } = 4;

    /// <summary>Seconds between probes (scamper <c>-i</c>). 1 to 60.</summary>
    [Id(1)] public int IntervalSeconds { get; init; } = 1;

    /// <summary>Every constraint the values break, empty when they are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Count is < 1 or > 100)
            problems.Add($"count must be 1 to 100, not {Count}");
        if (IntervalSeconds is < 1 or > 60)
            problems.Add($"interval must be 1 to 60 seconds, not {IntervalSeconds}");
        return problems;
    }
}
