namespace CyberWatch.Measurement;

/// <summary>Traceroute parameters; only numbers and enums, so nothing here can smuggle text onto a command line.</summary>
[GenerateSerializer, Immutable]
public sealed record TraceProbeOptions
{
    /// <summary>Largest TTL any tool can send.</summary>
    public const int MaxAllowedTtl = 255;

    /// <summary>Probe method; mtr and traceroute support only the classic ones.</summary>
    [Id(0)] public ProbeMethod Method { get; init; } = ProbeMethod.IcmpParis;

    /// <summary>Probes per TTL: scamper <c>-q</c>, traceroute <c>-q</c>, mtr <c>-c</c>. 1 to 10.</summary>
    [Id(1)] public int AttemptsPerHop { get; init; } = 2;

    /// <summary>Send every attempt even after a reply (scamper <c>-Q</c>), to see several routers at one TTL.</summary>
    [Id(2)] public bool SendAllAttempts { get; init; }

    /// <summary>Seconds to wait for a reply: scamper and traceroute <c>-w</c>, mtr <c>-G</c>. 1 to 20.</summary>
    [Id(3)] public int WaitSeconds { get; init; } = 5;

    /// <summary>First TTL probed. 1 to <see cref="MaxTtl"/>.</summary>
    [Id(4)] public int FirstTtl { get; init; } = 1;

    /// <summary>Last TTL probed. <see cref="FirstTtl"/> to 255.</summary>
    [Id(5)] public int MaxTtl { get; init; } = 30;

    /// <summary>Consecutive silent hops before giving up: scamper <c>-g</c>, mtr <c>-U</c>; traceroute has none. 1 to 255.</summary>
    [Id(6)] public int GapLimit { get; init; } = 5;

    /// <summary>Every constraint the values break, empty when they are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (!Enum.IsDefined(Method) || Method == ProbeMethod.Ping)
            problems.Add($"method {Method} is not a traceroute method");
        if (AttemptsPerHop is < 1 or > 10)
            problems.Add($"attempts per hop must be 1 to 10, not {AttemptsPerHop}");
        if (WaitSeconds is < 1 or > 20)
            problems.Add($"wait must be 1 to 20 seconds, not {WaitSeconds}");
        if (MaxTtl is < 1 or > MaxAllowedTtl)
            problems.Add($"max TTL must be 1 to {MaxAllowedTtl}, not {MaxTtl}");
        if (FirstTtl < 1 || FirstTtl > MaxTtl)
            problems.Add($"first TTL must be 1 to the max TTL ({MaxTtl}), not {FirstTtl}");
        if (GapLimit is < 1 or > MaxAllowedTtl)
            problems.Add($"gap limit must be 1 to {MaxAllowedTtl}, not {GapLimit}");
        return problems;
    }
}
